"""`python -m inference bench`: the embedding runtimes side by side, in one run on this machine.

Why: the targets are ratios (onnx-int8 vs the sentence-transformers reference, cold load, peak RSS,
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
import http.client
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

from inference.build.measure import _PEAK_RSS
from inference.limits import DEFAULT_EMBEDDING_RUNTIME, EMBEDDING_RUNTIMES
from inference.tools.serve import HANDLER_TIME_HEADER

ROOT = Path(__file__).resolve().parents[2]
TARGET_RUNTIME = DEFAULT_EMBEDDING_RUNTIME  # the runtime the targets are about
PACKAGES = ("torch", "transformers", "sentence-transformers", "onnxruntime", "onnx", "tokenizers", "numpy",
            "starlette", "uvicorn")
SCHEMA = 1

# The targets (README), as (key, description, threshold, unit, higher_is_better).
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
def _request(texts: list[str]) -> bytes:
    return json.dumps({"inputs": texts}).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A timing worker: loads one variant, says "ready", then answers "KEY N" with the latencies of N calls on the
# payloads of group KEY (cycled). Every variant lives in its own process, so the parent can interleave them.
_WORKER = r"""
import base64, json, sys, time
out = sys.stdout
sys.stdout = sys.stderr  # library chatter must not corrupt the protocol
kind, target, spec_file = sys.argv[1:4]
with open(spec_file) as f:
    groups = json.load(f)
if kind == "handler":  # the artifact's handler, loaded as the container does
    import importlib
    sys.path.insert(0, target + "/code")
    m = importlib.import_module("inference")
    model = m.model_fn(target)
    groups = {k: [base64.b64decode(p) for p in v] for k, v in groups.items()}
    def call(p):
        return m.output_fn(m.predict_fn(m.input_fn(p, "application/json"), model), "application/json")
elif kind == "reference":
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(target, device="cpu")
    def call(p):
        return st.encode(p, batch_size=len(p), normalize_embeddings=True)
else:  # the HF toolkit calls the pipeline once with the request's inputs and no batch_size
    from transformers import pipeline
    pipe = pipeline("feature-extraction", model=target, device="cpu")
    def call(p):
        return pipe(p)
out.write("ready\n")
out.flush()
seen = {k: 0 for k in groups}
for line in sys.stdin:
    cmd = line.split()
    if not cmd or cmd[0] == "quit":
        break
    key, n = cmd[0], int(cmd[1])
    lat = []
    for _ in range(n):
        p = groups[key][seen[key] % len(groups[key])]
        seen[key] += 1
        t = time.perf_counter()
        call(p)
        lat.append(time.perf_counter() - t)
    out.write(json.dumps(lat) + "\n")
    out.flush()
