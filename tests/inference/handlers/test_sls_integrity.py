"""The artifact integrity check every handler's model_fn runs first (inference/handlers/sls_integrity.py).

The rule: every file the manifest lists is hashed and compared, whatever its name, folder or extension, so
a changed, removed or added file makes model_fn refuse to load, naming it. The check exists for the files
that run (code/inference.py, the vendored code, the .onnx graph, model.joblib): each is tampered with here, in
small artifacts laid out like each kind (fast: the mutation run uses these) and in the real artifacts (slow).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inference.build.artifact import unpack, write_manifest
from inference.handlers import embeddings as embeddings_handler
from inference.handlers import sklearn as sklearn_handler
from inference.handlers.sls_integrity import MANIFEST_NAME, IntegrityError, verify_manifest

# The files each artifact kind ships (as the builds lay them out), with small stand-in contents.
LAYOUTS: dict[str, dict[str, bytes]] = {
    "huggingface": {
        "code/inference.py": b"def model_fn(model_dir):\n    return None\n",
        "code/sls_integrity.py": b"# integrity check\n",
        "code/sls_errors.py": b"# client errors\n",
        "code/onnxruntime/__init__.py": b"# a vendored wheel\n",
        "model.onnx": b"\x08\x07onnx-graph-bytes",
        "tokenizer.json": b'{"model": {}}',
        "config.json": b'{"hidden_size": 384}',
    },
    "sklearn": {
        "code/inference.py": b"def model_fn(model_dir):\n    return None\n",
        "code/sls_integrity.py": b"# integrity check\n",
        "code/sls_errors.py": b"# client errors\n",
        "model.joblib": b"\x80\x04joblib-pickle-bytes",
        "serving_spec.json": b'{"format": 1}',
    },
}
MODEL_FN: dict[str, Callable[[str], object]] = {
    "huggingface": embeddings_handler.model_fn,
    "sklearn": sklearn_handler.model_fn,
}
CASES = [pytest.param(kind, rel, id=f"{kind}:{rel}") for kind, files in LAYOUTS.items() for rel in files]


def make_model_dir(root: Path, kind: str) -> Path:
    for rel, data in LAYOUTS[kind].items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    write_manifest(root, {"framework": kind})
    return root


@pytest.fixture(params=sorted(LAYOUTS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_small_artifacts_list_exactly_their_files_and_pass_the_check(tmp_path: Path, kind: str) -> None:
    root = make_model_dir(tmp_path / kind, kind)
    manifest = verify_manifest(str(root))
    assert sorted(manifest["files"]) == sorted(LAYOUTS[kind])
    assert manifest["framework"] == kind  # the manifest itself is returned


# ------------------------------------------------------------------------------------------ every listed file
@pytest.mark.parametrize(("kind", "rel"), CASES)
def test_a_changed_byte_in_any_listed_file_is_refused_naming_the_file(tmp_path: Path, kind: str, rel: str) -> None:
    root = make_model_dir(tmp_path / "m", kind)
    data = bytearray((root / rel).read_bytes())
    data[0] ^= 0x01  # same size, one bit differs
    (root / rel).write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=f"{rel} was modified") as info:
        verify_manifest(str(root))
    assert "refusing to load" in str(info.value) and "Rebuild the artifact" in str(info.value)
    assert str(info.value).count("was modified") == 1, f"only {rel} was changed: {info.value}"


@pytest.mark.parametrize(("kind", "rel"), CASES)
def test_model_fn_of_each_kind_refuses_any_tampered_file_before_loading(tmp_path: Path, kind: str,
                                                                        rel: str) -> None:
    root = make_model_dir(tmp_path / "m", kind)
    with open(root / rel, "ab") as f:
        f.write(b"\n# appended after the build\n")
    with pytest.raises(IntegrityError, match=f"{rel} was modified"):
        MODEL_FN[kind](str(root))


@pytest.mark.parametrize(("kind", "rel"), CASES)
def test_a_removed_listed_file_is_refused_naming_it(tmp_path: Path, kind: str, rel: str) -> None:
    root = make_model_dir(tmp_path / "m", kind)
    (root / rel).unlink()
    with pytest.raises(IntegrityError, match=f"missing file {rel}"):
        verify_manifest(str(root))


@pytest.mark.parametrize("rel", ["code/extra.py", "extra.onnx", "deep/er/file.bin", "code/inference.pyx"])
def test_a_file_not_in_the_manifest_is_refused_naming_it(tmp_path: Path, kind: str, rel: str) -> None:
    root = make_model_dir(tmp_path / "m", kind)
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text("print('injected')\n")
    with pytest.raises(IntegrityError, match=f"unexpected file {rel}"):
        verify_manifest(str(root))


def test_bytecode_written_by_the_interpreter_is_not_a_tampered_file(tmp_path: Path, kind: str) -> None:
    """Python writes __pycache__/*.pyc next to code/ when the handler is imported: that is not tampering."""
    root = make_model_dir(tmp_path / "m", kind)
    (root / "code" / "__pycache__").mkdir()
    (root / "code" / "__pycache__" / "inference.cpython-311.pyc").write_bytes(b"bytecode")
    (root / "code" / "__pycache__" / "notes.txt").write_bytes(b"anything under __pycache__")
    (root / "code" / "stray.pyc").write_bytes(b"bytecode")
    assert verify_manifest(str(root))["files"] == json.loads((root / MANIFEST_NAME).read_text())["files"]


def test_the_manifest_does_not_list_itself_and_is_not_an_unexpected_file(tmp_path: Path, kind: str) -> None:
    root = make_model_dir(tmp_path / "m", kind)
    assert MANIFEST_NAME not in verify_manifest(str(root))["files"]


def test_a_file_named_like_bytecode_outside_pycache_still_counts_when_listed(tmp_path: Path) -> None:
    root = tmp_path / "m"
    (root / "code").mkdir(parents=True)
    (root / "code" / "inference.py").write_text("x = 1\n")
    (root / "pycache_notes.txt").write_text("not a __pycache__ folder\n")
    write_manifest(root, {})
    (root / "pycache_notes.txt").write_text("changed\n")
    with pytest.raises(IntegrityError, match="pycache_notes.txt was modified"):
        verify_manifest(str(root))


# ------------------------------------------------------------------------------------------ the manifest itself
@pytest.mark.parametrize(("content", "why"), [
    (None, "no manifest.json"),
    ("{not json", "not JSON"),
    ('{"format": 1}', "no files key"),
], ids=["absent", "malformed", "without-files"])
def test_an_artifact_without_a_valid_manifest_is_refused(tmp_path: Path, content: str | None, why: str) -> None:
    root = tmp_path / "m"
    (root / "code").mkdir(parents=True)
    (root / "code" / "inference.py").write_text("x = 1\n")
    if content is not None:
        (root / MANIFEST_NAME).write_text(content)
    with pytest.raises(IntegrityError, match=f"artifact has no valid manifest.json in {root}") as info:
        verify_manifest(str(root))
    assert isinstance(info.value.__cause__, (OSError, ValueError, KeyError)), why


# ------------------------------------------------------------------------------------------ the error message
def _tamper(root: Path, n: int) -> list[str]:
    names = [f"f{i}.bin" for i in range(n)]
    for name in names:
        (root / name).write_bytes(b"original")
    write_manifest(root, {})
    for name in names:
        (root / name).write_bytes(b"changed")
    return names


@pytest.mark.parametrize(("n", "more"), [(1, ""), (5, ""), (6, " (+1 more)"), (7, " (+2 more)")])
def test_the_error_names_the_first_five_problems_sorted_and_counts_the_rest(tmp_path: Path, n: int,
                                                                           more: str) -> None:
    names = _tamper(tmp_path, n)
    with pytest.raises(IntegrityError) as info:
        verify_manifest(str(tmp_path))
    shown = "; ".join(f"{name} was modified (sha256 differs from the manifest)" for name in sorted(names)[:5])
    assert str(info.value) == (f"artifact integrity check failed, refusing to load: {shown}{more}. "
                               "Rebuild the artifact.")


def test_a_large_file_is_hashed_whole_not_only_its_first_block(tmp_path: Path) -> None:
    """The hash reads in 1 MiB blocks: a change after the first block must still be seen."""
    big = bytearray(b"\0" * (3 * (1 << 20) + 17))
    (tmp_path / "model.onnx").write_bytes(bytes(big))
    write_manifest(tmp_path, {})
    big[-1] = 1
    (tmp_path / "model.onnx").write_bytes(bytes(big))
    with pytest.raises(IntegrityError, match="model.onnx was modified"):
        verify_manifest(str(tmp_path))


# ------------------------------------------------------------------------------------------ the real artifacts
def _each_file_tampered(root: Path) -> Iterator[str]:
    """Append a byte to each listed file in turn (restoring it after), yielding the file under test."""
    files = json.loads((root / MANIFEST_NAME).read_text())["files"]
    for rel in sorted(files):
        path = root / rel
        size = path.stat().st_size
        with open(path, "ab") as f:
            f.write(b"\0")
        try:
            yield rel
        finally:
            with open(path, "r+b") as f:
                f.truncate(size)


def _undetected_tampering(root: Path, model_fn: Callable[[str], object]) -> tuple[list[str], list[str]]:
    undetected = []
    files = []
    for rel in _each_file_tampered(root):
        files.append(rel)
        try:
            model_fn(str(root))
        except IntegrityError as e:
            if f"{rel} was modified" not in str(e):
                undetected.append(f"{rel}: the error names something else: {e}")
        else:
            undetected.append(f"{rel}: loaded")
    verify_manifest(str(root))  # every file restored: the artifact is whole again
    return files, undetected


@pytest.mark.slow
def test_every_file_of_the_default_embeddings_artifact_is_checked(tmp_path: Path) -> None:
    from inference.build.cache import default_embeddings_artifact

    root = unpack(default_embeddings_artifact(None, log=lambda m: print(m, file=sys.stderr)), tmp_path / "emb")
    files, undetected = _undetected_tampering(root, embeddings_handler.model_fn)
    assert "code/inference.py" in files and any(f.endswith(".onnx") for f in files), files
    assert undetected == []


@pytest.mark.slow
def test_every_file_of_the_example_sklearn_artifact_is_checked(tmp_path: Path) -> None:
    from inference.build.cache import recipe_artifact
    from inference.build.containers import SKLEARN_1_4

    tar = recipe_artifact({"kind": "sklearn", "trainer": "inference.examples.call_time.train:train_estimator"},
                          SKLEARN_1_4)
    root = unpack(Path(tar), tmp_path / "sk")
    files, undetected = _undetected_tampering(root, sklearn_handler.model_fn)
    assert {"code/inference.py", "model.joblib", "serving_spec.json"} <= set(files), files
    assert undetected == []


def test_copying_a_model_dir_keeps_it_whole(tmp_path: Path, kind: str) -> None:
    """The tamper tests start from a copy: a copy alone (timestamps, permissions) is not a change."""
    root = make_model_dir(tmp_path / "m", kind)
    copy = shutil.copytree(root, tmp_path / "copy")
    assert verify_manifest(str(copy))["files"] == verify_manifest(str(root))["files"]
