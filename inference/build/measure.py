"""Cold load, first request and peak RSS of an artifact's handler, measured in a fresh process.

Why a fresh process: cold start is what serverless bills and users feel, and it is dominated by imports
(torch vs onnxruntime) and model_fn. Measuring in-process would reuse modules already imported and mix the
parent's memory into RSS. The child runs the handler the way the SageMaker containers do: the artifact's
`code/` directory first on sys.path, `import inference` (the HF toolkit's module name; the child is started
isolated, so our own `inference` package is never on its path), model_fn(model_dir), then
input_fn -> predict_fn -> output_fn on one request. The child uses the standard library only, so it also runs
in a venv of the target image's Python (`python=`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# Runs in the child (any Python >= 3.8, stdlib only). argv: code_dir model_dir body_file content_type accept out_file
_PEAK_RSS = r"""
def peak_rss_mb():
    # VmHWM: peak RSS of this program's own address space. ru_maxrss is not used: Linux keeps it across
    # fork/exec, so it would include the parent's memory (the bench or a test runner) at spawn time.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
"""

_CHILD = _PEAK_RSS + r"""
import importlib, json, sys, time, traceback
code_dir, model_dir, body_file, content_type, accept, out_file = sys.argv[1:7]
out = {}
try:
    with open(body_file, "rb") as f:
        body = f.read()
    t0 = time.perf_counter()
    sys.path.insert(0, code_dir)
    module = importlib.import_module("inference")
    t1 = time.perf_counter()
    missing = [n for n in ("model_fn", "input_fn", "predict_fn", "output_fn") if not hasattr(module, n)]
    if missing:
        raise AttributeError("code/inference.py does not define " + ", ".join(missing))
    model = module.model_fn(model_dir)
    t2 = time.perf_counter()
    data = module.input_fn(body, content_type)
    prediction = module.predict_fn(data, model)
    response = module.output_fn(prediction, accept)
    t3 = time.perf_counter()
    if isinstance(response, tuple):  # (body, content_type) is allowed by the toolkits
        response = response[0]
    if isinstance(response, str):
        response = response.encode()
    out.update(
        ok=True, import_s=t1 - t0, model_fn_s=t2 - t1, cold_load_s=t2 - t0, first_request_s=t3 - t2,
        response_bytes=len(response) if isinstance(response, (bytes, bytearray)) else None,
        python_version="%d.%d.%d" % sys.version_info[:3],
    )
except BaseException as e:
    out.update(ok=False, error=type(e).__name__ + ": " + str(e), status_code=getattr(e, "status_code", None),
               traceback=traceback.format_exc())
out["peak_rss_mb"] = peak_rss_mb()
with open(out_file, "w") as f:
    json.dump(out, f)
"""


# Runs in the child: load the handler once, then time input_fn -> predict_fn -> output_fn on each group of
# requests (warm-up calls first, then until both min_calls and budget_s are reached). argv: code_dir model_dir
# spec_file out_file; the spec carries base64 request bodies per group.
_TIMING_CHILD = _PEAK_RSS + r"""
import base64, importlib, json, sys, time
code_dir, model_dir, spec_file, out_file = sys.argv[1:5]
spec = json.load(open(spec_file))
out = {}
try:
    t0 = time.perf_counter()
    sys.path.insert(0, code_dir)
    module = importlib.import_module("inference")
    model = module.model_fn(model_dir)
    out["cold_load_s"] = time.perf_counter() - t0
    ct, accept = spec["content_type"], spec["accept"]
    groups = {}
    for key, encoded in spec["groups"].items():
        bodies = [base64.b64decode(b) for b in encoded]
        def call(i):
            return module.output_fn(module.predict_fn(module.input_fn(bodies[i % len(bodies)], ct), model), accept)
        for i in range(spec["warmup"]):
            call(i)
        lat, i, start = [], 0, time.perf_counter()
        while len(lat) < spec["min_calls"] or time.perf_counter() - start < spec["budget_s"]:
            t = time.perf_counter()
            call(i)
            lat.append(time.perf_counter() - t)
            i += 1
        groups[key] = lat
    out.update(ok=True, groups=groups)
except BaseException as e:
    import traceback
    out.update(ok=False, error=type(e).__name__ + ": " + str(e), traceback=traceback.format_exc())
