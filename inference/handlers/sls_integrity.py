"""Artifact integrity check run by every handler's model_fn (standard library only).

The manifest written at build time lists the sha256 of every file in the artifact; a file that was
changed, removed or added afterwards makes model_fn refuse to load, with the file named in the error.
"""

from __future__ import annotations

import hashlib
import json
import os

MANIFEST_NAME = "manifest.json"


class IntegrityError(RuntimeError):
    """The unpacked artifact does not match its manifest."""


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_manifest(model_dir: str) -> dict:
    """Check every file of model_dir against manifest.json; return the manifest."""
    path = os.path.join(model_dir, MANIFEST_NAME)
    try:
        with open(path) as f:
            manifest = json.load(f)
        expected = manifest["files"]
    except (OSError, ValueError, KeyError) as e:
        raise IntegrityError(f"artifact has no valid {MANIFEST_NAME} in {model_dir}: {e}") from e
    problems = []
    present = set()
    for dirpath, dirnames, filenames in os.walk(model_dir):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), model_dir).replace(os.sep, "/")
            if rel == MANIFEST_NAME or rel.endswith(".pyc"):
                continue
            present.add(rel)
            if rel not in expected:
                problems.append(f"unexpected file {rel}")
            elif _sha256(os.path.join(model_dir, rel)) != expected[rel]:
                problems.append(f"{rel} was modified (sha256 differs from the manifest)")
    problems += [f"missing file {rel}" for rel in sorted(set(expected) - present)]
    if problems:
        shown = "; ".join(sorted(problems)[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        raise IntegrityError(f"artifact integrity check failed, refusing to load: {shown}. Rebuild the artifact.")
    return manifest
