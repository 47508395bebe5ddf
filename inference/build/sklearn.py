"""`python -m inference build sklearn`: a fitted scikit-learn estimator -> model.tar.gz for the sklearn image.

Layout (sagemaker-scikit-learn image contract): `model.joblib` at the root, `code/inference.py` (our
handler: the image has no default model_fn) with its `sls_*` helpers, `serving_spec.json` when the estimator
comes with a request contract, and `manifest.json`. The image finds the handler through two environment
variables the Model must set (the Pulumi program does): SAGEMAKER_PROGRAM=inference.py and
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code. Checked in aws/sagemaker-scikit-learn-container and
aws/sagemaker-containers: single-model serving starts gunicorn on `sagemaker_sklearn_container.serving:main`,
whose ServingEnv reads the module name from SAGEMAKER_PROGRAM (".py" stripped) and the module directory from
SAGEMAKER_SUBMIT_DIRECTORY; `_modules.import_module` copies that directory to /opt/ml/code, pip-installs it as
a package and imports the module; the Transformer then calls model_fn("/opt/ml/model").

Version skew is the classic failure of these endpoints: a pickle from another scikit-learn version fails or
silently mispredicts at startup. The build reads the version the estimator was pickled with from the pickle
bytes (BaseEstimator.__getstate__ stores `_sklearn_version`), without unpickling it in this environment, and
refuses a mismatch with the fix. `--train-in-container-env SCRIPT` (or `train_python(container)`) runs the
user's training in a cached venv with the image's Python, scikit-learn, numpy, scipy and joblib.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inference.build.artifact import ArtifactError, BuildResult, finish_build, write_manifest
from inference.build.containers import Container, get_container
from inference.manifest import ContainerRef, HandlerInfo, Manifest, ModelInfo
from inference.report import Resources

HANDLERS = Path(__file__).resolve().parents[1] / "handlers"
ROOT = Path(__file__).resolve().parents[2]
MODEL_FILE = "model.joblib"
SPEC_FILE = "serving_spec.json"
# Where the handler lives inside the image, for the Model's environment (see module docstring).
SERVING_ENV = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}

# What each image ships that a pickle depends on; training venvs replicate it.
# sklearn-1.4-2: docker/1.4-2/base/Dockerfile.cpu installs numpy==2.1.0 scikit-learn==1.4.2 (Python 3.10); scipy
# is "scipy>=1.9.0" there, so the newest scipy with numpy-2.1 wheels for 3.10 stands in; joblib is unpinned.
# sklearn-1.2-1: docker/1.2-1/base/Dockerfile.cpu installs scikit-learn==1.2.1 on Python 3.9; numpy 1.24.1 is
# what that image reports (numpy 1.x matters: numpy-2 pickles reference numpy._core, which numpy 1 lacks).
TRAIN_REQUIREMENTS: dict[str, list[str]] = {
    "sklearn-1.4-2": ["scikit-learn==1.4.2", "numpy==2.1.0", "scipy==1.14.1", "joblib==1.4.2", "threadpoolctl==3.5.0"],
    "sklearn-1.2-1": ["scikit-learn==1.2.1", "numpy==1.24.1", "scipy==1.10.1", "joblib==1.2.0", "threadpoolctl==3.1.0"],
}


class VersionSkewError(ValueError):
    """The estimator was pickled with a scikit-learn (or numpy) the target image does not run."""


def sklearn_container(key: str) -> Container:
    """The sklearn image for `key` (a key, tag or repository:tag), or a ValueError listing the allowed ones."""
    container = get_container(key)
    if container.framework != "sklearn":
        allowed = ", ".join(sorted(TRAIN_REQUIREMENTS))
        raise ValueError(f"container {key!r} is a {container.framework} image; scikit-learn artifacts need one of: "
                         f"{allowed}")
    return container


def _pinned(container: Container, package: str) -> str | None:
    for req in TRAIN_REQUIREMENTS.get(container.key, []):
        name, _, version = req.partition("==")
        if name == package:
            return version
    return None


def train_python(container: str = "sklearn-1.4-2", *, log: Callable[[str], None] | None = None) -> Path:
    """Python executable of a cached venv matching the image (created on first use, under .cache/venvs)."""
    from inference.build.venvs import ensure_venv

    c = sklearn_container(container)
    return ensure_venv(f"train-{c.key}", c.python, TRAIN_REQUIREMENTS[c.key], log=log)


def spec_path_for(estimator: Path) -> Path:
    """The sidecar serving spec a training script writes next to its estimator: est.joblib -> est.serving.json."""
    return Path(estimator).with_suffix(".serving.json")


# ------------------------------------------------------------------------------------- reading the pickle
# A string in a pickle: SHORT_BINUNICODE (protocol 4+), BINUNICODE (1-3) or UNICODE (0), optionally followed by
# a memo store (MEMOIZE / BINPUT / LONG_BINPUT / PUT). The first `_sklearn_version` key and its value are always
# spelled out; later estimators refer to them through the memo.
_KEY = re.compile(rb"(?:\x8c\x10|X\x10\x00\x00\x00|V)_sklearn_version\n?(?:\x94|q[\x00-\xff]|r[\x00-\xff]{4}|p\d+\n)?")
_VERSION = re.compile(r"^\d+\.\d+(?:\.\d+)?(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?(?:\+[\w.]+)?$")
# joblib.dump(compress=...) wraps the pickle in one of these (joblib/compressor.py prefixes); lz4 needs the lz4
# package and is refused with a hint.
_COMPRESSED = [(b"\x1f\x8b", gzip.decompress), (b"BZh", bz2.decompress), (b"\xfd7zXZ", lzma.decompress),
               (b"\x5d\x00\x00", lzma.decompress), (b"\x78", zlib.decompress)]


def _pickle_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:4] == b"\x04\x22\x4d\x18":
        raise VersionSkewError(f"{path} is lz4-compressed; save it with joblib.dump(..., compress=3) (zlib) or "
                               "uncompressed so its scikit-learn version can be checked")
    for magic, decompress in _COMPRESSED:  # a plain pickle starts with PROTO (0x80) or a protocol-0 opcode
        if raw.startswith(magic):
            try:
                return decompress(raw)
            except (OSError, ValueError, zlib.error, lzma.LZMAError):
                break  # not actually compressed: scan as is
    return raw


def pickled_versions(path: str | Path) -> dict[str, Any]:
    """What the pickle says about the environment that wrote it, read from its bytes (nothing is unpickled).

    Returns {"sklearn": sorted scikit-learn versions recorded (normally one), "numpy2": whether it references
    numpy._core (numpy >= 2 pickles, which numpy 1.x cannot load)}.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"estimator file {path} does not exist")
    data = _pickle_bytes(path)
    versions = set()
    for m in _KEY.finditer(data):
        i = m.end()
        op = data[i:i + 1]
        if op == b"\x8c":
            n = data[i + 1] if i + 1 < len(data) else 0
            value = data[i + 2:i + 2 + n]
        elif op == b"X":
            n = int.from_bytes(data[i + 1:i + 5], "little")
            value = data[i + 5:i + 5 + n] if n < 64 else b""
        elif op == b"V":
            end = data.find(b"\n", i + 1, i + 66)
            value = data[i + 1:end] if end > 0 else b""
        else:  # a memo reference: the same version string was spelled out earlier
            continue
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _VERSION.match(text):
            versions.add(text)
    return {"sklearn": sorted(versions), "numpy2": b"numpy._core" in data}


