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
    """A stand-in inference/ tree with a file in every place the digest includes or leaves out."""
    pkg = tmp_path / "pkg"
    for rel, text in {
        "build/embeddings.py": "A = 1\n", "handlers/h.py": "B = 1\n", "limits.py": "C = 1\n",
        "manifest.py": "D = 1\n", "tools/serve.py": "E = 1\n", "__main__.py": "F = 1\n",
        "examples/call_time/train.py": "G = 1\n",
    }.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    return pkg


def test_editing_a_tool_or_the_cli_keeps_the_sources_digest(tmp_path: Path) -> None:
    pkg = _pkg(tmp_path)
    before = bc.sources_digest(pkg)
    for rel in ("tools/serve.py", "__main__.py", "examples/call_time/train.py"):
        (pkg / rel).write_text("# edited\n")
    (pkg / "tools" / "new_tool.py").write_text("# new\n")
    (pkg / "build" / "__pycache__").mkdir()
    (pkg / "build" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"bytecode")
    assert bc.sources_digest(pkg) == before


@pytest.mark.parametrize("rel", ["build/embeddings.py", "build/new_module.py", "handlers/h.py", "limits.py",
                                 "manifest.py"])
def test_editing_what_shapes_the_bytes_changes_the_sources_digest(tmp_path: Path, rel: str) -> None:
    pkg = _pkg(tmp_path)
    before = bc.sources_digest(pkg)
    (pkg / rel).write_text("# edited\n")
    assert bc.sources_digest(pkg) != before


def test_a_sklearn_recipe_adds_its_trainer_package(tmp_path: Path) -> None:
    pkg = _pkg(tmp_path)
    trainer = pkg / "examples" / "call_time"
    before = bc.sources_digest(pkg, extra=[trainer])
    assert before != bc.sources_digest(pkg)
    (trainer / "features.py").write_text("# a module the trainer imports\n")
    assert bc.sources_digest(pkg, extra=[trainer]) != before
    recipe = {"kind": "sklearn", "trainer": "inference.examples.call_time.train:train_estimator"}
    assert bc.recipe_sources(recipe) == [bc.INFERENCE / "examples" / "call_time"]
    assert bc.recipe_sources({"kind": "embeddings", "runtime": "onnx"}) == []


def test_the_real_tree_digest_ignores_the_tools(tmp_path: Path) -> None:
    """The same on a copy of the real inference/ tree: tools/ is outside the key, build/ and handlers/ inside."""
    import shutil

    copy = tmp_path / "inference"
    shutil.copytree(bc.INFERENCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = bc.sources_digest(copy)
    (copy / "tools" / "bench.py").write_text("# edited\n")
    assert bc.sources_digest(copy) == before
    (copy / "handlers" / "sls_errors.py").write_text("# edited\n")
    assert bc.sources_digest(copy) != before


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


# ------------------------------------------------------------------------------------------------ recipes
def _fake_builders(calls: list):
    def build(recipe, out_dir: Path, container) -> Path:
        calls.append((dict(recipe), container.key))
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "model.tar.gz").write_bytes(repr(sorted(recipe.items())).encode())
        return out_dir / "model.tar.gz"

    return {"embeddings": build, "sklearn": build}


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The packaged default weights, replaced by a small folder (its bytes are part of the key)."""
    from inference.build import hub

    model = tmp_path / "minilm"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"1")
    monkeypatch.setattr(hub, "default_model_path", lambda: model)
    return model


def test_the_stack_default_recipe_and_the_demo_share_one_build(tmp_path: Path, monkeypatch, fake_model) -> None:
    from inference.build.containers import HF_PY312

    calls: list = []
    monkeypatch.setattr(bc, "BUILDERS", _fake_builders(calls))
    monkeypatch.setattr(bc, "BUILD_DIR", tmp_path / "artifacts")
    stack_recipe = {"kind": "embeddings", "model": None, "runtime": "onnx-int8", "revision": None}
    from_stack = bc.recipe_artifact(stack_recipe, HF_PY312)
    from_demo = bc.default_embeddings_artifact()
    also_short = bc.recipe_artifact({"kind": "embeddings"}, HF_PY312)
    assert from_stack == from_demo == also_short and len(calls) == 1
    assert calls[0] == (dict(bc.DEFAULT_EMBEDDINGS_RECIPE), HF_PY312.key)


def test_the_recipe_key_covers_recipe_container_model_tree_and_sources(fake_model) -> None:
    from inference.build.containers import HF_PY311, HF_PY312

    recipe = dict(bc.DEFAULT_EMBEDDINGS_RECIPE)
    k = bc.recipe_key(recipe, HF_PY312, sources="s")
    assert bc.recipe_key(recipe, HF_PY312, sources="s") == k
    assert bc.recipe_key({**recipe, "runtime": "onnx"}, HF_PY312, sources="s") != k
    assert bc.recipe_key(recipe, HF_PY311, sources="s") != k
    assert bc.recipe_key(recipe, HF_PY312, sources="t") != k
    (fake_model / "model.safetensors").write_bytes(b"2")  # the packaged weights changed
    assert bc.recipe_key(recipe, HF_PY312, sources="s") != k


def test_a_local_model_folder_is_keyed_by_its_bytes_and_a_hub_id_by_its_revision(tmp_path: Path) -> None:
    from inference.build.containers import HF_PY312

    local = tmp_path / "my-model"
    local.mkdir()
    (local / "model.safetensors").write_bytes(b"1")
    recipe = {"kind": "embeddings", "model": str(local), "runtime": "onnx"}
    k = bc.recipe_key(recipe, HF_PY312, sources="s")
    (local / "model.safetensors").write_bytes(b"2")
    assert bc.recipe_key(recipe, HF_PY312, sources="s") != k
    hub = {"kind": "embeddings", "model": "org/model", "runtime": "onnx", "revision": "a" * 40}
    assert bc.recipe_trees(hub) == []
    assert bc.recipe_key(hub, HF_PY312, sources="s") != bc.recipe_key({**hub, "revision": "b" * 40}, HF_PY312,
                                                                       sources="s")


def test_recipe_artifact_takes_injected_builders_and_build_dir(tmp_path: Path) -> None:
    from inference.build.containers import SKLEARN_1_4

    calls: list = []
    recipe = {"kind": "sklearn", "trainer": "inference.examples.call_time.train:train_estimator"}
    logs: list[str] = []
    a = bc.recipe_artifact(recipe, SKLEARN_1_4, builders=_fake_builders(calls), build_dir=tmp_path, log=logs.append)
    b = bc.recipe_artifact(recipe, SKLEARN_1_4, builders=_fake_builders(calls), build_dir=tmp_path, log=logs.append)
    assert a == b and a.parent.parent == tmp_path and a.parent.name.startswith("sklearn-") and len(calls) == 1
    assert "building the sklearn artifact" in logs[0] and "reusing" in logs[-1]
