"""One cache of built artifacts under build/artifacts/, shared by the Pulumi program, the demo, the bench and tests.

Why: a build takes a minute and re-measures memory, so an artifact is built once and reused while nothing it
is made from changes -- and then its bytes (hence its sha256, the S3 object and the SageMaker Model) stay put.
"Made from" is one definition for every caller (artifact_key): the caller's inputs (recipe or runtime, target
container), the trees it reads (model weights), the inference/ sources a build imports, and the build
environment's package versions and tools (the ELF strip that shrinks vendored libraries, or its absence).
A build runs under a file lock, in a scratch folder, and its model.tar.gz is moved into place only when
complete, so concurrent callers (`pulumi preview` and a test run) share one build.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / "build" / "artifacts"
ARTIFACT_NAME = "model.tar.gz"
# inference/ modules no build imports: editing the CLI, the tools or this cache must not rebuild artifacts.
NOT_BUILD_INPUTS = ("__main__.py", "bench.py", "build_cache.py", "cost.py", "demo.py", "serve.py")
# Build-environment packages whose version can change what a build writes.
BUILD_PACKAGES = ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime", "tokenizers", "numpy",
                  "scikit-learn")


def tree_digest(root: Path, h: Any, skip: Iterable[str] = ()) -> None:
    """Feed every file below root (path + bytes, sorted; no caches, dotfiles or bytecode) into hash h.

    skip: paths relative to root; one ending in "/" skips a folder.
    """
    skip = tuple(skip)
    for p in sorted(Path(root).rglob("*")):
        rel = p.relative_to(root).as_posix()
        if any(rel == s or (s.endswith("/") and rel.startswith(s)) for s in skip):
            continue
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".") and p.suffix != ".pyc":
            h.update(rel.encode() + b"\0")
            with open(p, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
            h.update(b"\0")


def sources_digest(root: Path = ROOT / "inference") -> str:
    """sha256 over the inference/ sources a build uses: a changed handler or builder invalidates cached builds."""
    h = hashlib.sha256()
    tree_digest(root, h, NOT_BUILD_INPUTS)
    return h.hexdigest()


def _package_versions() -> dict[str, str]:
    versions = {}
    for pkg in BUILD_PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "absent"
    return versions


def _tool_versions() -> dict[str, str]:
    """Build tools whose presence or version changes the bytes a build writes."""
    from inference.build.vendor import elf_strip_tool

    strip = elf_strip_tool()
    return {"strip": strip.version if strip else "absent"}


def artifact_key(inputs: Mapping[str, Any], trees: Iterable[Path] = (), *, sources: str | None = None) -> str:
    """16 hex digits naming a build: inputs (JSON-able), the trees it reads, our sources, the build env."""
    h = hashlib.sha256()
    h.update(json.dumps({"inputs": inputs, "python": list(sys.version_info[:2]), "packages": _package_versions(),
                         "tools": _tool_versions(), "sources": sources or sources_digest()},
                        sort_keys=True, default=str).encode())
    for tree in trees:
        tree_digest(Path(tree), h)
    return h.hexdigest()[:16]


def cached_artifact(directory: Path, build: Callable[[Path], Path], *,
                    log: Callable[[str], None] | None = None) -> Path:
    """directory/model.tar.gz: reused if present, else build(scratch_dir) -> tarball, moved into place.

    Exceptions from build propagate (the caller words them for its user); a build that returns no file is a
    RuntimeError. The scratch folder is removed either way.
    """
    directory = Path(directory)
    target = directory / ARTIFACT_NAME
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            if log:
                log(f"reusing {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} (inputs unchanged)")
            return target
        work = directory / "work"
        shutil.rmtree(work, ignore_errors=True)
        try:
            built = Path(build(work))
            if not built.is_file():
                raise RuntimeError(f"the build produced no file at {built}")
            built.replace(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target