def check_estimator(path: str | Path, container: Container) -> str:
    """The scikit-learn version `path` was pickled with; VersionSkewError unless `container` runs exactly it."""
    path = Path(path)
    found = pickled_versions(path)
    want = container.packages["scikit-learn"]
    fix = (
        f"Fix: retrain and pickle it with scikit-learn {want} on Python {container.python}, e.g. "
        f"`python -m inference build sklearn --train-in-container-env YOUR_TRAIN.py --estimator {path} "
        f"--container {container.key} --out DIR` (runs `YOUR_TRAIN.py --out {path}` in a venv matching the image), "
        f"or for the worked example `python -m inference.examples.call_time.train --container {container.key} "
        f"--out {path}`"
    )
    others = [k for k in TRAIN_REQUIREMENTS if k != container.key]
    if not found["sklearn"]:
        raise VersionSkewError(
            f"{path} records no scikit-learn version (`_sklearn_version`): it is not a pickled scikit-learn "
            f"estimator, or it was written by an unsupported serializer (use joblib.dump or pickle.dump). {fix}."
        )
    if found["sklearn"] != [want]:
        alt = [k for k in others if get_container(k).packages["scikit-learn"] in found["sklearn"]]
        hint = f" Or target the image that runs it: --container {alt[0]}." if alt else ""
        raise VersionSkewError(
            f"{path} was pickled with scikit-learn {', '.join(found['sklearn'])}, but {container.key} "
            f"({container.image}) runs scikit-learn {want} on Python {container.python}: unpickling across "
            f"scikit-learn versions is unsupported and fails or mispredicts when the endpoint starts. {fix}.{hint}"
        )
    numpy = _pinned(container, "numpy")
    if found["numpy2"] and numpy and numpy.startswith("1."):
        raise VersionSkewError(
            f"{path} was pickled with numpy >= 2 (it references numpy._core), but {container.key} runs numpy {numpy}, "
            f"which cannot load it. {fix}."
        )
    return want