out["peak_rss_mb"] = peak_rss_mb()
with open(out_file, "w") as f:
    json.dump(out, f)
"""


class MeasureError(RuntimeError):
    """The handler could not be loaded or failed on the request; the message carries the child's error."""


def measure_handler(
    model_dir: Path,
    request_body: bytes,
    content_type: str = "application/json",
    *,
    python: str | None = None,
    accept: str = "application/json",
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Run the artifact's handler once in a fresh interpreter and return its timings and peak RSS.

    `model_dir` is an unpacked artifact (model files + code/inference.py) or a model.tar.gz, which is unpacked
    (and verified) into a temporary directory first. Returns {"cold_load_s", "import_s", "model_fn_s",
    "first_request_s", "peak_rss_mb", "response_bytes", "python", "python_version"}; raises MeasureError when
    the handler fails.
    """
    model_dir = Path(model_dir)
    if model_dir.is_file():
        from inference.build.artifact import unpack

        with tempfile.TemporaryDirectory(prefix="sls-measure-") as tmp:
            unpack(model_dir, Path(tmp) / "model")
            return measure_handler(Path(tmp) / "model", request_body, content_type, python=python,
                                   accept=accept, timeout=timeout)
    code_dir = model_dir / "code"
    if not (code_dir / "inference.py").is_file():
        raise MeasureError(f"{model_dir} has no code/inference.py: pass an unpacked artifact or a model.tar.gz")
    exe = python or sys.executable
    with tempfile.TemporaryDirectory(prefix="sls-measure-") as tmp:
        body_file, out_file = Path(tmp, "body"), Path(tmp, "result.json")
        body_file.write_bytes(request_body)
        # -I: isolated (no cwd / PYTHONPATH / user site on sys.path), so `import inference` finds only code/.
        cmd = [exe, "-I", "-c", _CHILD, str(code_dir), str(model_dir), str(body_file), content_type, accept,
               str(out_file)]
        try:
            proc = subprocess.run(cmd, check=False, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise MeasureError(f"handler in {model_dir} did not finish within {timeout:.0f} s") from e
        if not out_file.exists():
            raise MeasureError(
                f"measuring {model_dir} with {exe} failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
            )
        result = json.loads(out_file.read_text())
    if not result.pop("ok"):
        raise MeasureError(f"handler in {model_dir} failed: {result['error']}\n{result.get('traceback', '')}")
    result["python"] = exe
    return result


def time_handler(
    model_dir: Path,
    groups: dict[str, list[bytes]],
    content_type: str = "application/json",
    *,
    python: str | None = None,
    accept: str = "application/json",
    min_calls: int = 10,
    budget_s: float = 3.0,
    warmup: int = 2,
    timeout: float = 1800.0,
) -> dict[str, Any]:
    """Warm latencies of the artifact's handler, per group of request bodies, in a fresh process of `python`.

    Why a separate process: an artifact's vendored packages load only under its image's Python, which need
    not be this one; and every variant then runs alone, without another variant's modules or memory.
    Returns {"groups": {key: [seconds per call, ...]}, "cold_load_s", "peak_rss_mb", "python"}.
    """
    import base64

    model_dir = Path(model_dir)
    if not (model_dir / "code" / "inference.py").is_file():
        raise MeasureError(f"{model_dir} has no code/inference.py: pass an unpacked artifact directory")
    exe = python or sys.executable
    spec = {"content_type": content_type, "accept": accept, "min_calls": min_calls, "budget_s": budget_s,
            "warmup": warmup, "groups": {k: [base64.b64encode(b).decode() for b in v] for k, v in groups.items()}}
    with tempfile.TemporaryDirectory(prefix="sls-time-") as tmp:
        spec_file, out_file = Path(tmp, "spec.json"), Path(tmp, "result.json")
        spec_file.write_text(json.dumps(spec))
        cmd = [exe, "-I", "-c", _TIMING_CHILD, str(model_dir / "code"), str(model_dir), str(spec_file), str(out_file)]
        try:
            proc = subprocess.run(cmd, check=False, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise MeasureError(f"timing the handler in {model_dir} took more than {timeout:.0f} s") from e
        if not out_file.exists():
            raise MeasureError(f"timing {model_dir} with {exe} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        result = json.loads(out_file.read_text())
    if not result.pop("ok"):
        raise MeasureError(f"handler in {model_dir} failed: {result['error']}\n{result.get('traceback', '')}")
    result["python"] = exe
    return result


# Runs in the child (the image's Python; needs numpy, as the handler does): embed every text through the request
# path an endpoint runs (input_fn -> predict_fn -> output_fn, in batches), save them as .npy, and report which
# interpreter and packages computed them. argv: code_dir model_dir texts_file batch_size out_npy out_file
_EMBED_CHILD = r"""
import importlib, json, sys, traceback
code_dir, model_dir, texts_file, batch_size, out_npy, out_file = sys.argv[1:7]
out = {}
try:
    with open(texts_file, encoding="utf-8") as f:
        texts = json.load(f)
    batch_size = int(batch_size)
    sys.path.insert(0, code_dir)
    module = importlib.import_module("inference")
    model = module.model_fn(model_dir)
    rows = []
    for i in range(0, len(texts), batch_size):
        body = json.dumps({"inputs": texts[i:i + batch_size]}).encode()
        response = module.output_fn(module.predict_fn(module.input_fn(body, "application/json"), model),
                                    "application/json")
        if isinstance(response, tuple):
            response = response[0]
        rows.extend(json.loads(response)["embeddings"])
    import numpy
    numpy.save(out_npy, numpy.asarray(rows, dtype=numpy.float32))
    packages = {}
    for name in ("onnxruntime", "tokenizers", "orjson", "torch", "transformers", "numpy"):
        mod = sys.modules.get(name)
        if mod is not None:
            packages[name] = {"version": str(getattr(mod, "__version__", "unknown")),
                              "file": str(getattr(mod, "__file__", "") or "")}
    out.update(ok=True, python_version="%d.%d.%d" % sys.version_info[:3], packages=packages)
except BaseException as e:
    out.update(ok=False, error=type(e).__name__ + ": " + str(e), traceback=traceback.format_exc())
with open(out_file, "w") as f:
    json.dump(out, f)
"""


def embed_with_handler(
    model_dir: Path,
    texts: list[str],
    batch_size: int,
    *,
    python: str | None = None,
    timeout: float = 1800.0,
) -> tuple[Any, dict[str, Any]]:
    """Embeddings of texts by the artifact's own code/inference.py, in a fresh process of `python`.

    Why: an artifact's vendored packages load only under its image's Python, and they are what serves, so a
    check of its output (the quality gate) must run them there rather than whatever this process imported.
    Returns (float32 array [len(texts), dimensions], {"python", "python_version", "packages": {name:
    {"version", "file"}}}) where packages are the runtime modules the handler had imported.
    """
    import numpy as np

    model_dir = Path(model_dir)
    if not (model_dir / "code" / "inference.py").is_file():
        raise MeasureError(f"{model_dir} has no code/inference.py: pass an unpacked artifact directory")
    if int(batch_size) < 1:
        raise MeasureError(f"batch_size must be >= 1, got {batch_size}")
    exe = python or sys.executable
    with tempfile.TemporaryDirectory(prefix="sls-embed-") as tmp:
        texts_file, out_npy, out_file = Path(tmp, "texts.json"), Path(tmp, "embeddings.npy"), Path(tmp, "result.json")
        texts_file.write_text(json.dumps(list(texts)), encoding="utf-8")
        cmd = [exe, "-I", "-c", _EMBED_CHILD, str(model_dir / "code"), str(model_dir), str(texts_file),
               str(int(batch_size)), str(out_npy), str(out_file)]
        try:
            proc = subprocess.run(cmd, check=False, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise MeasureError(f"embedding {len(texts)} texts with {model_dir} took more than {timeout:.0f} s") from e
        if not out_file.exists():
            raise MeasureError(f"embedding with {model_dir} and {exe} failed (exit {proc.returncode}): "
                               f"{proc.stderr[-2000:]}")
        result = json.loads(out_file.read_text())
        if not result.pop("ok"):
            raise MeasureError(f"handler in {model_dir} failed: {result['error']}\n{result.get('traceback', '')}")
        vectors = np.load(out_npy)
    result["python"] = exe
    return vectors, result
