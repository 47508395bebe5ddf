"""Reproducible embeddings artifacts: the same inputs give a byte-identical model.tar.gz.

Builds the default onnx-int8 artifact twice from scratch (export, quantization, vendoring, quality gate on
a smaller corpus, pack) into two directories and compares the bytes. Measured resources are cached per artifact content
(inference/build/embeddings.py), so the second build reuses the first's measurement -- the test points the
cache at a fresh directory, so nothing from earlier runs is involved. A non-deterministic export or
quantization would change the staged content, force a new measurement, and fail the comparison.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from inference.build.embeddings import build_embeddings

pytestmark = pytest.mark.slow  # builds artifacts and venvs of the images' Pythons


def test_two_builds_of_the_same_inputs_are_byte_identical(tmp_path: Path) -> None:
    cache = tmp_path / "measurements"
    # a 300-text gate corpus (instead of 1200) keeps the two builds fast; everything else is the default build
    first = build_embeddings(None, tmp_path / "a", measure_cache=cache, corpus_size=300)
    second = build_embeddings(None, tmp_path / "b", measure_cache=cache, corpus_size=300)
    a, b = Path(first.path).read_bytes(), Path(second.path).read_bytes()
    assert first.sha256 == second.sha256 and a == b
    assert len(list(cache.iterdir())) == 1  # one content, measured once
    with tarfile.open(first.path) as tar:
        members = tar.getmembers()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    file_names = [m.name for m in members if m.isfile()]
    assert file_names == sorted(file_names)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "root", "root")}
    assert a[4:8] == b"\0\0\0\0"  # gzip header mtime
    files = {m.name for m in members if m.isfile()} - {"manifest.json"}
    assert set(manifest["files"]) == files