def run_training_script(script: Path, estimator: Path, container: str, *, log: Callable[[str], None]) -> Path:
    """Run `script --out estimator` with the image-matching venv's Python (repo root on PYTHONPATH)."""
    script = Path(script)
    if not script.is_file():
        raise FileNotFoundError(f"training script {script} does not exist")
    python = train_python(container, log=log)
    estimator.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    before = estimator.stat().st_mtime_ns if estimator.exists() else None
    log(f"training: {python} {script} --out {estimator}")
    proc = subprocess.run([str(python), str(script), "--out", str(estimator)], env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"training script {script} failed with exit code {proc.returncode} (see its output above)")
    if not estimator.is_file() or estimator.stat().st_mtime_ns == before:
        raise RuntimeError(f"training script {script} exited 0 but did not write {estimator}: "
                           "it must accept --out PATH and save the fitted estimator there")
    return estimator


# ------------------------------------------------------------------------------------------------ the build
def _load_spec(path: Path | None) -> dict | None:
    if path is None:
        return None
    from inference.handlers.sklearn import SpecError, validate_spec

    try:
        spec = json.loads(Path(path).read_text())
        return validate_spec(spec)
    except (OSError, ValueError) as e:
        kind = "is not valid" if isinstance(e, (SpecError, json.JSONDecodeError)) else "cannot be read"
        raise ValueError(f"serving spec {path} {kind}: {e}") from e


def _sample_request(spec: dict | None) -> bytes | None:
    """A maximum-size valid request, to measure peak memory at a full batch (None: no spec, nothing to build from)."""
    if spec is None:
        return None
    sweep = (spec.get("sweep") or {}).get("feature")
    instance = {}
    for f in spec["features"]:
        if f["name"] == sweep or f["name"] in spec.get("request_level", []):
            continue
        instance[f["name"]] = f["allowed"][0] if f["type"] == "category" else f.get("min", 0)
    return json.dumps({"instances": [instance] * spec.get("max_instances", 1000)}).encode()


def example_request(spec: dict | None) -> dict | None:
    """A one-instance request the handler accepts, for the stack's ready-to-run invoke example (None: no spec).

    Each feature takes its first allowed value (categories) or its default, else its minimum, else 0; the
    swept and request-level features are left out, so the handler applies their defaults.
    """
    if spec is None:
        return None
    skip = set(spec.get("request_level") or []) | {(spec.get("sweep") or {}).get("feature")}
    instance = {}
    for feat in spec["features"]:
        if feat["name"] in skip:
            continue
        if feat["type"] == "category":
            instance[feat["name"]] = feat["allowed"][0]
        else:
            instance[feat["name"]] = feat.get("default", feat.get("min", 0))
    return {"instances": [instance]}


