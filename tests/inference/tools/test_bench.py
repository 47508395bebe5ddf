"""The benchmark: timing arithmetic, target evaluation, report rendering, and a quick end-to-end run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference.tools.bench import (
    batch_of,
    bench_texts,
    evaluate_targets,
    interleave,
    load_gauge,
    ratio_lines,
    render_markdown,
    round_ratios,
    summarize,
)

ROOT = Path(__file__).resolve().parents[3]


def test_batches_wrap_around_the_corpus_and_statistics_are_consistent() -> None:
    texts = [f"t{i}" for i in range(10)]
    assert batch_of(texts, 4, 0) == ["t0", "t1", "t2", "t3"]
    assert batch_of(texts, 4, 2) == ["t8", "t9", "t0", "t1"]
    stats = summarize([0.010, 0.020, 0.030, 0.040], 8)
    assert stats["n_calls"] == 4
    assert stats["mean_ms"] == pytest.approx(25.0)
    assert stats["p50_ms"] == pytest.approx(25.0)
    assert stats["p95_ms"] == pytest.approx(40.0)
    assert stats["texts_per_s"] == pytest.approx(8 * 4 / 0.100)  # 32 texts in 0.1 s


class FakeRunner:
    """Records the order of calls; every call 'takes' a fixed time."""

    def __init__(self, name: str, per_call: float, log: list[tuple[str, str, int]]):
        self.name, self.per_call, self.log = name, per_call, log

    def run(self, key: str, n: int) -> list[float]:
        self.log.append((self.name, key, n))
        return [self.per_call] * n


def test_interleave_alternates_variants_in_rounds_after_warm_up() -> None:
    log: list[tuple[str, str, int]] = []
    runners = {"a": FakeRunner("a", 0.01, log), "b": FakeRunner("b", 0.1, log)}
    out = interleave(runners, [1, 8], rounds=3, slice_s=0.2, min_calls=6, warmup=2)
    batch1 = [entry for entry in log if entry[1] == "1"]
    # warm-up of each, then a b a b a b; slice 0.2 s = 20 calls of a, but at least ceil(6/3) = 2 calls of b.
    assert batch1 == [("a", "1", 2), ("b", "1", 2)] + [("a", "1", 20), ("b", "1", 2)] * 3
    assert len(out["a"]["1"]) == 60 and len(out["b"]["1"]) == 6  # warm-up calls are not kept
    assert set(out["a"]) == {"1", "8"}
    assert log.index(("a", "8", 2)) > log.index(("b", "1", 2), 2)  # batch sizes one after the other


class SteppedRunner(FakeRunner):
    """A runner whose calls take longer from one slice to the next (a machine getting busier)."""

    def run(self, key: str, n: int) -> list[float]:
        self.log.append((self.name, key, n))
        return [self.per_call * len(self.log)] * n


def test_interleave_reports_each_slice_and_round_ratios_pair_the_same_round() -> None:
    runners = {"reference": FakeRunner("reference", 0.012, []), "onnx-int8": SteppedRunner("onnx-int8", 0.001, [])}
    per_round: dict[str, dict[str, list[float]]] = {}
    interleave(runners, [1], rounds=4, slice_s=0.05, min_calls=4, warmup=1, per_round=per_round)
    assert per_round["reference"]["1"] == pytest.approx([0.012] * 4)
    assert per_round["onnx-int8"]["1"] == pytest.approx([0.002, 0.003, 0.004, 0.005])  # log[0] was the warm-up
    spread = round_ratios(per_round)["onnx-int8"]["1"]
    assert spread["rounds"] == 4
    assert spread["max"] == pytest.approx(6.0) and spread["min"] == pytest.approx(2.4)
    assert spread["median"] == pytest.approx((4.0 + 3.0) / 2)
    assert "reference" not in round_ratios(per_round)


class ClockRunner(FakeRunner):
    """Records when each slice starts and ends (real time)."""

    def __init__(self, name: str, spans: list[tuple[float, float]]):
        super().__init__(name, 0.001, [])
        self.spans = spans

    def run(self, key: str, n: int) -> list[float]:
        start = time.perf_counter()
        time.sleep(0.002)
        self.spans.append((start, time.perf_counter()))
        return [self.per_call] * n


def test_interleave_leaves_the_machine_idle_before_every_slice() -> None:
    spans: list[tuple[float, float]] = []
    runners = {"a": ClockRunner("a", spans), "b": ClockRunner("b", spans)}
    interleave(runners, [1], rounds=3, slice_s=0.001, min_calls=3, warmup=1, settle_s=0.03)
    timed = spans[2:]  # after the two warm-up calls
    assert len(timed) == 6
    gaps = [nxt[0] - prev[1] for prev, nxt in zip(spans[1:], timed, strict=False)]
    assert min(gaps) >= 0.03  # a slice never starts while the previous variant may still be spinning


class DyingRunner(FakeRunner):
    def run(self, key: str, n: int) -> list[float]:
        if len(self.log) >= 3:
            raise ConnectionError("server went away")
        return super().run(key, n)


def test_interleave_drops_a_failing_runner_and_reports_it() -> None:
    log: list[tuple[str, str, int]] = []
    runners = {"ok": FakeRunner("ok", 0.01, []), "dies": DyingRunner("dies", 0.01, log)}
    failures: dict[str, str] = {}
    out = interleave(runners, [1, 8], rounds=3, slice_s=0.05, min_calls=3, warmup=1, failures=failures)
    assert set(out) == {"ok"}
    assert set(out["ok"]) == {"1", "8"} and all(out["ok"].values())
    assert "ConnectionError" in failures["dies"] and "server went away" in failures["dies"]


def test_bench_texts_are_deterministic_and_varied() -> None:
    a, b = bench_texts(200), bench_texts(200)
    assert a == b and len(a) == 200
    assert any(not t.isascii() for t in a)  # non-English / emoji
    assert any("def " in t for t in a)  # code
    lengths = sorted(len(t.split()) for t in a)
    assert lengths[0] < 10 and lengths[-1] > 30  # short and long


def _variant(tps1: float, tps32: float, **extra) -> dict:
    return {"label": "x", "artifact_bytes": extra.pop("artifact_bytes", 90_000_000),
            "batches": {"1": {"texts_per_s": tps1, "p50_ms": 1000 / tps1, "p95_ms": 1000 / tps1},
                        "32": {"texts_per_s": tps32, "p50_ms": 32000 / tps32, "p95_ms": 32000 / tps32}},
            **extra}


def test_targets_compare_ratios_from_the_same_run() -> None:
    variants = {
        "reference": _variant(100, 400, cold_load_s=5.0, peak_rss_mb=600),
        # 6x at batch 1 (PASS), 2x at batch 32 (MISS), 0.3 s (PASS), 300 MB (MISS), 20 MB (PASS)
        "onnx-int8": _variant(600, 800, cold_load_s=0.3, peak_rss_mb=300, artifact_bytes=20_000_000),
    }
    targets = {t["key"]: t for t in evaluate_targets(variants, {"onnx-int8": 1.5})}
    assert targets["speedup_b1"]["value"] == pytest.approx(6.0)
    assert targets["speedup_b1"]["status"] == "PASS"
    assert targets["speedup_b32"]["value"] == pytest.approx(2.0)
    assert targets["speedup_b32"]["status"] == "MISS"
    assert targets["cold_load"]["status"] == "PASS"
    assert targets["peak_rss"]["status"] == "MISS"
    assert targets["artifact"]["value"] == pytest.approx(20.0)
    assert targets["artifact"]["status"] == "PASS"
    assert targets["http_overhead"]["status"] == "MISS"


def test_targets_are_not_applicable_without_the_figures() -> None:
    targets = evaluate_targets({"reference": _variant(100, 400)}, {})
    assert {t["status"] for t in targets} == {"N/A"}


def test_load_gauge_is_two_threads_lead_over_one_at_batch_1_with_the_reference_p50() -> None:
    variants = {"reference": _variant(80, 100), "onnx-int8": _variant(400, 500),
                "onnx-int8-1thread": _variant(320, 480)}
    gauge = load_gauge(variants)
    assert gauge == {"two_vs_one_thread": pytest.approx(1.25), "reference_p50_ms": pytest.approx(12.5)}
    result = {"targets": evaluate_targets(variants, {}), "load_gauge": gauge,
              "machine": {"cpu": "AMD EPYC 9R14 96-Core Processor"}}
    line = ratio_lines(result)[-1]
    assert line.startswith("Load gauge: at batch 1 two threads led one by 1.25x in this run (1.3-1.4x on a quiet")
    assert "reference batch-1 p50 12.50 ms" in line
    # the quiet figure is the CPU's own: another CPU gets none rather than the EPYC's
    result["machine"]["cpu"] = "Intel(R) Xeon(R) Processor"
    line = ratio_lines(result)[-1]
    assert "1.3-1.4x" not in line and "no quiet-machine figure for this CPU" in line
    assert line in render_markdown({**result, "date": "2026-12-01T00:00:00+00:00", "variants": variants,
                                    "config": {"batch_sizes": [1], "quick": False, "timing": {"rounds": 1}},
                                    "http_overhead_ms": {}, "machine": {**result["machine"], "cores": 2,
                                    "python": "3.12", "platform": "Linux", "packages": {}, "load_average": [0, 0, 0]},
                                    "load_average_end": [0, 0, 0]})
    del variants["onnx-int8-1thread"]  # a 1-CPU machine runs no one-thread variant: no gauge, no line
    assert load_gauge(variants) is None
    assert not any(line.startswith("Load gauge") for line in ratio_lines({"targets": [], "load_gauge": None}))


def test_markdown_has_one_row_per_variant_and_batch_and_the_machine() -> None:
    result = {
        "date": "2026-01-01T00:00:00+00:00",
        "machine": {"cpu": "Test CPU 9000", "cores": 2, "python": "3.11.7", "platform": "Linux",
                    "packages": {"torch": "2.13.0"}, "load_average": [0.5, 0.5, 0.5]},
        "config": {"batch_sizes": [1, 32], "quick": False, "timing": {"rounds": 5}},
        "variants": {"reference": _variant(100, 400), "onnx-int8": _variant(600, 800, cold_load_s=0.3,
                                                                            peak_rss_mb=200)},
        "http_overhead_ms": {"onnx-int8": 0.4},
        "load_average_end": [0.7, 0.5, 0.5],
    }
    result["targets"] = evaluate_targets(result["variants"], result["http_overhead_ms"])
    md = render_markdown(result)
    rows = [line for line in md.splitlines() if line.startswith("| reference |") or line.startswith("| onnx-int8 |")]
    assert len(rows) == 4
    assert "| onnx-int8 | 1 | 600.0 |" in md
    assert "6.00×" in md  # 600 / 100 texts/s at batch 1
    assert "Test CPU 9000" in md and "torch 2.13.0" in md
    assert "onnx-int8 0.40 ms" in md
    assert "Round by round" not in md  # no per-round figures, no line about them
    assert "Load gauge" not in md  # no one-thread variant, no gauge
    result["load_gauge"] = {"two_vs_one_thread": 1.1, "reference_p50_ms": 14.0}
    assert "two threads led one by 1.10x in this run" in render_markdown(result)
    result["round_ratios"] = {"onnx-int8": {"1": {"median": 5.5, "min": 3.9, "max": 6.6, "rounds": 20}}}
    assert "onnx-int8 (reference slice mean ÷ its slice mean" in render_markdown(result)
    assert "batch 1: median 5.50×, 3.90–6.60× over 20 rounds" in render_markdown(result)


@pytest.mark.slow
def test_quick_end_to_end_run_writes_consistent_outputs(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "inference", "bench", "--quick", "--batch-sizes", "1", "2", "--runtimes", "onnx-int8",
         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "bench.json").read_text())
    one_thread = {"onnx-int8-1thread"} if (os.cpu_count() or 1) > 1 else set()  # one CPU: it would be onnx-int8
    assert set(result["variants"]) == {"reference", "hf-pipeline", "onnx-int8", "onnx-int8-http"} | one_thread
    for key, v in result["variants"].items():
        assert set(v["batches"]) == {"1", "2"}, key
        for b, s in v["batches"].items():
            assert s["n_calls"] >= 3
            assert 0 < s["p50_ms"] <= s["p95_ms"], (key, b)
            assert s["texts_per_s"] == pytest.approx(int(b) * 1000 / s["mean_ms"]), (key, b)
        assert v["artifact_bytes"] > 0
    variants = result["variants"]
    for key in one_thread:
        assert variants[key]["artifact_bytes"] == variants["onnx-int8"]["artifact_bytes"]
    for key in ("reference", "hf-pipeline", "onnx-int8"):
        v = result["variants"][key]
        assert v["cold_load_s"] > 0 and v["peak_rss_mb"] > 0, key
    tar_size = result["variants"]["onnx-int8"]["artifact_bytes"]
    assert result["variants"]["onnx-int8-http"]["artifact_bytes"] == tar_size
    overhead = result["http_overhead_ms"]["onnx-int8"]  # per request: round trip - the server's handler time
    assert 0 < overhead < result["variants"]["onnx-int8-http"]["batches"]["1"]["p50_ms"]
    assert {t["status"] for t in result["targets"]} <= {"PASS", "MISS", "N/A"}
    assert set(result["round_ratios"]) == {"hf-pipeline", "onnx-int8", "onnx-int8-http"} | one_thread
    assert result["round_ratios"]["onnx-int8"]["1"]["rounds"] == result["config"]["timing"]["rounds"]
    md = (out / "BENCHMARK.md").read_text()
    assert md.count("| onnx-int8-http |") == 2
    assert result["machine"]["cpu"] in md
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "onnx-int8 texts/s vs reference at batch 1" in proc.stdout  # ratio report lines
    if one_thread:
        gauge = result["load_gauge"]
        assert gauge["two_vs_one_thread"] == pytest.approx(
            variants["onnx-int8"]["batches"]["1"]["texts_per_s"] / variants["onnx-int8-1thread"]["batches"]["1"][
                "texts_per_s"])
        assert "Load gauge:" in md and "Load gauge:" in proc.stdout


def test_the_matrix_table_has_a_row_per_model_with_tier_speed_and_gate() -> None:
    from inference.tools.matrix import render_matrix

    row = {"model": "all-mpnet-base-v2", "weights": "tiny stand-in (4 layers, hidden 64)", "dimensions": 768,
           "runtime": "onnx-int8", "artifact_mb": 12.34, "peak_rss_mb": 150.2, "tier_mb": 1024, "seed_tier_mb": 6144,
           "speedup_b1": 3.1, "speedup_b32": 2.05,
           "quality": {"mean_cosine": 0.999, "min_cosine": 0.9912, "topk_overlap": 0.97, "passed": True}}
    table = render_matrix([row, {**row, "model": "x", "quality": {**row["quality"], "passed": False}}])
    lines = table.splitlines()
    assert len(lines) == 4 and lines[0].startswith("| model |")
    assert lines[2] == ("| all-mpnet-base-v2 | tiny stand-in (4 layers, hidden 64) | 768 | onnx-int8 | 12.3 | 150 | "
                        "1024 MB | 6144 MB | 3.10x / 2.05x | 0.9990 / 0.9912, 0.970 (pass) |")
    assert lines[3].endswith("(FAIL) |")
