"""Reproducible model.tar.gz files with an integrity manifest.

Why: the Pulumi program keys the S3 object (and so the SageMaker Model) on the tarball's sha256, so the
same inputs must give the same bytes (sorted entries, fixed mtime/owner/mode, gzip mtime 0), and the
endpoint must refuse an artifact whose files were changed after the build (`verify_manifest`, called by
every handler's model_fn).

Layout of every artifact (each container's contract): model files at the root, the handler in
`code/inference.py`, vendored packages under `code/`, and `manifest.json` at the root listing the sha256 of
every other file plus build metadata (framework, container, runtime, quality figures, peak RSS ...).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inference.handlers.sls_integrity import IntegrityError, verify_manifest

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
_MTIME = 0  # 1970-01-01: fixed so rebuilding gives identical bytes


class ArtifactError(ValueError):
    """The artifact is missing, malformed or was changed after it was built."""


@dataclass(frozen=True)
class BuildResult:
    """What a build prints as the last line of stdout (one JSON object) and returns to Python callers."""

    path: str
    sha256: str
    size_bytes: int
    framework: str
    container: dict[str, str]  # {"key", "repository", "tag", "python"}
    runtime: str | None = None
    manifest: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _walk(root: Path) -> list[str]:
    """Every regular file below root as a sorted POSIX relative path (symlinks are refused)."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            p = Path(dirpath, name)
            if p.is_symlink():
                raise ArtifactError(f"{p}: symlinks are not allowed in an artifact (vendor the real file)")
            rel = p.relative_to(root).as_posix()
            if "__pycache__/" in rel or rel.endswith(".pyc"):
                continue
            out.append(rel)
    return sorted(out)


def write_manifest(root: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Hash every file below root and write root/manifest.json; returns the manifest."""
    files = {rel: sha256_file(root / rel) for rel in _walk(root) if rel != MANIFEST_NAME}
    manifest = {"format": MANIFEST_FORMAT, **metadata, "files": files}
    (root / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def pack(root: Path, out: Path) -> str:
    """Write root's files into a byte-reproducible tar.gz at out; returns its sha256."""
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for rel in _walk(root):
            parts = rel.split("/")[:-1]
            for i in range(1, len(parts) + 1):  # explicit, sorted directory entries
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    tar.addfile(_info(d, tarfile.DIRTYPE, 0o755, 0))
            data = (root / rel).read_bytes()
            mode = 0o755 if os.access(root / rel, os.X_OK) else 0o644
            tar.addfile(_info(rel, tarfile.REGTYPE, mode, len(data)), io.BytesIO(data))
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(buf.getvalue())
    tmp.replace(out)
    return sha256_file(out)


def _info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.size, ti.mtime = kind, mode, size, _MTIME
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def read_manifest(tar_path: Path) -> dict[str, Any]:
    """The manifest inside a built model.tar.gz, without unpacking the rest."""
    tar_path = Path(tar_path)
    if not tar_path.is_file():
        raise ArtifactError(f"artifact {tar_path} does not exist; build it with `python -m inference build ...`")
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            member = tar.extractfile(MANIFEST_NAME)
            if member is None:
                raise KeyError(MANIFEST_NAME)
            return json.loads(member.read())
    except (KeyError, tarfile.TarError, OSError, json.JSONDecodeError) as e:
        raise ArtifactError(
            f"{tar_path} is not an artifact built by inference/ (no readable {MANIFEST_NAME}: {e})"
        ) from e


def unpack(tar_path: Path, dest: Path) -> Path:
    """Unpack an artifact safely (no absolute paths or `..`) and verify it against its manifest."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "r:gz") as tar:
        tar.extractall(dest, filter="data")
    verify_manifest(dest)
    return dest


__all__ = [
    "ArtifactError", "BuildResult", "IntegrityError", "MANIFEST_NAME", "pack", "read_manifest",
    "sha256_file", "unpack", "verify_manifest", "write_manifest",
]