def build_sklearn(
    estimator: str | Path,
    out_dir: str | Path,
    *,
    container: str = "sklearn-1.4-2",
    serving_spec: str | Path | None = None,
    measure: bool = True,
    log: Callable[[str], None] | None = None,
) -> BuildResult:
    """Check, package and (optionally) measure a fitted estimator; writes out_dir/model.tar.gz.

    `serving_spec` defaults to the estimator's sidecar (`spec_path_for`) when that exists. With `measure`, the
    handler is loaded in the image-matching venv and sent a full batch, and the peak RSS (rounded up to 64 MB)
    and cold load time (rounded up to 1 s) go into the build report beside the tarball (never into its bytes).
    """
    say = log or (lambda msg: print(msg, file=sys.stderr))
    c = sklearn_container(container)
    est = Path(estimator)
    version = check_estimator(est, c)
    if serving_spec is None and spec_path_for(est).is_file():
        serving_spec = spec_path_for(est)
    spec = _load_spec(Path(serving_spec) if serving_spec is not None else None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say(f"building sklearn artifact for {c.image} (scikit-learn {version}, Python {c.python}) from {est}")
    with tempfile.TemporaryDirectory(prefix="sls-sklearn-") as tmp:
        stage = Path(tmp) / "model"
        (stage / "code").mkdir(parents=True)
        shutil.copyfile(est, stage / MODEL_FILE)
        shutil.copyfile(HANDLERS / "sklearn.py", stage / "code" / "inference.py")
        for helper in ("sls_errors.py", "sls_integrity.py"):
            shutil.copyfile(HANDLERS / helper, stage / "code" / helper)
        if spec is not None:
            (stage / SPEC_FILE).write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
        manifest = Manifest(
            framework="sklearn",
            container=ContainerRef(**c.as_dict()),
            runtime="sklearn",
            model=ModelInfo(file=MODEL_FILE, sklearn_version=version, source=est.name,
                            serving_spec=SPEC_FILE if spec is not None else None),
            handler=HandlerInfo(program=SERVING_ENV["SAGEMAKER_PROGRAM"], example_request=example_request(spec),
                                environment=dict(SERVING_ENV), contract="spec" if spec is not None else "generic"),
        )
        manifest = write_manifest(stage, manifest)
        body = _sample_request(spec) or json.dumps({"instances": [[0.0]]}).encode()
        measured = _measure(stage, c, body, generic=spec is None, log=say) if measure else None
        result = finish_build(stage, out, manifest, resources=Resources(**measured) if measured else None)
    say(f"wrote {result.path} ({result.size_bytes} bytes, sha256 {result.sha256[:12]}...) and its build report")
    return result


def _measure(stage: Path, c: Container, body: bytes, *, generic: bool, log: Callable[[str], None]) -> dict | None:
    """Load the handler in the image-matching venv and answer one request: proves the artifact serves there."""
    from inference.build.measure import MeasureError, measure_handler

    python = train_python(c.key, log=log)
    log(f"loading the artifact with {python} and sending a full batch")
    try:
        r = measure_handler(stage, body, python=str(python))
    except MeasureError as e:
        if generic:  # without a spec we cannot know a valid request: load-only figures are not worth guessing
            log(f"not measured (no serving spec, so no representative request): {str(e).splitlines()[0]}")
            return None
        raise ArtifactError(f"the built artifact does not serve in a {c.key}-matching environment: {e}") from e
    return {"peak_rss_mb": int(math.ceil(r["peak_rss_mb"] / 64.0) * 64),
            "cold_load_s": float(math.ceil(r["cold_load_s"])),
            "measured_with": f"Python {r['python_version']}, {' '.join(TRAIN_REQUIREMENTS[c.key])}"}


# ------------------------------------------------------------------------------------------------ the command
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--estimator", required=True, type=Path,
                        help="fitted estimator/pipeline saved with joblib.dump or pickle.dump")
    parser.add_argument("--container", default="sklearn-1.4-2",
                        help=f"target image: one of {', '.join(TRAIN_REQUIREMENTS)} (or its tag); "
                             "default sklearn-1.4-2")
    parser.add_argument("--out", required=True, type=Path, help="directory for model.tar.gz")
    parser.add_argument("--serving-spec", type=Path, default=None,
                        help="JSON request contract (default: the estimator's sidecar NAME.serving.json if present)")
    parser.add_argument("--train-in-container-env", metavar="SCRIPT", type=Path, default=None,
                        help="first run `SCRIPT --out ESTIMATOR` with the image's Python and scikit-learn")
    parser.add_argument("--no-measure", dest="measure", action="store_false",
                        help="skip loading the artifact in an image-matching venv to record memory and load time")


def run(args: argparse.Namespace) -> int:
    def log(msg: str) -> None:  # progress on stderr; the result is the last stdout line
        print(msg, file=sys.stderr)

    try:
        if args.train_in_container_env is not None:
            run_training_script(args.train_in_container_env, args.estimator, args.container, log=log)
        result = build_sklearn(args.estimator, args.out, container=args.container, serving_spec=args.serving_spec,
                               measure=args.measure, log=log)
    except (VersionSkewError, ValueError, FileNotFoundError, ArtifactError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(result.to_json())
    return 0
