"""Reproducible model.tar.gz files with an integrity manifest.

Why: the Pulumi program keys the S3 object (and so the SageMaker Model) on the tarball's sha256, so the
same inputs must give the same bytes (sorted entries, fixed mtime/owner/mode, gzip mtime 0), and the
endpoint must refuse an artifact whose files were changed after the build (`verify_manifest`, called by
every handler's model_fn).

Layout of every artifact (each container's contract): model files at the root, the handler in
`code/inference.py`, vendored packages under `code/`, and `manifest.json` at the root: the typed schema of
inference/manifest.py, listing the sha256 of every other file plus build metadata. Beside the tarball, not in
it: model.report.json (inference/report.py) with what this machine measured.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inference.handlers.sls_integrity import IntegrityError, verify_manifest
from inference.manifest import MANIFEST_FORMAT, MANIFEST_NAME, ArtifactError, Manifest, read_manifest
from inference.report import BuildReport, Quality, Resources, build_machine, write_report

_MTIME = 0  # 1970-01-01: fixed so rebuilding gives identical bytes


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
    report: str | None = None  # model.report.json beside the tarball (inference/report.py)

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


def write_manifest(root: Path, manifest: Manifest | Mapping[str, Any]) -> Any:
    """Hash every file below root into the manifest's `files` and write root/manifest.json; returns it.

    The builds pass a Manifest and get it back with its files. A plain mapping is written unchecked (with
    format and files added) and returned as a dict: tests use it to make malformed artifacts.
    """
    root = Path(root)
    files = {rel: sha256_file(root / rel) for rel in _walk(root) if rel != MANIFEST_NAME}
    if isinstance(manifest, Manifest):
        manifest = dataclasses.replace(manifest, files=files)
        (root / MANIFEST_NAME).write_text(manifest.to_json())
        return manifest
    raw = {"format": MANIFEST_FORMAT, **manifest, "files": files}
    (root / MANIFEST_NAME).write_text(json.dumps(raw, indent=1, sort_keys=True) + "\n")
    return raw


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


def finish_build(stage: Path, out_dir: Path, manifest: Manifest, *, resources: Resources | None = None,
                 quality: Quality | None = None, determined_by: Mapping[str, Any] | None = None) -> BuildResult:
    """Pack stage into out_dir/model.tar.gz and write its build report beside it; the builds' last step.

    The manifest inside holds only what is pinned or derived from the sources; resources and quality are this
    machine's figures and go into the report, so the tarball's sha256 does not depend on where it was built.
    """
    from inference.build.cache import build_inputs

    for stray in stage.rglob("__pycache__"):  # written while measuring; never part of the artifact
        shutil.rmtree(stray)
    tarball = Path(out_dir) / "model.tar.gz"
    digest = pack(stage, tarball)
    size = tarball.stat().st_size
    report = BuildReport(
        artifact_sha256=digest, size_bytes=size, framework=manifest.framework, runtime=manifest.runtime,
        container=manifest.container.to_dict(), determined_by=dict(determined_by or build_inputs()),
        resources=resources or Resources(), quality=quality, built_on=build_machine(),
    )
    report_file = write_report(tarball, report)
    return BuildResult(path=str(tarball), sha256=digest, size_bytes=size, framework=manifest.framework,
                       container=manifest.container.to_dict(), runtime=manifest.runtime,
                       manifest=manifest.to_dict(), report=str(report_file))


def unpack(tar_path: Path, dest: Path) -> Path:
    """Unpack an artifact safely (no absolute paths or `..`) and verify it against its manifest."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "r:gz") as tar:
        tar.extractall(dest, filter="data")
    verify_manifest(dest)
    return dest


__all__ = [
    "ArtifactError", "BuildResult", "IntegrityError", "MANIFEST_NAME", "Manifest", "pack", "read_manifest",
    "sha256_file", "unpack", "verify_manifest", "write_manifest",
]
