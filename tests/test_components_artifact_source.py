"""components.artifact_source: an endpoint's artifact is read from a file, or built once from its recipe and cached.

The cache is what keeps `pulumi up` cheap and the Model stable: same recipe + container + inference/ sources
-> same file, same sha256; any of them changed -> another cache entry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_artifacts import FakeBuilders, make_artifact

import components.artifact_source as src
from inference.build.artifact import pack, write_manifest
from inference.build.containers import HF_PY312, SKLEARN_1_2, SKLEARN_1_4
from inference.build.venvs import VenvUnavailable, find_python
from settings import ArtifactRequest, ConfigError

EMB = {
    "kind": "embeddings",
    "model": "sentence-transformers/all-MiniLM-L6-v2",
    "runtime": "onnx-int8",
    "revision": None,
}


def request(recipe=None, path=None, container=HF_PY312, endpoint="embeddings") -> ArtifactRequest:
    return ArtifactRequest(key="k.artifact", endpoint=endpoint, container=container, path=path, recipe=recipe)


def test_named_file_is_described_from_its_manifest(tmp_path):
    root = tmp_path / "src"
    (root / "code").mkdir(parents=True)
    (root / "code" / "serve.py").write_text("def model_fn(d):\n    return d\n")
    env = {"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    write_manifest(
        root,
        {
            "framework": "sklearn",
            "container": SKLEARN_1_4.as_dict(),
            "runtime": "sklearn",
            "resources": {"peak_rss_mb": 192},
            "handler": {"entry_point": "code/serve.py", "environment": env},
        },
    )
    tar = tmp_path / "model.tar.gz"
    pack(root, tar)
    a = src.resolve_artifact(request(path=tar, container=SKLEARN_1_4))
    assert a.path == tar.resolve() and a.sha256 == hashlib.sha256(tar.read_bytes()).hexdigest()
    assert (a.framework, a.runtime, a.peak_rss_mb, a.program) == ("sklearn", "sklearn", 192.0, "serve.py")
    assert a.container["tag"] == SKLEARN_1_4.tag and a.environment == env


def test_missing_file_is_a_config_error_naming_the_key_and_the_way_out(tmp_path):
    with pytest.raises(ConfigError, match=r"k\.artifact: artifact .*nope\.tar\.gz does not exist.*build: recipe"):
        src.resolve_artifact(request(path=tmp_path / "nope.tar.gz"))


def test_recipe_is_built_once_then_served_from_the_cache(tmp_path):
    builders = FakeBuilders()
    first = src.resolve_artifact(request(EMB), builders=builders, build_dir=tmp_path)
    again = src.resolve_artifact(request(EMB), builders=builders, build_dir=tmp_path)
    assert builders.built == [EMB]
    assert first == again and first.path.is_relative_to(tmp_path) and first.path.name == "model.tar.gz"
    assert not (first.path.parent / "work").exists()  # the builder's scratch space is cleaned up


@pytest.mark.parametrize(
    "change",
    [
        {"recipe": {**EMB, "runtime": "onnx"}},
        {"recipe": {**EMB, "revision": "abc123"}},
        {"container": SKLEARN_1_2, "recipe": {"kind": "sklearn", "trainer": "m:f"}},
        {"endpoint": "other"},
    ],
    ids=["runtime", "revision", "container", "endpoint"],
)
def test_any_changed_input_gets_its_own_cache_entry(change, tmp_path):
    base = {"recipe": EMB, "container": HF_PY312, "endpoint": "embeddings"}
    a = src.cache_path(request(**base), digest="d", build_dir=tmp_path)
    b = src.cache_path(request(**{**base, **change}), digest="d", build_dir=tmp_path)
    assert a != b


def test_changed_inference_sources_invalidate_the_cache(tmp_path):
    r = request(EMB)  # (what counts as a source change: tests/test_build_cache.py)
    assert src.cache_path(r, digest="before", build_dir=tmp_path) != src.cache_path(r, digest="after",
                                                                                    build_dir=tmp_path)


def test_a_builder_that_writes_nothing_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="produced no file"):
        src.resolve_artifact(
            request(EMB), builders={"embeddings": lambda r, d, c: d / "missing.tar.gz"}, build_dir=tmp_path
        )


def test_a_failing_build_is_reported_on_the_config_key(tmp_path):
    def fails(recipe, out_dir, container):
        raise ValueError("quality gate: min cosine 0.97 < 0.98")

    with pytest.raises(ConfigError, match=r"^k\.artifact: building the embeddings artifact .* failed: quality gate"):
        src.resolve_artifact(request(EMB), builders={"embeddings": fails}, build_dir=tmp_path)
    assert not src.cache_path(request(EMB), build_dir=tmp_path).exists()  # nothing half-built is cached


def test_example_request_comes_from_the_manifest_or_the_serving_spec(tmp_path):
    plain = make_artifact(tmp_path / "plain.tar.gz", HF_PY312)
    assert src.describe(plain, "k").example_request is None  # the program falls back to a per-framework example
    root = tmp_path / "spec"
    (root / "code").mkdir(parents=True)
    (root / "code" / "inference.py").write_text("")
    spec = {
        "features": [
            {"name": "segment", "type": "category", "allowed": ["retail", "consumer"]},
            {"name": "rate", "type": "number", "min": 0.0, "max": 1.0},
            {"name": "day", "type": "integer", "min": 0, "max": 6, "default": 2},
            {"name": "hour", "type": "integer", "min": 8, "max": 20},
        ],
        "request_level": ["day"],
        "sweep": {"feature": "hour"},
    }
    (root / "serving_spec.json").write_text(json.dumps(spec))
    write_manifest(
        root,
        {"framework": "sklearn", "container": SKLEARN_1_4.as_dict(), "model": {"serving_spec": "serving_spec.json"}},
    )
    pack(root, tmp_path / "spec.tar.gz")
    example = json.loads(src.describe(tmp_path / "spec.tar.gz", "k").example_request)
    assert example == {"instances": [{"segment": "retail", "rate": 0.0}]}


def test_real_sklearn_recipe_builds_the_call_time_artifact(tmp_path):
    """The fresh-clone path: no file yet, so the call-time example is trained in the image-matching venv and
    packaged by inference.sklearn_build (first run builds the venv: minutes; cached afterwards)."""
    try:
        find_python(SKLEARN_1_4.python)
    except VenvUnavailable as e:
        pytest.skip(f"needs Python {SKLEARN_1_4.python} to train for {SKLEARN_1_4.image}: {e}")
    recipe = {"kind": "sklearn", "trainer": "inference.examples.call_time.train:train_estimator"}
    a = src.resolve_artifact(request(recipe, container=SKLEARN_1_4, endpoint="call-time"), build_dir=tmp_path)
    assert a.framework == "sklearn" and a.container["tag"] == SKLEARN_1_4.tag
    assert a.environment["SAGEMAKER_PROGRAM"] == a.program == "inference.py"
    assert a.peak_rss_mb is not None and a.peak_rss_mb > 0
    # the stack's invoke example must be a request this artifact's handler accepts, in the image's environment
    from inference.build.measure import measure_handler
    from inference.build.sklearn import train_python

    measure_handler(Path(a.path), a.example_request.encode(), a.content_type, python=str(train_python(SKLEARN_1_4.key)))


def test_embeddings_builder_is_called_as_inference_embeddings_build_defines_it(tmp_path, monkeypatch):
    """Contract check without the multi-minute model build: the arguments our recipe builder passes must bind to
    the real build_embeddings signature (the stand-in binds them, then returns a small real artifact)."""
    import inspect

    import inference.build.embeddings as builder
    sig = inspect.signature(builder.build_embeddings)
    seen = {}

    def stand_in(*args, **kwargs):
        seen.update(sig.bind(*args, **kwargs).arguments)
        out = make_artifact(Path(args[1]) / "model.tar.gz", HF_PY312)
        return SimpleNamespace(path=str(out))

    monkeypatch.setattr(builder, "build_embeddings", stand_in)
    a = src.resolve_artifact(request({**EMB, "model": None}), build_dir=tmp_path)
    assert seen["model"] is None and seen["runtime"] == "onnx-int8" and seen["container"] == HF_PY312.key
    assert a.framework == "huggingface"
