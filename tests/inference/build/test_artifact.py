"""Byte-stable artifacts: the same sources and pins give the same sha256 wherever they are built.

Each artifact kind (the default onnx-int8 embeddings, the call-time scikit-learn model) is built twice: once in
this checkout, through the artifact cache (the build every other test uses), and once in a separate copy of the
repository with its own empty HOME, empty artifact cache and empty wheel cache, as a fresh CI runner would.
Only the image-matching venvs are shared (installed packages pinned by the
containers' requirements, not build outputs; building them twice would add minutes and test nothing about the
artifact). The machine-dependent figures (peak RSS, cold load, the quality gate's cosines on this CPU) land in
the build report beside each tarball, never in it: the two reports may differ, the tarballs may not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow  # four builds (two in parallel at a time)

# Run inside a copy: the embeddings build through the builder (a 300-text gate corpus instead of 1200 keeps it
# fast; the corpus does not shape the bytes), the scikit-learn one through the stack's recipe and cache.
BUILD = r'''
import json, sys
from pathlib import Path
kind, out = sys.argv[1], Path(sys.argv[2])
if kind == "embeddings":
    from inference.build.embeddings import build_embeddings
    r = build_embeddings(None, out, corpus_size=300)
    print(json.dumps({"path": r.path, "sha256": r.sha256, "report": r.report}))
else:
    from inference.build.cache import recipe_artifact
    from inference.build.containers import SKLEARN_1_4
    from inference.build.artifact import sha256_file
    from inference.report import report_path
    p = recipe_artifact({"kind": "sklearn", "trainer": "inference.examples.call_time.train:train_estimator"},
                        SKLEARN_1_4)
    print(json.dumps({"path": str(p), "sha256": sha256_file(p), "report": str(report_path(p))}))
'''


def checkout(dest: Path) -> Path:
    """A copy of the tracked sources (what a clone has), without any of this checkout's caches."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def build_here(kind: str) -> dict:
    """This checkout's build, through the cache (built once per test session, shared with the other tests)."""
    from inference.build.artifact import sha256_file
    from inference.build.cache import default_embeddings_artifact, recipe_artifact
    from inference.build.containers import SKLEARN_1_4
    from inference.report import report_path

    if kind == "embeddings":
        path = default_embeddings_artifact()
    else:
        path = recipe_artifact({"kind": "sklearn", "trainer": "inference.examples.call_time.train:train_estimator"},
                               SKLEARN_1_4)
    return {"path": str(path), "sha256": sha256_file(path), "report": str(report_path(path))}


def build_in_fresh_checkout(tmp_path: Path, kind: str) -> dict:
    repo = checkout(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "1",
           "PYENV_ROOT": os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")),
           "SLS_VENV_CACHE": str(ROOT / ".cache" / "venvs")}
    proc = subprocess.run([sys.executable, "-c", BUILD, kind, str(tmp_path / "out")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["embeddings", "sklearn"])
def test_a_fresh_checkout_builds_the_same_bytes(tmp_path: Path, kind: str) -> None:
    a, b = build_here(kind), build_in_fresh_checkout(tmp_path, kind)
    assert Path(b["path"]).is_relative_to(tmp_path) and not Path(a["path"]).is_relative_to(tmp_path)
    assert a["sha256"] == b["sha256"], f"{kind}: a fresh checkout built different bytes than this one"
    assert Path(a["path"]).read_bytes() == Path(b["path"]).read_bytes()
    # what the machine measured sits beside the bytes, names them, and records what determined them
    for r in (a, b):
        report = json.loads(Path(r["report"]).read_text())
        assert report["artifact_sha256"] == r["sha256"] and report["determined_by"]["sources"]
        assert report["resources"]["peak_rss_mb"] > 0
    with tarfile.open(a["path"]) as tar:
        members = tar.getmembers()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert not {"resources", "quality"} & set(manifest), "measured figures inside the tarball"
    file_names = [m.name for m in members if m.isfile()]
    assert file_names == sorted(file_names)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "root", "root")}
    assert Path(a["path"]).read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime
    assert set(manifest["files"]) == {m.name for m in members if m.isfile()} - {"manifest.json"}
