"""inference.manifest: one typed schema, a round trip through JSON, errors that name the key, and both builds
writing handler.program and handler.example_request (so the stack never guesses)."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest

from inference.build.artifact import pack, write_manifest
from inference.build.containers import HF_PY312, SKLEARN_1_4
from inference.manifest import (
    MANIFEST_FORMAT,
    ArtifactError,
    ContainerRef,
    HandlerInfo,
    Manifest,
    ManifestError,
    ModelInfo,
    TokenizerInfo,
    VendoredPackage,
    read_manifest,
)

EMBEDDINGS = Manifest(
    framework="huggingface",
    container=ContainerRef(**HF_PY312.as_dict()),
    runtime="onnx-int8",
    handler=HandlerInfo(program="inference.py", example_request={"inputs": ["hi"]}, max_batch=32,
                        max_payload_bytes=4 * 1024 * 1024),
    model=ModelInfo(file="model-int8.onnx", source="local", name="m", dimensions=384, max_seq_length=256,
                    pooling="mean", normalize=True, model_has_normalize_module=False,
                    tokenizer=TokenizerInfo(file="tokenizer.json", pad_token="[PAD]", pad_id=0),
                    onnx_inputs=("input_ids", "attention_mask"), quantization={"weight_levels": 255}),
    vendored=(VendoredPackage(name="tokenizers", version="0.21.1", wheel="t.whl", wheel_sha256="0" * 64, files=3,
                              stripped=("tokenizers/x.so",), stripped_with="GNU strip 2.42"),),
    files={"model-int8.onnx": "a" * 64, "code/inference.py": "b" * 64},
)
SKLEARN = Manifest(
    framework="sklearn",
    container=ContainerRef(**SKLEARN_1_4.as_dict()),
    runtime="sklearn",
    handler=HandlerInfo(program="inference.py", example_request={"instances": [{"x": 1}]},
                        environment={"SAGEMAKER_PROGRAM": "inference.py"}, contract="spec"),
    model=ModelInfo(file="model.joblib", source="est.joblib", sklearn_version="1.4.2",
                    serving_spec="serving_spec.json"),
    files={"model.joblib": "c" * 64},
)


@pytest.mark.parametrize("manifest", [EMBEDDINGS, SKLEARN], ids=["embeddings", "sklearn"])
def test_round_trip_through_json(manifest: Manifest):
    assert Manifest.from_dict(json.loads(manifest.to_json())) == manifest
    assert Manifest.from_dict(manifest.to_dict()).to_json() == manifest.to_json()


def test_the_keys_the_handlers_read_are_where_they_look():
    d = EMBEDDINGS.to_dict()
    assert d["runtime"] == "onnx-int8" and d["files"] and d["container"]["tag"] == HF_PY312.tag
    assert d["handler"]["max_batch"] == 32 and d["handler"]["max_payload_bytes"] == 4 * 1024 * 1024
    assert {"name", "dimensions", "max_seq_length", "pooling", "normalize", "tokenizer"} <= set(d["model"])
    assert d["model"]["tokenizer"] == {"file": "tokenizer.json", "pad_token": "[PAD]", "pad_id": 0}
    assert SKLEARN.to_dict()["model"]["sklearn_version"] == "1.4.2"
    assert "sklearn_version" not in d["model"]  # the other framework's fields are left out, not null


@pytest.mark.parametrize("path", [
    "framework", "container", "container.tag", "handler", "handler.program", "model", "model.file", "files",
    "format",
])
def test_a_missing_key_is_named(path: str):
    d = copy.deepcopy(EMBEDDINGS.to_dict())
    *parents, last = path.split(".")
    target = d
    for p in parents:
        target = target[p]
    del target[last]
    with pytest.raises(ManifestError, match=rf"manifest key '{path}' is missing"):
        Manifest.from_dict(d)


@pytest.mark.parametrize(("path", "value", "want"), [
    ("framework", 3, "str"),
    ("handler.program", None, "str, got NoneType"),
    ("handler.max_batch", "big", "int"),
    ("handler.environment", {"A": 1}, "str"),
    ("model.tokenizer.pad_id", "0", "int"),
])
def test_a_mistyped_key_is_named(path: str, value, want: str):
    d = copy.deepcopy(EMBEDDINGS.to_dict())
    *parents, last = path.split(".")
    target = d
    for p in parents:
        target = target[p]
    target[last] = value
    with pytest.raises(ManifestError, match=rf"'{path}'.*{want}|{path}\[.*{want}"):
        Manifest.from_dict(d)


def test_an_older_format_says_to_rebuild():
    d = {**EMBEDDINGS.to_dict(), "format": 1}
    with pytest.raises(ManifestError, match=rf"'format' is 1, this code reads format {MANIFEST_FORMAT}: rebuild"):
        Manifest.from_dict(d)


def test_optional_sections_have_defaults():
    d = SKLEARN.to_dict()
    del d["vendored"], d["handler"]["content_type"], d["handler"]["environment"]
    m = Manifest.from_dict(d)
    assert m.vendored == () and m.handler.environment == {}
    assert m.handler.content_type == "application/json"


@pytest.mark.parametrize("manifest", [EMBEDDINGS, SKLEARN], ids=["embeddings", "sklearn"])
def test_nothing_measured_goes_into_the_bytes(manifest: Manifest):
    """Timings, memory and the gate's cosines depend on the build machine: they live in the build report."""
    d = manifest.to_dict()
    assert not {"resources", "quality", "built_on", "measured_with"} & set(d)


