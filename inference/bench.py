"""`python -m inference bench`: the embedding runtimes side by side, in one run on this machine.

Why: issue 3's targets are ratios (onnx-int8 vs the sentence-transformers reference, cold load, peak RSS,
artifact size, HTTP overhead), and ratios only mean something when every variant runs on the same machine in
the same run. Variants:

- reference     sentence-transformers `encode` (what the quality gate compares against);
- hf-pipeline   transformers.pipeline("feature-extraction") called as the HF toolkit calls it for
                HF_TASK=feature-extraction (one call with the request's inputs, token-level lists out);
- <runtime>     our artifact's handler in-process after model_fn (input_fn/predict_fn/output_fn, JSON in/out);
- <runtime>-http  the same artifact behind `python -m inference serve` (a subprocess), over HTTP.

Cold load (imports + model load) and peak RSS are measured in a fresh process for every variant (measure.py
for artifacts), so no variant benefits from modules another one imported. Targets are reported as PASS/MISS
lines, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inference.measure import _PEAK_RSS

ROOT = Path(__file__).resolve().parent.parent
RUNTIMES = ("torch", "onnx", "onnx-int8")
PACKAGES = ("torch", "transformers", "sentence-transformers", "onnxruntime", "onnx", "tokenizers", "numpy",
            "starlette", "uvicorn")
SCHEMA = 1

# Issue 3's targets, as (key, description, threshold, unit, higher_is_better).
TARGETS = (
    ("speedup_b1", "onnx-int8 texts/s vs reference at batch 1", 5.0, "x", True),
    ("speedup_b32", "onnx-int8 texts/s vs reference at batch 32", 2.5, "x", True),
    ("cold_load", "onnx-int8 cold load (imports + model_fn)", 0.5, "s", False),
    ("peak_rss", "onnx-int8 peak RSS", 256.0, "MB", False),
    ("artifact", "onnx-int8 artifact size", 25.0, "MB", False),
    ("http_overhead", "local HTTP overhead at batch 1 (onnx-int8)", 1.0, "ms", False),
)

_WORDS = (
    "serverless endpoint memory tier cold start embedding vector sentence model latency throughput billing "
    "container artifact manifest tokenizer quantized runtime request response batch cosine neighbour corpus "
    "weather market river mountain coffee morning library garden bicycle window music winter harbour"
).split()
_EXTRA = [
    "Le chat dort sur le canapé depuis ce matin.", "Der Zug nach Berlin hat zehn Minuten Verspätung.",
    "東京の天気は明日晴れるでしょう。", "def add(a, b):\n    return a + b", "Order #4521 shipped 3 items for $129.99",
    "Great job team 🎉🚀", "¿Dónde está la estación de tren más cercana?",
]


def bench_texts(n: int = 512, seed: int = 7) -> list[str]:
    """Deterministic, varied texts (short and long sentences, numbers, code, non-English, emoji), no network."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 9 == 0:
            out.append(_EXTRA[(i // 9) % len(_EXTRA)])
            continue
        words = rng.choices(_WORDS, k=rng.choice((4, 8, 12, 20, 40)))
        out.append(" ".join(words).capitalize() + f" ({rng.randint(1, 9999)}).")
    return out


# --------------------------------------------------------------------------------------------- timing
def batch_of(texts: list[str], batch: int, i: int) -> list[str]:
    """The i-th batch of `batch` texts, wrapping around the corpus."""
    start = (i * batch) % len(texts)
    return (texts[start:] + texts[:batch])[:batch]


def summarize(latencies_s: list[float], batch: int) -> dict[str, float]:
    """Throughput and latency percentiles of calls that each processed `batch` texts."""
    lat_ms = sorted(x * 1000 for x in latencies_s)
    return {
        "n_calls": len(lat_ms),
        "texts_per_s": batch * len(lat_ms) / (sum(lat_ms) / 1000),
        "mean_ms": statistics.fmean(lat_ms),
        "p50_ms": statistics.median(lat_ms),
        "p95_ms": lat_ms[min(len(lat_ms) - 1, max(0, round(0.95 * len(lat_ms)) - 1))],
    }


def time_calls(call: Callable[[list[str]], Any], texts: list[str], batch: int, *, min_calls: int,
               budget_s: float, warmup: int = 2) -> dict[str, float]:
    """Latency of `call(batch texts)` repeated until both min_calls and budget_s are reached."""
    for i in range(warmup):
        call(batch_of(texts, batch, i))
    lat: list[float] = []
    t_start = time.perf_counter()
    i = warmup
    while len(lat) < min_calls or time.perf_counter() - t_start < budget_s:
        t0 = time.perf_counter()
        call(batch_of(texts, batch, i))
        lat.append(time.perf_counter() - t0)
        i += 1
    return summarize(lat, batch)


# ----------------------------------------------------------------------------------- cold load (fresh process)
_COLD_CHILD = _PEAK_RSS + r"""
import json, sys, time
kind, model, texts_file = sys.argv[1:4]
texts = json.load(open(texts_file))
t0 = time.perf_counter()
if kind == "reference":
    from sentence_transformers import SentenceTransformer
    m = SentenceTransformer(model, device="cpu")
    t1 = time.perf_counter()
    m.encode(texts, batch_size=len(texts), normalize_embeddings=True)
else:
    from transformers import pipeline
    p = pipeline("feature-extraction", model=model, device="cpu")
    t1 = time.perf_counter()
    p(texts)
t2 = time.perf_counter()
print(json.dumps({"cold_load_s": t1 - t0, "first_request_s": t2 - t1, "peak_rss_mb": peak_rss_mb()}))
"""


def cold_load_library(kind: str, model: Path, texts: list[str]) -> dict[str, float]:
    """Cold load and peak RSS of the reference or the HF pipeline in a fresh interpreter."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(texts, f)
        f.flush()
        proc = subprocess.run([sys.executable, "-c", _COLD_CHILD, kind, str(model), f.name], capture_output=True,
                              text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"cold-load measurement of {kind} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.name.startswith("."))


# --------------------------------------------------------------------------------------------- variants
def bench_reference(model: Path, texts: list[str], batches: list[int], timing: dict[str, Any]) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    m = SentenceTransformer(str(model), device="cpu")
    res = {str(b): time_calls(lambda t, b=b: m.encode(t, batch_size=b, normalize_embeddings=True), texts, b,
                              **timing) for b in batches}
    return {"label": "sentence-transformers encode (reference)", "kind": "reference", "batches": res,
            "artifact_bytes": _dir_bytes(model)}


def bench_hf_pipeline(model: Path, texts: list[str], batches: list[int], timing: dict[str, Any]) -> dict[str, Any]:
    from transformers import pipeline

    pipe = pipeline("feature-extraction", model=str(model), device="cpu")
    # The HF toolkit calls the pipeline once with the request's inputs and no batch_size (so one text at a time).
    res = {str(b): time_calls(lambda t: pipe(t), texts, b, **timing) for b in batches}
    return {"label": "HF pipeline feature-extraction (usual recipe's handler)", "kind": "pipeline",
            "batches": res, "artifact_bytes": _dir_bytes(model)}


def _request(texts: list[str]) -> bytes:
    return json.dumps({"inputs": texts}).encode()


def bench_handler(runtime: str, model_dir: Path, tar: Path, texts: list[str], batches: list[int],
                  timing: dict[str, Any], python: str | None) -> dict[str, Any]:
    """Warm handler latencies in a fresh process of the Python that serves the artifact (its image's)."""
    from inference.measure import time_handler

    n_bodies = max(1, min(16, len(texts) // max(batches)))
    groups = {str(b): [_request(batch_of(texts, b, i)) for i in range(n_bodies)] for b in batches}
    timed = time_handler(model_dir, groups, python=python, **timing)
    res = {b: summarize(lat, int(b)) for b, lat in timed["groups"].items()}
    return {"label": f"our {runtime} artifact, handler in-process", "kind": "handler", "runtime": runtime,
            "batches": res, "artifact_bytes": tar.stat().st_size, "python": timed["python"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_http(runtime: str, tar: Path, texts: list[str], batches: list[int], timing: dict[str, Any]) -> dict[str, Any]:
    """The artifact behind `python -m inference serve` in a subprocess, called over HTTP with keep-alive."""
    import httpx

    port = _free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "inference", "serve", str(tar), "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            while True:
                try:
                    if client.get("/ping").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(f"`inference serve` exited: {proc.stderr.read()[-2000:]}")
                if time.perf_counter() - t0 > 300:
                    raise RuntimeError("`inference serve` did not answer /ping within 300 s")
                time.sleep(0.05)
            startup = time.perf_counter() - t0

            def call(t: list[str]) -> None:
                r = client.post("/invocations", content=_request(t), headers={"Content-Type": "application/json"})
                r.raise_for_status()

            res = {str(b): time_calls(call, texts, b, **timing) for b in batches}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"label": f"our {runtime} artifact via local HTTP endpoint", "kind": "http", "runtime": runtime,
            "batches": res, "artifact_bytes": tar.stat().st_size, "startup_s": startup}


# --------------------------------------------------------------------------------------------- reporting
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pkgs = {}
    for p in PACKAGES:
        try:
            pkgs[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            pkgs[p] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(), "packages": pkgs}


def evaluate_targets(variants: dict[str, Any], http_overhead: dict[str, float]) -> list[dict[str, Any]]:
    """Issue 3's targets against this run; status PASS / MISS, or N/A when the run lacks the figures."""
    ours, ref = variants.get("onnx-int8"), variants.get("reference")

    def speedup(b: str) -> float | None:
        if ours and ref and b in ours["batches"] and b in ref["batches"]:
            return ours["batches"][b]["texts_per_s"] / ref["batches"][b]["texts_per_s"]
        return None

    values = {
        "speedup_b1": speedup("1"),
        "speedup_b32": speedup("32"),
        "cold_load": ours.get("cold_load_s") if ours else None,
        "peak_rss": ours.get("peak_rss_mb") if ours else None,
        "artifact": ours["artifact_bytes"] / 1e6 if ours else None,
        "http_overhead": http_overhead.get("onnx-int8"),
    }
    out = []
    for key, desc, threshold, unit, higher in TARGETS:
        v = values[key]
        status = "N/A" if v is None else "PASS" if (v >= threshold if higher else v <= threshold) else "MISS"
        out.append({"key": key, "description": desc, "target": f"{'>=' if higher else '<='} {threshold:g} {unit}",
                    "value": v, "unit": unit, "status": status})
    return out


def _fmt(v: float | None, nd: int = 2) -> str:
    return "–" if v is None else f"{v:,.{nd}f}"


def render_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    result.setdefault("load_average_end", m.get("load_average", [0.0]))
    m.setdefault("load_average", [0.0])
    lines = [
        "# Embedding runtimes benchmark",
        "",
        f"Run {result['date']} with `python -m inference bench{' --quick' if result['config']['quick'] else ''}` "
        f"on **{m['cpu']}**, {m['cores']} cores, Python {m['python']} ({m['platform']}); load average "
        f"{m['load_average'][0]} at the start and {result['load_average_end'][0]} at the end (other work on the "
        "machine makes every number noisier).",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v) + ".",
        "",
        f"Model: all-MiniLM-L6-v2 (shipped weights). Inputs: {result['config'].get('texts', '?')} generated texts "
        "(`bench_texts`: sentences of 4–40 words, every ninth one non-English, code, a number or emoji). "
        "Texts/s = texts per second of wall time at that batch size; "
        "latency per call; cold load = imports + model load in a fresh process; peak RSS of that process after a "
        f"batch-{max(result['config']['batch_sizes'])} request; artifact = model.tar.gz (or the model folder for "
        "the reference and the pipeline).",
        "",
        "| variant | batch | texts/s | p50 ms | p95 ms | vs reference | cold load s | peak RSS MB | artifact MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ref = result["variants"].get("reference")
    for key, v in result["variants"].items():
        for b, s in v["batches"].items():
            ratio = s["texts_per_s"] / ref["batches"][b]["texts_per_s"] if ref and b in ref["batches"] else None
            lines.append(
                f"| {key} | {b} | {_fmt(s['texts_per_s'], 1)} | {_fmt(s['p50_ms'])} | {_fmt(s['p95_ms'])} | "
                f"{_fmt(ratio)}× | {_fmt(v.get('cold_load_s'))} | {_fmt(v.get('peak_rss_mb'), 0)} | "
                f"{_fmt(v['artifact_bytes'] / 1e6, 1)} |"
            )
    lines += ["", "HTTP overhead at batch 1 (HTTP p50 − handler p50): "
              + (", ".join(f"{k} {v:.2f} ms" for k, v in result["http_overhead_ms"].items()) or "not measured"), ""]
    lines += ["## Targets (issue 3)", "", "| target | value | status |", "|---|---:|---|"]
    for t in result["targets"]:
        lines.append(f"| {t['description']} {t['target']} | {_fmt(t['value'])} {t['unit']} | {t['status']} |")
    for key, why in result.get("failures", {}).items():
        lines.append(f"- **{key} could not be measured in this run**: {why}")
    lines += ["", "Variants: " + "; ".join(f"**{k}** = {v['label']}" for k, v in result["variants"].items()) + ".",
              "", "Serverless vCPUs differ from this machine: absolute numbers are indicative, ratios travel better.",
              ""]
    return "\n".join(lines)


def render_plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = result["variants"]
    batches = [str(b) for b in result["config"]["batch_sizes"]]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 5), gridspec_kw={"width_ratios": [2, 1, 1]})
    width = 0.8 / max(1, len(variants))
    for i, (key, v) in enumerate(variants.items()):
        xs = [j + i * width for j in range(len(batches))]
        ax1.bar(xs, [v["batches"].get(b, {}).get("texts_per_s", 0) for b in batches], width, label=key)
    ax1.set_xticks([j + width * (len(variants) - 1) / 2 for j in range(len(batches))], [f"batch {b}" for b in batches])
    ax1.set_yscale("log")
    ax1.set_ylabel("texts / s (log scale)")
    ax1.set_title("Throughput")
    ax1.legend(fontsize=8)
    keys = [k for k, v in variants.items() if v.get("cold_load_s") is not None]
    ax2.bar(keys, [variants[k]["cold_load_s"] for k in keys], color="tab:orange")
    ax2.set_ylabel("seconds")
    ax2.set_title("Cold load (imports + model load)")
    ax3.bar(keys, [variants[k]["peak_rss_mb"] for k in keys], color="tab:blue")
    ax3.set_ylabel("MB")
    ax3.set_title("Peak RSS (fresh process)")
    for ax in (ax2, ax3):
        ax.tick_params(axis="x", rotation=35)
    fig.suptitle(f"all-MiniLM-L6-v2 on {result['machine']['cpu']} ({result['machine']['cores']} cores), "
                 f"{result['date'][:10]}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ratio_lines(result: dict[str, Any]) -> list[str]:
    return [f"{t['status']:<4}  {t['description']}: {_fmt(t['value'])} {t['unit']} (target {t['target']})"
            for t in result["targets"]]


# --------------------------------------------------------------------------------------------- command
def run_bench(*, out: Path, batch_sizes: list[int], runtimes: list[str], quick: bool, model: Path | None = None,
              artifacts: dict[str, Path] | None = None, http: bool = True, libraries: bool = True,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every variant, write bench.json / BENCHMARK.md / bench.png into `out`, return the result."""
    from inference.artifact import unpack
    from inference.demo import cached_embeddings_artifact, default_model_path
    from inference.measure import measure_handler
    from inference.serve import artifact_manifest, serving_python

    machine = machine_info()  # load average at the start
    model = Path(model) if model else default_model_path()
    texts = bench_texts(64 if quick else 512)
    timing = {"min_calls": 3, "budget_s": 0.2} if quick else {"min_calls": 10, "budget_s": 3.0}
    max_batch = max(batch_sizes)
    cold_texts = texts[:max_batch]
    variants: dict[str, Any] = {}
    if libraries:
        log("reference: sentence-transformers encode ...")
        variants["reference"] = bench_reference(model, texts, batch_sizes, timing)
        variants["reference"].update(cold_load_library("reference", model, cold_texts))
        log("hf-pipeline: transformers feature-extraction pipeline ...")
        variants["hf-pipeline"] = bench_hf_pipeline(model, texts, batch_sizes, timing)
        variants["hf-pipeline"].update(cold_load_library("pipeline", model, cold_texts))
    tars: dict[str, Path] = {}
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="sls-bench-") as tmp:
        for rt in runtimes:
            try:
                tar = Path((artifacts or {}).get(rt) or cached_embeddings_artifact(rt, model=model, log=log))
                model_dir = unpack(tar, Path(tmp) / rt)
                python = serving_python(artifact_manifest(tar), log=log)
                python = str(python) if python else None
                log(f"{rt}: handler in-process ({python or sys.executable}) ...")
                v = bench_handler(rt, model_dir, tar, texts, batch_sizes, timing, python)
                cold = measure_handler(model_dir, _request(cold_texts), python=python)
            except Exception as e:  # noqa: BLE001 - one runtime failing (e.g. its build) must not lose the others
                failures[rt] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                log(f"{rt}: FAILED, skipped: {failures[rt]}")
                continue
            v.update({k: cold[k] for k in ("cold_load_s", "import_s", "model_fn_s", "peak_rss_mb")})
            variants[rt] = v
            tars[rt] = tar
    http_overhead: dict[str, float] = {}
    if http:
        for rt, tar in tars.items():
            log(f"{rt}-http: local endpoint over HTTP ...")
            try:
                v = bench_http(rt, tar, texts, batch_sizes, timing)
            except Exception as e:  # noqa: BLE001
                failures[f"{rt}-http"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                log(f"{rt}-http: FAILED, skipped: {failures[f'{rt}-http']}")
                continue
            variants[f"{rt}-http"] = v
            if "1" in v["batches"]:
                http_overhead[rt] = v["batches"]["1"]["p50_ms"] - variants[rt]["batches"]["1"]["p50_ms"]
    result = {
        "schema": SCHEMA,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "config": {"batch_sizes": batch_sizes, "runtimes": runtimes, "quick": quick, "texts": len(texts),
                   "timing": timing, "model": str(model)},
        "variants": variants,
        "http_overhead_ms": http_overhead,
        "failures": failures,
    }
    result["targets"] = evaluate_targets(variants, http_overhead)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "BENCHMARK.md").write_text(render_markdown(result))
    render_plot(result, out / "bench.png")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32], help="default: 1 8 32")
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES,
                        help="our artifact runtimes to include (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results",
                        help="output folder (default bench-results)")
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke run, numbers are noisy)")
    parser.add_argument("--model", type=Path, help="sentence-transformers model folder (default: shipped MiniLM)")
    parser.add_argument("--artifact", action="append", default=[], metavar="RUNTIME=PATH",
                        help="use this prebuilt model.tar.gz for RUNTIME instead of building (repeatable)")
    parser.add_argument("--no-http", action="store_true", help="skip the local HTTP endpoint variants")


def run(args: argparse.Namespace) -> int:
    if any(b < 1 for b in args.batch_sizes):
        print(f"error: --batch-sizes must be >= 1, got {args.batch_sizes}", file=sys.stderr)
        return 2
    artifacts = {}
    for spec in args.artifact:
        rt, sep, path = spec.partition("=")
        if not sep or rt not in RUNTIMES or not Path(path).is_file():
            print(f"error: --artifact wants RUNTIME=PATH with RUNTIME in {', '.join(RUNTIMES)} and an existing "
                  f"file, got {spec!r}", file=sys.stderr)
            return 2
        artifacts[rt] = Path(path)
    result = run_bench(out=args.out, batch_sizes=sorted(set(args.batch_sizes)), runtimes=args.runtimes,
                       quick=args.quick, model=args.model, artifacts=artifacts, http=not args.no_http)
    print(f"\nwrote {args.out / 'BENCHMARK.md'}, {args.out / 'bench.json'}, {args.out / 'bench.png'}")
    print("\n".join(ratio_lines(result)))
    for key, why in result["failures"].items():
        print(f"FAILED {key}: {why}")
    return 1 if result["failures"] else 0