"""


class Worker:
    """One variant in its own process (see _WORKER); `run(key, n)` returns n call latencies in seconds."""

    def __init__(self, name: str, kind: str, target: Path, groups: dict[str, list], python: str | None,
                 tmp: Path, timeout: float = 900.0, env: dict[str, str] | None = None):
        import base64

        self.name = name
        payload = {k: [base64.b64encode(_request(t)).decode() for t in v] for k, v in groups.items()} \
            if kind == "handler" else groups
        spec = tmp / f"{name}.json"
        spec.write_text(json.dumps(payload))
        self.log_path = tmp / f"{name}.log"
        self.proc = subprocess.Popen([python or sys.executable, "-I", "-c", _WORKER, kind, str(target), str(spec)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(self.log_path, "w"),
                                     text=True, cwd=tmp, env={**os.environ, **(env or {})})
        self._expect("ready")

    def _expect(self, what: str) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            raise RuntimeError(f"{self.name} worker exited ({self.proc.returncode}) instead of answering {what}: "
                               f"{self.log_path.read_text()[-1500:]}")
        return line

    def run(self, key: str, n: int) -> list[float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{key} {n}\n")
        self.proc.stdin.flush()
        return json.loads(self._expect(f"{key} {n}"))

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


class HttpRunner:
    """An artifact behind `python -m inference serve` (a subprocess), called over HTTP with keep-alive.

    The client is the standard library's http.client on one persistent connection: the leanest Python client,
    so the measured overhead is mostly the server's (heavier clients such as httpx or boto3 add their own cost,
    which is the caller's, not the endpoint's).
    """

    def __init__(self, name: str, tar: Path, groups: dict[str, list], tmp: Path, startup_timeout: float = 900.0):
        self.name = name
        self.log_path = tmp / f"{name}.log"
        self.bodies = {k: [_request(t) for t in v] for k, v in groups.items()}
        self.seen = dict.fromkeys(groups, 0)
        self.added: dict[str, list[float]] = {k: [] for k in groups}  # per call: round trip - server handler time
        self.port = _free_port()
        self.conn: http.client.HTTPConnection | None = None
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "inference", "serve", str(tar), "--port", str(self.port),
                                      "--log-level", "warning"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "w"), text=True)
        while True:
            try:
                if self._call("GET", "/ping")[0] == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"`inference serve` exited: {self.log_path.read_text()[-2000:]}")
            if time.perf_counter() - t0 > startup_timeout:
                self.close()
                raise RuntimeError(f"`inference serve` did not answer /ping within {startup_timeout:.0f} s")
            time.sleep(0.05)
        self.startup_s = time.perf_counter() - t0

    def _call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, float | None]:
        """(status, body, the handler's seconds from the server's header if it sent one)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            self.conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = self.conn.getresponse()
            handler_ms = response.getheader(HANDLER_TIME_HEADER)
            return response.status, response.read(), float(handler_ms) / 1000 if handler_ms else None
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None  # reconnect on the next call
            raise

    def run(self, key: str, n: int) -> list[float]:
        # uvicorn closes a keep-alive connection idle for 5 s, as it may be while other variants run: start each
        # slice on a fresh connection with one untimed call, so no timed call pays for a reconnect.
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self._call("POST", "/invocations", self.bodies[key][self.seen[key] % len(self.bodies[key])])
        lat = []
        for _ in range(n):
            body = self.bodies[key][self.seen[key] % len(self.bodies[key])]
            self.seen[key] += 1
            t = time.perf_counter()
            try:
                status, answer, handler_s = self._call("POST", "/invocations", body)
            except Exception as e:
                state = "running" if self.proc.poll() is None else f"exited with {self.proc.returncode}"
                raise RuntimeError(f"{e} (server {state}; its log: {self.log_path.read_text()[-800:]!r})") from e
            lat.append(time.perf_counter() - t)
            if handler_s is not None:
                self.added[key].append(lat[-1] - handler_s)
            if status != 200:
                raise RuntimeError(f"the local endpoint answered {status}: {answer[:300]!r}")
        return lat

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def interleave(runners: dict[str, Any], batches: list[int], *, rounds: int, slice_s: float, min_calls: int,
               warmup: int = 2, failures: dict[str, str] | None = None, settle_s: float = 0.0,
               per_round: dict[str, dict[str, list[float]]] | None = None) -> dict[str, dict[str, list[float]]]:
    """Latencies per runner and batch, measured in interleaved rounds (A B C A B C ...).

    Why: on a shared machine the load changes over minutes; interleaving gives every variant the same share of
    good and bad moments, so the ratios between variants stay meaningful. Each slice runs about slice_s
    seconds of calls (at least enough for min_calls over all rounds), after `warmup` untimed calls. Short
    slices in many rounds spread a burst of load over every variant rather than onto one variant's slice.
    per_round, if given, receives each slice's mean latency (name -> batch -> one value per round).
    settle_s: idle time before each slice. onnxruntime's (and torch's) worker threads keep spinning for a
    while after a variant's last call; without a pause the next variant's first calls share the cores with
    them (docs/handler-performance.md).
    """
    out: dict[str, dict[str, list[float]]] = {name: {} for name in runners}
    failed = failures if failures is not None else {}
    per_slice_min = max(1, -(-min_calls // rounds))

    def attempt(name: str, key: str, n: int) -> list[float] | None:
        """A runner that fails (e.g. its server died) is reported and dropped; the others carry on."""
        try:
            return runners[name].run(key, n)
        except Exception as e:  # noqa: BLE001
            failed[name] = f"{type(e).__name__} at batch {key}: {str(e).splitlines()[0] if str(e) else ''}"
            out.pop(name, None)
            return None

    for b in batches:
        key = str(b)
        per_call = {}
        for name in list(out):
            w = attempt(name, key, warmup) if warmup else [slice_s]
            if w is not None:
                per_call[name] = max(min(w), 1e-5)
                out[name][key] = []
        for _ in range(rounds):
            for name in list(out):
                n = max(per_slice_min, min(5000, round(slice_s / per_call[name])))
                if settle_s:
                    time.sleep(settle_s)
                lat = attempt(name, key, n)
                if lat is not None:
                    out[name][key] += lat
                    if per_round is not None:
                        per_round.setdefault(name, {}).setdefault(key, []).append(statistics.fmean(lat))
    return out


# --------------------------------------------------------------------------------------------- reporting
def machine_info() -> dict[str, Any]:
    from inference.report import cpu_model

    cpu = cpu_model()
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
    """The targets against this run; status PASS / MISS, or N/A when the run lacks the figures."""
    ours, ref = variants.get(TARGET_RUNTIME), variants.get("reference")

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
        "http_overhead": http_overhead.get(TARGET_RUNTIME),
    }
    out = []
    for key, desc, threshold, unit, higher in TARGETS:
        v = values[key]
        status = "N/A" if v is None else "PASS" if (v >= threshold if higher else v <= threshold) else "MISS"
        out.append({"key": key, "description": desc, "target": f"{'>=' if higher else '<='} {threshold:g} {unit}",
                    "value": v, "unit": unit, "status": status})
    return out


def round_ratios(per_round: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Each variant's speed vs the reference round by round (reference slice mean / variant slice mean).

    Their spread shows how much the machine's load moved during the run: on a quiet machine every round gives
    about the same ratio; load on a shared host slows threads working in step (a 2-thread runtime) more than
    the mostly single-threaded reference, and those rounds stand out.
    """
    ref = per_round.get("reference", {})
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, batches in per_round.items():
        if name == "reference":
            continue
        for b, means in batches.items():
            pairs = list(zip(ref.get(b, []), means, strict=False))  # a variant that failed has fewer
            if pairs:
                r = [a / x for a, x in pairs]
                out.setdefault(name, {})[b] = {"median": statistics.median(r), "min": min(r), "max": max(r),
                                               "rounds": len(r)}
    return out


# Two threads' lead over one at batch 1 on a quiet machine, per CPU model (prefix of /proc/cpuinfo's model name);
# see load_gauge. Only calibrated CPU models are listed; how they were calibrated: docs/handler-performance.md.
QUIET_THREAD_LEAD = {"AMD EPYC": (1.3, 1.4)}


def quiet_thread_lead(cpu: str | None) -> tuple[float, float] | None:
    """The calibrated quiet-machine lead for this CPU model, or None where none was measured."""
    return next((lead for prefix, lead in QUIET_THREAD_LEAD.items() if (cpu or "").startswith(prefix)), None)


def load_gauge(variants: dict[str, Any]) -> dict[str, float] | None:
    """How loaded the host was during this run, from two figures of the run itself (None without them).

    - two_vs_one_thread: onnx-int8's batch-1 texts/s over onnx-int8-1thread's. Load on a shared host slows two
      threads working in step far more than one (docs/handler-performance.md), so this lead
      shrinks from the CPU's QUIET_THREAD_LEAD when the host is busy -- and with it every ratio of the 2-thread
      runtime. Comparable only between runs on the same CPU model.
    - reference_p50_ms: the reference's batch-1 p50, the same gauge in absolute time (machine-specific).
    """
    two, one = variants.get(TARGET_RUNTIME), variants.get(f"{TARGET_RUNTIME}-1thread")
    ref = variants.get("reference")
    try:
        lead = two["batches"]["1"]["texts_per_s"] / one["batches"]["1"]["texts_per_s"]
    except (TypeError, KeyError, ZeroDivisionError):
        return None
    gauge = {"two_vs_one_thread": lead}
    if ref and "1" in ref.get("batches", {}):
        gauge["reference_p50_ms"] = ref["batches"]["1"]["p50_ms"]
    return gauge


def _gauge_line(gauge: dict[str, float] | None, cpu: str | None = None) -> str | None:
    if not gauge:
        return None
    ref = f"; reference batch-1 p50 {gauge['reference_p50_ms']:.2f} ms" if "reference_p50_ms" in gauge else ""
    quiet = quiet_thread_lead(cpu)
    scale = (f"{quiet[0]}-{quiet[1]}x on a quiet machine of this CPU; less means a busy host, which lowers the "
             "2-thread ratios" if quiet else
             "no quiet-machine figure for this CPU: compare it with other runs on the same CPU")
    return (f"Load gauge: at batch 1 two threads led one by {gauge['two_vs_one_thread']:.2f}x in this run "
            f"({scale}){ref}.")


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
        f"Each variant runs in its own process; they are timed in {result['config']['timing'].get('rounds', 1)} "
        "interleaved rounds (A B C … A B C) so that load changes on the machine hit them alike"
        + (f", each slice after {result['config']['timing']['settle_s']:g} s idle (the previous variant's "
           "spinning threads wind down)" if result["config"]["timing"].get("settle_s") else "") + ". "
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
    lines += ["", "HTTP overhead at batch 1 (p50 over requests of the client round trip − the handler's time in the "
              "server): "
              + (", ".join(f"{k} {v:.2f} ms" for k, v in result["http_overhead_ms"].items()) or "not measured"), ""]
    lines += ["## Targets", "", "| target | value | status |", "|---|---:|---|"]
    for t in result["targets"]:
        lines.append(f"| {t['description']} {t['target']} | {_fmt(t['value'])} {t['unit']} | {t['status']} |")
    gauge = _gauge_line(result.get("load_gauge"), result.get("machine", {}).get("cpu"))
    if gauge:
        lines += ["", gauge]
    for name in (TARGET_RUNTIME, f"{TARGET_RUNTIME}-1thread"):
        spread = result.get("round_ratios", {}).get(name, {})
        if spread:
            lines += ["", f"Round by round, {name} (reference slice mean ÷ its slice mean; the spread is the machine's "
                      "load moving during the run): "
                      + "; ".join(f"batch {b}: median {r['median']:.2f}×, {r['min']:.2f}–{r['max']:.2f}× over "
                                  f"{r['rounds']} rounds" for b, r in spread.items()) + "."]
    for key, why in result.get("failures", {}).items():
        lines.append(f"- **{key} could not be measured in this run**: {why}")
    lines += ["", "Variants: " + "; ".join(f"**{k}** = {v['label']}" for k, v in result["variants"].items()) + ".",
              "", "Notes:",
              "- Serverless vCPUs differ from this machine: absolute numbers are indicative, ratios travel better.",
              "- hf-pipeline is only the pipeline call the HF toolkit makes; the real container adds its model "
              "server (MMS, a JVM) in front and at cold start, and returns token-level vectors, not sentence "
              "embeddings.",
              "- Our artifacts run under the Python and packages their image would use (onnx runtimes: the vendored "
              "onnxruntime/tokenizers/orjson in a Python-3.12 venv with only numpy; torch: this venv's torch).",
              f"- {TARGET_RUNTIME}-1thread is the same artifact with OMP_NUM_THREADS=1: what a 1-vCPU host sees. "
              "Load on a shared host barely slows one thread but slows two threads working in step (on the AMD EPYC "
              f"machines ~7% against 1.3-1.6x), so {TARGET_RUNTIME}'s lead over {TARGET_RUNTIME}-1thread shrinks "
              "when the machine is busy: a gauge of the load behind the other ratios, comparable between runs on "
              "the same CPU.",
              "- HTTP overhead includes the client (Python's http.client, one keep-alive connection: the leanest "
              "client, so the figure is mostly the server's) and the server (uvicorn + starlette), sharing the same "
              "cores as the model.",
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
    ax1.set_ylabel("texts / s")
    ax1.set_title("Throughput (higher is better)")
    ax1.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.08))
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
    lines = [f"{t['status']:<4}  {t['description']}: {_fmt(t['value'])} {t['unit']} (target {t['target']})"
             for t in result["targets"]]
    gauge = _gauge_line(result.get("load_gauge"), result.get("machine", {}).get("cpu"))
    return lines + ([gauge] if gauge else [])


# --------------------------------------------------------------------------------------------- command
def run_bench(*, out: Path, batch_sizes: list[int], runtimes: list[str], quick: bool, model: Path | None = None,
              artifacts: dict[str, Path] | None = None, http: bool = True, libraries: bool = True,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every variant, write bench.json / BENCHMARK.md / bench.png into `out`, return the result."""
    from inference.build.artifact import unpack
    from inference.build.cache import default_embeddings_artifact
    from inference.build.hub import default_model_path
    from inference.build.measure import measure_handler
    from inference.tools.serve import artifact_manifest, serving_python

    machine = machine_info()  # load average at the start
    model_arg = model  # None: the default recipe's packaged weights, so the bench reuses the demo's build
    model = Path(model) if model else default_model_path()
    texts = bench_texts(64 if quick else 512)
    timing = {"rounds": 1, "slice_s": 0.1, "min_calls": 3} if quick else \
        {"rounds": 20, "slice_s": 0.15, "min_calls": 20, "settle_s": 0.1}
    max_batch = max(batch_sizes)
    cold_texts = texts[:max_batch]
    n_payloads = 4 if quick else 16
    groups = {str(b): [batch_of(texts, b, i) for i in range(n_payloads)] for b in batch_sizes}
    variants: dict[str, Any] = {}
    failures: dict[str, str] = {}
    runners: dict[str, Any] = {}
    tars: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="sls-bench-") as tmp_s:
        tmp = Path(tmp_s)
        try:
            if libraries:
                for key, kind, label in (("reference", "reference", "sentence-transformers encode (reference)"),
                                         ("hf-pipeline", "pipeline",
                                          "HF pipeline feature-extraction (usual recipe's handler)")):
                    log(f"{key}: cold load in a fresh process, then a timing worker ...")
                    variants[key] = {"label": label, "kind": kind, "artifact_bytes": _dir_bytes(model),
                                     **cold_load_library(kind, model, cold_texts)}
                    runners[key] = Worker(key, kind, model, groups, None, tmp)
            for rt in runtimes:
                try:
                    tar = Path((artifacts or {}).get(rt) or default_embeddings_artifact(rt, model=model_arg, log=log))
                    model_dir = unpack(tar, tmp / rt)
                    python = serving_python(artifact_manifest(tar), log=log)
                    python = str(python) if python else None
                    log(f"{rt}: cold load in a fresh process, then a timing worker ({python or sys.executable}) ...")
                    cold = measure_handler(model_dir, _request(cold_texts), python=python)
                    runners[rt] = Worker(rt, "handler", model_dir, groups, python, tmp)
                except Exception as e:  # noqa: BLE001 - one runtime failing (e.g. its build) must not lose the rest
                    failures[rt] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                    log(f"{rt}: FAILED, skipped: {failures[rt]}")
                    continue
                tars[rt] = tar
                variants[rt] = {"label": f"our {rt} artifact, handler in-process", "kind": "handler", "runtime": rt,
                                "artifact_bytes": tar.stat().st_size, "python": python or sys.executable,
                                **{k: cold[k] for k in ("cold_load_s", "import_s", "model_fn_s", "peak_rss_mb")}}
                if rt == TARGET_RUNTIME and (os.cpu_count() or 1) > 1:
                    # The same artifact on one thread: what a 1-vCPU host sees, and a check on the machine -- load
                    # that slows two threads in step barely moves one (see README, How stable the ratios are).
                    key = f"{rt}-1thread"
                    runners[key] = Worker(key, "handler", model_dir, groups, python, tmp, env={"OMP_NUM_THREADS": "1"})
                    variants[key] = {"label": f"our {rt} artifact, handler in-process on one thread "
                                              "(OMP_NUM_THREADS=1)", "kind": "handler", "runtime": rt,
                                     "artifact_bytes": tar.stat().st_size, "python": python or sys.executable}
            if http:
                for rt, tar in tars.items():
                    key = f"{rt}-http"
                    log(f"{key}: starting `python -m inference serve` ...")
                    try:
                        runners[key] = HttpRunner(key, tar, groups, tmp)
                    except Exception as e:  # noqa: BLE001
                        failures[key] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                        log(f"{key}: FAILED, skipped: {failures[key]}")
                        continue
                    variants[key] = {"label": f"our {rt} artifact via local HTTP endpoint", "kind": "http",
                                     "runtime": rt, "artifact_bytes": tar.stat().st_size,
                                     "startup_s": runners[key].startup_s}
            log(f"timing {len(runners)} variants at batch sizes {batch_sizes}, interleaved in {timing['rounds']} "
                "rounds ...")
            per_round: dict[str, dict[str, list[float]]] = {}
            latencies = interleave(runners, batch_sizes, **timing, failures=failures, per_round=per_round)
        finally:
            for r in runners.values():
                r.close()
    for name in list(variants):
        if name in latencies:
            variants[name]["batches"] = {k: summarize(v, int(k)) for k, v in latencies[name].items()}
        else:
            log(f"{name}: FAILED during timing, left out: {failures.get(name)}")
            del variants[name]
    # What the HTTP path adds, request by request: client round trip minus the handler's own time in the server
    # (its X-Sls-Handler-Ms header) -- the same requests at the same moment, unlike two variants' p50s.
    http_overhead = {rt: statistics.median(runners[f"{rt}-http"].added["1"]) * 1000 for rt in tars
                     if f"{rt}-http" in variants and runners[f"{rt}-http"].added.get("1")}
    result = {
        "schema": SCHEMA,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "config": {"batch_sizes": batch_sizes, "runtimes": runtimes, "quick": quick, "texts": len(texts),
                   "timing": timing, "model": str(model)},
        "variants": variants,
        "http_overhead_ms": http_overhead,
        "round_ratios": round_ratios(per_round),
        "failures": failures,
    }
    result["targets"] = evaluate_targets(variants, http_overhead)
    result["load_gauge"] = load_gauge(variants)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "BENCHMARK.md").write_text(render_markdown(result))
    render_plot(result, out / "bench.png")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32], help="default: 1 8 32")
    parser.add_argument("--runtimes", nargs="+", default=list(EMBEDDING_RUNTIMES), choices=EMBEDDING_RUNTIMES,
                        help="our artifact runtimes to include (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results",
                        help="output folder (default bench-results)")
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke run, numbers are noisy)")
    parser.add_argument("--model", type=Path, help="sentence-transformers model folder (default: shipped MiniLM)")
    parser.add_argument("--artifact", action="append", default=[], metavar="RUNTIME=PATH",
                        help="use this prebuilt model.tar.gz for RUNTIME instead of building (repeatable)")
    parser.add_argument("--no-http", action="store_true", help="skip the local HTTP endpoint variants")
    parser.add_argument("--matrix", action="store_true",
                        help="instead: the seed's model matrix as onnx-int8 artifacts (inference/tools/matrix.py)")