def test_read_manifest_reads_a_tarball_or_a_directory_and_fills_in_files(tmp_path: Path):
    root = tmp_path / "a"
    (root / "code").mkdir(parents=True)
    (root / "code" / "inference.py").write_text("x = 1\n")
    (root / "model.joblib").write_bytes(b"m")
    written = write_manifest(root, SKLEARN)
    assert set(written.files) == {"code/inference.py", "model.joblib"}
    pack(root, tmp_path / "a.tar.gz")
    assert read_manifest(tmp_path / "a.tar.gz") == written == read_manifest(root)


def test_read_manifest_errors_are_artifact_errors_naming_the_file(tmp_path: Path):
    with pytest.raises(ArtifactError, match="does not exist"):
        read_manifest(tmp_path / "missing.tar.gz")
    root = tmp_path / "bad"
    root.mkdir()
    (root / "w.bin").write_bytes(b"w")
    write_manifest(root, {"framework": "sklearn"})  # a plain mapping is written unchecked
    pack(root, tmp_path / "bad.tar.gz")
    with pytest.raises(ManifestError, match=r"bad\.tar\.gz: manifest key 'container' is missing"):
        read_manifest(tmp_path / "bad.tar.gz")


# ---------------------------------------------------------------------- what the builds write
def test_the_sklearn_build_writes_program_and_an_example_from_its_serving_spec(tmp_path: Path):
    from inference.build.sklearn import SERVING_ENV, build_sklearn
    from inference.examples.call_time.features import serving_spec
    from inference.handlers.sklearn import validate_spec

    estimator = tmp_path / "est.joblib"  # records scikit-learn 1.4.2 in its bytes, which is all the build reads
    estimator.write_bytes(pickle.dumps({"_sklearn_version": "1.4.2"}, protocol=4))
    spec = tmp_path / "est.serving.json"
    spec.write_text(json.dumps(serving_spec()))
    result = build_sklearn(estimator, tmp_path / "out", container=SKLEARN_1_4.key, measure=False)
    m = read_manifest(Path(result.path))
    assert m.handler.program == SERVING_ENV["SAGEMAKER_PROGRAM"] == "inference.py"
    assert m.handler.environment == SERVING_ENV and m.handler.contract == "spec"
    example = m.handler.example_request
    assert isinstance(example, dict) and len(example["instances"]) == 1
    checked = validate_spec(serving_spec())
    skipped = set(checked.get("request_level", [])) | {(checked.get("sweep") or {}).get("feature")}
    assert set(example["instances"][0]) == {f["name"] for f in checked["features"]} - skipped


def test_a_generic_sklearn_artifact_has_no_example_but_says_so(tmp_path: Path):
    from inference.build.sklearn import build_sklearn

    estimator = tmp_path / "est.joblib"
    estimator.write_bytes(pickle.dumps({"_sklearn_version": "1.4.2"}, protocol=4))
    m = read_manifest(Path(build_sklearn(estimator, tmp_path / "out", measure=False).path))
    assert m.handler.program == "inference.py" and m.handler.example_request is None
    assert "example_request" in json.loads(m.to_json())["handler"]  # present as null: readers need not guess


def test_the_embeddings_build_example_is_a_request_the_handler_accepts():
    from inference.build import embeddings
    from inference.handlers import embeddings as handler

    assert embeddings.PROGRAM == "inference.py"
    data = handler.input_fn(json.dumps(embeddings.EXAMPLE_REQUEST), "application/json")
    assert data is not None


@pytest.mark.slow
def test_the_default_embeddings_artifact_writes_program_and_example(tmp_path: Path):
    from inference.build.artifact import sha256_file
    from inference.build.cache import default_embeddings_artifact
    from inference.report import read_report

    path = default_embeddings_artifact()
    m = read_manifest(path)
    assert m.handler.program == "inference.py" and m.handler.example_request == {
        "inputs": ["How long does a cold start take?"]}
    report = read_report(path, sha256_file(path))  # the gate and the measurement sit beside the tarball
    assert report is not None and report.quality is not None and report.quality.passed
    assert report.resources.peak_rss_mb and report.determined_by["sources"] and report.determined_by["recipe"]
