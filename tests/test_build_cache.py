"""inference/build/cache.py: one cache of built artifacts for the Pulumi program, the demo, the bench and tests.

As a spec: the key changes with every input a build reads and with nothing else; a build runs once and its
tarball appears only when complete; a failing build leaves nothing behind.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from inference.build import cache as bc


def _pkg(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    (pkg / "handlers").mkdir(parents=True)
    (pkg / "handlers" / "h.py").write_text("A = 1\n")
    (pkg / "examples").mkdir()
    (pkg / "examples" / "train.py").write_text("# a trainer a sklearn recipe imports\n")
    return pkg


def test_sources_digest_follows_build_inputs_only(tmp_path: Path) -> None:
    pkg = _pkg(tmp_path)
    before = bc.sources_digest(pkg)
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"bytecode")
    for tool in bc.NOT_BUILD_INPUTS:  # the CLI, the tools and the cache itself are not build inputs
        (pkg / tool).write_text("# edited\n")
    assert bc.sources_digest(pkg) == before
    (pkg / "examples" / "train.py").write_text("# changed trainer\n")
    assert bc.sources_digest(pkg) != before
    (pkg / "examples" / "train.py").write_text("# a trainer a sklearn recipe imports\n")
    assert bc.sources_digest(pkg) == before
    (pkg / "handlers" / "h.py").write_text("A = 2\n")
    assert bc.sources_digest(pkg) != before


def test_artifact_key_changes_with_every_input(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"1")
    k = bc.artifact_key({"runtime": "onnx"}, [model], sources="s")
    assert bc.artifact_key({"runtime": "onnx"}, [model], sources="s") == k and len(k) == 16
    assert bc.artifact_key({"runtime": "torch"}, [model], sources="s") != k
    assert bc.artifact_key({"runtime": "onnx"}, [model], sources="t") != k
    (model / "weights.bin").write_bytes(b"2")
    assert bc.artifact_key({"runtime": "onnx"}, [model], sources="s") != k


def test_artifact_key_includes_the_build_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    k = bc.artifact_key({"runtime": "onnx"}, sources="s")
    monkeypatch.setattr(bc, "_package_versions", lambda: {"onnxruntime": "9.9.9"})
    assert bc.artifact_key({"runtime": "onnx"}, sources="s") != k


def test_artifact_key_changes_when_the_strip_tool_appears_or_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    from inference.build import vendor

    monkeypatch.setattr(vendor, "elf_strip_tool", lambda: None)
    without = bc.artifact_key({"runtime": "onnx"}, sources="s")
    monkeypatch.setattr(vendor, "elf_strip_tool", lambda: vendor.StripTool("/usr/bin/strip", "GNU strip 2.40"))
    with_one = bc.artifact_key({"runtime": "onnx"}, sources="s")
    monkeypatch.setattr(vendor, "elf_strip_tool", lambda: vendor.StripTool("/usr/bin/strip", "GNU strip 2.42"))
    assert len({without, with_one, bc.artifact_key({"runtime": "onnx"}, sources="s")}) == 3


def test_cached_artifact_builds_once_and_reuses(tmp_path: Path) -> None:
    calls = []

    def build(work: Path) -> Path:
        calls.append(work)
        work.mkdir(parents=True)
        (work / "out.tar.gz").write_bytes(b"artifact")
        return work / "out.tar.gz"

    logs: list[str] = []
    first = bc.cached_artifact(tmp_path / "a", build)
    again = bc.cached_artifact(tmp_path / "a", build, log=logs.append)
    assert first == again == tmp_path / "a" / bc.ARTIFACT_NAME and first.read_bytes() == b"artifact"
    assert len(calls) == 1 and "reusing" in logs[0]
    assert not (tmp_path / "a" / "work").exists()  # the scratch folder is gone


def test_concurrent_callers_share_one_build(tmp_path: Path) -> None:
    calls, started = [], threading.Event()

    def build(work: Path) -> Path:
        calls.append(1)
        started.set()
        work.mkdir(parents=True)
        (work / "t").write_bytes(b"x")
        return work / "t"

    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(bc.cached_artifact(tmp_path / "c", build)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1


def test_a_failed_or_empty_build_leaves_nothing_and_says_why(tmp_path: Path) -> None:
    def boom(work: Path) -> Path:
        work.mkdir(parents=True)
        (work / "half").write_bytes(b"partial")
        raise ValueError("quality gate failed")

    with pytest.raises(ValueError, match="quality gate failed"):
        bc.cached_artifact(tmp_path / "f", boom)
    assert not (tmp_path / "f" / bc.ARTIFACT_NAME).exists() and not (tmp_path / "f" / "work").exists()
    with pytest.raises(RuntimeError, match="produced no file"):
        bc.cached_artifact(tmp_path / "g", lambda work: work / "missing.tar.gz")