def run(args: argparse.Namespace) -> int:
    if args.matrix:
        from inference.tools.matrix import main_matrix

        return main_matrix(args.out)
    if any(b < 1 for b in args.batch_sizes):
        print(f"error: --batch-sizes must be >= 1, got {args.batch_sizes}", file=sys.stderr)
        return 2
    artifacts = {}
    for spec in args.artifact:
        rt, sep, path = spec.partition("=")
        if not sep or rt not in EMBEDDING_RUNTIMES or not Path(path).is_file():
            print(f"error: --artifact wants RUNTIME=PATH with RUNTIME in {', '.join(EMBEDDING_RUNTIMES)} and an "
                  f"existing file, got {spec!r}", file=sys.stderr)
            return 2
        artifacts[rt] = Path(path)
    result = run_bench(out=args.out, batch_sizes=sorted(set(args.batch_sizes)), runtimes=args.runtimes,
                       quick=args.quick, model=args.model, artifacts=artifacts, http=not args.no_http)
    print(f"\nwrote {args.out / 'BENCHMARK.md'}, {args.out / 'bench.json'}, {args.out / 'bench.png'}")
    print("\n".join(ratio_lines(result)))
    for key, why in result["failures"].items():
        print(f"FAILED {key}: {why}")
    return 1 if result["failures"] else 0
