"""Cost arithmetic against hand-computed cases, and the command's inputs (bench.json, overrides, bad input)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from inference.build.containers import HF_PY312
from inference.manifest import ContainerRef, HandlerInfo, Manifest, ModelInfo
from inference.report import BuildReport, Resources, write_report
from inference.tools import cost
from inference.tools.cost import US_EAST_1, estimate


def test_compute_and_data_by_hand() -> None:
    # 100,000 req/day x 30 days = 3,000,000 requests; 10 ms at 1 GB = 30,000 GB-s x $0.00002 = $0.60.
    # Data: (1 KB + 8 KB) x 3e6 = 27,000,000 KiB = 25.749... GiB x $0.016 = $0.41199...
    e = estimate("x", memory_mb=1024, duration_ms=10, requests_per_day=100_000, request_kb=1, response_kb=8)
    assert e.requests_per_month == 3_000_000
    assert e.gb_seconds == pytest.approx(30_000)
    assert e.compute_usd == pytest.approx(0.60)
    assert e.data_gb == pytest.approx(27_000_000 / 1_048_576)
    assert e.data_usd == pytest.approx(0.411987, rel=1e-5)
    assert e.total_usd == pytest.approx(0.60 + 0.411987, rel=1e-5)


def test_usual_recipe_by_hand() -> None:
    # 3072 MB = 3 GB, 150 ms: 3e6 x 0.15 s x 3 GB = 1,350,000 GB-s x $0.00002 = $27.00.
    e = estimate("usual", memory_mb=3072, duration_ms=150, requests_per_day=100_000, request_kb=0, response_kb=0)
    assert e.gb_seconds == pytest.approx(1_350_000)
    assert e.compute_usd == pytest.approx(27.0)
    assert e.data_usd == 0


def test_duration_is_billed_per_started_millisecond() -> None:
    # 2.3 ms is billed as 3 ms: 30 req/month x 0.003 s x 2 GB = 0.18 GB-s.
    e = estimate("x", memory_mb=2048, duration_ms=2.3, requests_per_day=1, request_kb=0, response_kb=0)
    assert e.billed_ms == 3
    assert e.gb_seconds == pytest.approx(0.18)
    assert estimate("x", memory_mb=2048, duration_ms=3.0, requests_per_day=1, request_kb=0,
                    response_kb=0).billed_ms == 3


def test_price_table_is_the_cited_us_east_1_rate() -> None:
    assert US_EAST_1.region == "us-east-1"
    assert US_EAST_1.compute_usd_per_gb_second == pytest.approx(0.00002)
    assert US_EAST_1.data_usd_per_gb == pytest.approx(0.016)
    assert "aws.amazon.com/sagemaker/pricing" in US_EAST_1.source


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"memory_mb": 1500}, "not a serverless tier; allowed: 1024, 2048"),
        ({"duration_ms": 0}, "positive number of milliseconds"),
        ({"duration_ms": float("nan")}, "positive number of milliseconds"),
        ({"requests_per_day": -1}, "requests-per-day must be >= 0"),
        ({"request_kb": -1}, "payload sizes must be >= 0"),
    ],
)
def test_bad_inputs_name_what_is_allowed(kwargs, message) -> None:
    args = {"memory_mb": 1024, "duration_ms": 5, "requests_per_day": 10, "request_kb": 1, "response_kb": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        estimate("x", **args)


def _bench(tmp_path: Path) -> Path:
    bench = {
        "machine": {"cpu": "Test CPU"},
        "variants": {
            "onnx-int8": {"label": "onnx-int8 handler", "peak_rss_mb": 180.0, "batches": {"1": {"p50_ms": 4.2}}},
            "hf-pipeline": {"label": "HF pipeline", "peak_rss_mb": 900.0, "batches": {"1": {"p50_ms": 21.0}}},
        },
    }
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench))
    return path


def _args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cost.add_arguments(parser)
    argv = []
    for k, v in kw.items():
        flag = "--" + k.replace("_", "-")
        argv += [flag] if v is True else [flag, str(v)]
    return parser.parse_args(argv)


def test_command_prices_ours_at_the_smallest_fitting_tier_next_to_the_usual_recipe(tmp_path, capsys) -> None:
    rc = cost.run(_args(bench=_bench(tmp_path), requests_per_day=100_000, payload_kb=1, response_kb=8, json=True))
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    ours, usual = out["estimates"]
    # 180 MB peak + 512 MB serving overhead fits 1024 MB; 4.2 ms billed as 5 ms: 3e6 x 0.005 x 1 x 2e-5 = $0.30.
    assert ours["memory_mb"] == 1024
    assert ours["compute_usd"] == pytest.approx(0.30)
    # Usual recipe: 3072 MB, 21 ms: 3e6 x 0.021 x 3 x 2e-5 = $3.78.
    assert usual["memory_mb"] == 3072
    assert usual["compute_usd"] == pytest.approx(3.78)
    assert ours["data_usd"] == pytest.approx(usual["data_usd"])


def test_table_output_cites_prices_and_warns_about_vcpu(tmp_path, capsys) -> None:
    assert cost.run(_args(bench=_bench(tmp_path), requests_per_day=1000)) == 0
    out = capsys.readouterr().out
    assert "aws.amazon.com/sagemaker/pricing" in out
    assert US_EAST_1.as_of in out
    assert "serverless vCPUs differ" in out
    assert "usual recipe" in out


def test_memory_override_and_duration_override(tmp_path, capsys) -> None:
    rc = cost.run(_args(bench=_bench(tmp_path), requests_per_day=1000, memory=2048, duration_ms=10,
                        usual_duration_ms=40, json=True))
    assert rc == 0
    ours, usual = json.loads(capsys.readouterr().out)["estimates"]
    assert (ours["memory_mb"], ours["duration_ms"]) == (2048, 10)
    assert usual["duration_ms"] == 40
    # 30,000 req x 0.010 s x 2 GB = 600 GB-s.
    assert ours["gb_seconds"] == pytest.approx(600)


def test_unknown_variant_and_missing_bench_are_clear_errors(tmp_path, capsys) -> None:
    assert cost.run(_args(bench=_bench(tmp_path), requests_per_day=10, variant="nope")) == 2
    assert "no variant 'nope'; it has: hf-pipeline, onnx-int8" in capsys.readouterr().err
    assert cost.run(_args(bench=tmp_path / "missing.json", requests_per_day=10)) == 2
    assert "run `python -m inference bench`" in capsys.readouterr().err


def test_artifact_is_measured_here_and_sized_from_its_manifest(tmp_path, capsys, monkeypatch) -> None:
    from inference.build.artifact import pack, write_manifest

    root = tmp_path / "m"
    (root / "code").mkdir(parents=True)
    (root / "code" / "inference.py").write_text(
        "import json\n"
        "def model_fn(d):\n    return None\n"
        "def input_fn(b, ct):\n    return json.loads(b)['inputs']\n"
        "def predict_fn(x, m):\n    return [len(x)]\n"
        "def output_fn(p, a):\n    return json.dumps(p)\n"
    )
    write_manifest(root, Manifest(framework="test", container=ContainerRef(**HF_PY312.as_dict()), runtime="onnx-int8",
                                  handler=HandlerInfo(), model=ModelInfo(file="none")))
    tar = tmp_path / "model.tar.gz"
    sha = pack(root, tar)
    write_report(tar, BuildReport(artifact_sha256=sha, size_bytes=1, framework="test", runtime="onnx-int8",
                                  container=HF_PY312.as_dict(), determined_by={},
                                  resources=Resources(peak_rss_mb=1600)))
    monkeypatch.setattr(cost, "DEFAULT_BENCH", tmp_path / "no-bench.json")  # no bench results: ours only
    assert cost.run(_args(artifact=tar, requests_per_day=10, json=True)) == 0
    (ours,) = json.loads(capsys.readouterr().out)["estimates"]
    assert ours["memory_mb"] == 3072  # 1600 MB + 512 MB overhead -> the 3072 MB tier
    assert ours["duration_ms"] > 0
    assert "onnx-int8" in ours["label"]
