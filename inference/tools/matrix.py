"""`python -m inference bench --matrix`: the seed's model matrix as onnx-int8 artifacts, side by side.

For each model of inference/tools/tiny_models.MATRIX: build the onnx-int8 artifact (its quality gate runs in
the build), read its measured peak RSS, pick the smallest serverless tier for it (inference/build/sizing.py)
and time its handler against sentence-transformers on the same weights, interleaved in one run. Only
all-MiniLM-L6-v2's weights exist here; the other rows are random-weight models with the real layer layout,
scaled down (tiny_models.py): they prove the recipe on the architecture, while their size, memory and speed
are those of the small stand-in, not of the real model (the row says which).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_WORKER = r"""
import json, sys, time
art = sys.argv[1]
sys.path.insert(0, art + "/code")
import inference as handler
model = handler.model_fn(art)
texts = json.load(open(sys.argv[2]))
print("ready", flush=True)
i = 0
for line in sys.stdin:
    batch, seconds = line.split()
    batch, seconds = int(batch), float(seconds)
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or n == 0:
        model.embed([texts[(i + k) % len(texts)] for k in range(batch)])
        i += batch
        n += batch
    print(n / (time.perf_counter() - start), flush=True)
"""


def side_by_side(model_dir: Path, artifact_dir: Path, python: str, texts: list[str], *, batches=(1, 32),
                 rounds: int = 5, slice_s: float = 1.0) -> dict[int, dict[str, float]]:
    """texts/s of the artifact's handler (in `python`) and of sentence-transformers, interleaved by round."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model_dir), device="cpu")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(texts, f)
    worker = subprocess.Popen([python, "-c", _WORKER, str(artifact_dir), f.name], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the handler of {artifact_dir} did not load under {python}")
        got: dict[int, dict[str, list[float]]] = {b: {"artifact": [], "reference": []} for b in batches}
        i = 0
        for _ in range(rounds):
            for b in batches:
                time.sleep(0.1)
                worker.stdin.write(f"{b} {slice_s}\n")
                worker.stdin.flush()
                got[b]["artifact"].append(float(worker.stdout.readline()))
                time.sleep(0.1)
                start, n = time.perf_counter(), 0
                while time.perf_counter() - start < slice_s or n == 0:
                    reference.encode([texts[(i + k) % len(texts)] for k in range(b)], batch_size=b,
                                     normalize_embeddings=True)
                    i += b
                    n += b
                got[b]["reference"].append(n / (time.perf_counter() - start))
    finally:
        worker.stdin.close()
        worker.wait(timeout=60)
        Path(f.name).unlink(missing_ok=True)
    return {b: {"artifact": statistics.median(v["artifact"]), "reference": statistics.median(v["reference"]),
                "ratio": statistics.median(a / r for a, r in zip(v["artifact"], v["reference"], strict=True))}
            for b, v in got.items()}


def run_matrix(out: Path, *, rounds: int = 5, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Build, gate, size and time every matrix model; writes out/MATRIX.md and out/matrix.json."""
    from inference.build.artifact import read_manifest, sha256_file, unpack
    from inference.build.cache import default_embeddings_artifact
    from inference.build.embeddings import build_embeddings
    from inference.build.hub import default_model_path
    from inference.build.sizing import smallest_tier
    from inference.build.vendor import image_runtime_python
    from inference.report import read_report
    from inference.tools.bench import bench_texts
    from inference.tools.tiny_models import MATRIX, make_tiny_model

    texts = bench_texts(256)
    rows = []
    for entry in MATRIX:
        real = entry.short == "all-MiniLM-L6-v2"
        with tempfile.TemporaryDirectory(prefix="sls-matrix-") as tmp:
            log(f"[matrix] {entry.short}: {'shipped weights' if real else 'tiny random-weight stand-in'} ...")
            if real:
                model_dir, tar = default_model_path(), default_embeddings_artifact(None, log=log)
            else:
                model_dir = make_tiny_model(entry, Path(tmp) / "model")
                tar = Path(build_embeddings(model_dir, Path(tmp) / "out", runtime="onnx-int8", log=log).path)
            manifest = read_manifest(tar).to_dict()
            report = read_report(tar, sha256_file(tar))  # what the build measured: beside the tarball
            if report is None or report.quality is None or report.resources.peak_rss_mb is None:
                raise RuntimeError(f"{tar} has no build report with its quality and peak RSS; rebuild it")
            python = str(image_runtime_python(manifest["container"]["python"]))
            speed = side_by_side(model_dir, unpack(tar, Path(tmp) / "artifact"), python, texts, rounds=rounds)
            peak = float(report.resources.peak_rss_mb)
            q = report.quality.to_dict()
            rows.append({
                "model": entry.short, "weights": "real" if real else
                f"tiny stand-in ({entry.tiny_layers or entry.layers} layers, hidden {entry.tiny_hidden})",
                "architecture": entry.model_type, "dimensions": entry.hidden,
                "artifact_dimensions": manifest["model"]["dimensions"], "runtime": manifest["runtime"],
                "artifact_mb": round(tar.stat().st_size / 1e6, 2), "peak_rss_mb": round(peak, 1),
                "tier_mb": smallest_tier(peak), "seed_tier_mb": entry.tier_mb,
                "speedup_b1": round(speed[1]["ratio"], 2), "speedup_b32": round(speed[32]["ratio"], 2),
                "texts_per_s_b32": round(speed[32]["artifact"], 1),
                "quality": {k: q[k] for k in ("mean_cosine", "min_cosine", "topk_overlap", "passed")},
            })
            log(f"[matrix] {rows[-1]}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "matrix.json").write_text(json.dumps(rows, indent=1) + "\n")
    (out / "MATRIX.md").write_text(render_matrix(rows))
    return rows


def render_matrix(rows: list[dict[str, Any]]) -> str:
    """The matrix as a markdown table (the README's model matrix)."""
    lines = ["| model | weights | dimensions | runtime | artifact MB | peak RSS MB | tier (measured) | seed's tier | "
             "vs reference, batch 1 / 32 | quality: mean / min cosine, top-10 |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        q = r["quality"]
        lines.append(f"| {r['model']} | {r['weights']} | {r['dimensions']} | {r['runtime']} | {r['artifact_mb']:.1f} | "
                     f"{r['peak_rss_mb']:.0f} | {r['tier_mb']} MB | {r['seed_tier_mb']} MB | "
                     f"{r['speedup_b1']:.2f}x / {r['speedup_b32']:.2f}x | "
                     f"{q['mean_cosine']:.4f} / {q['min_cosine']:.4f}, {q['topk_overlap']:.3f} "
                     f"({'pass' if q['passed'] else 'FAIL'}) |")
    return "\n".join(lines) + "\n"


def main_matrix(out: Path) -> int:
    rows = run_matrix(out, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(render_matrix(rows))
    return 0 if all(r["quality"]["passed"] for r in rows) else 1
