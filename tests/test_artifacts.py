"""artifacts: after validation, each endpoint's artifact is read from its file or built once from its recipe,
then checked against the endpoint (built for its image, fits its memory tier); every problem is a ConfigError
on the config key.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from config_edits import Edit, set_key
from fake_artifacts import FakeBuilders, make_artifact, use_fake_builds

import artifacts
from inference.build import cache
from inference.build.artifact import pack, write_manifest
from inference.build.containers import HF_PY311, HF_PY312, SKLEARN_1_2, SKLEARN_1_4
from inference.build.sizing import SERVING_OVERHEAD_MB
from inference.build.venvs import VenvUnavailable, find_python
from inference.limits import MEMORY_TIERS_MB
from inference.manifest import ContainerRef, HandlerInfo, Manifest, ModelInfo
from inference.report import BuildReport, Resources, write_report
from settings import ArtifactSource, ConfigError, validate

P = "sls-endpoints:endpoints"
EMB = {"kind": "embeddings", "model": None, "runtime": "onnx-int8", "revision": None}
TRAINER = "inference.examples.call_time.train:train_estimator"


def resolved(raw: dict[str, Any]) -> dict[str, artifacts.ResolvedArtifact]:
    """What __main__.py does: validate, then resolve."""
    return artifacts.resolve_artifacts(validate(raw, stack="dev", region="us-east-1"))


# ------------------------------------------------------------------------------------------------ a file


def test_named_file_is_described_from_its_manifest(tmp_path):
    root = tmp_path / "src"
    (root / "code").mkdir(parents=True)
    (root / "code" / "serve.py").write_text("def model_fn(d):\n    return d\n")
    env = {"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    (root / "model.joblib").write_bytes(b"estimator")
    write_manifest(
        root,
        Manifest(
            framework="sklearn",
            container=ContainerRef(**SKLEARN_1_4.as_dict()),
            runtime="sklearn",
            model=ModelInfo(file="model.joblib"),
            handler=HandlerInfo(program="serve.py", environment=env, example_request={"instances": [[1.0]]}),
        ),
    )
    tar = tmp_path / "model.tar.gz"
    sha = pack(root, tar)
    write_report(tar, BuildReport(artifact_sha256=sha, size_bytes=1, framework="sklearn", runtime="sklearn",
                                  container=SKLEARN_1_4.as_dict(), determined_by={},
                                  resources=Resources(peak_rss_mb=192)))
    a = artifacts.resolve_artifact(ArtifactSource(key="k.artifact.path", path=tar), SKLEARN_1_4)
    assert a.path == tar.resolve() and a.sha256 == hashlib.sha256(tar.read_bytes()).hexdigest()
    m = a.manifest
    assert (m.framework, m.runtime, m.handler.program) == ("sklearn", "sklearn", "serve.py")
    assert a.peak_rss_mb == 192  # from the build report beside the file
    assert m.container.image == SKLEARN_1_4.image and m.handler.environment == env
    assert a.example_request == '{"instances": [[1.0]]}'


def test_missing_file_is_a_config_error_naming_the_key_and_the_way_out(tmp_path):
    with pytest.raises(ConfigError, match=r"k\.artifact: artifact .*nope\.tar\.gz does not exist.*build: recipe"):
        artifacts.resolve_artifact(ArtifactSource(key="k.artifact", path=tmp_path / "nope.tar.gz"), HF_PY312)


# ------------------------------------------------------------------------------------------------ a recipe


def test_recipes_are_built_once_then_served_from_the_cache(raw, tmp_path, monkeypatch):
    builders = use_fake_builds(monkeypatch, tmp_path / "build", FakeBuilders(peak_rss_mb=100))
    sha = "0123456789abcdef0123456789abcdef01234567"
    raw["endpoints"][0]["artifact"] = {
        "build": {"kind": "embeddings", "model": "sentence-transformers/x", "revision": sha}
    }
    raw["endpoints"][1]["artifact"] = {"build": {"kind": "sklearn", "trainer": TRAINER}}
    first, second = resolved(raw), resolved(raw)
    assert builders.built == [
        {"kind": "embeddings", "model": "sentence-transformers/x", "runtime": "onnx-int8", "revision": sha},
        {"kind": "sklearn", "trainer": TRAINER},
    ]  # built once each; the second resolution reused the cache
    assert first == second and first["embeddings"].path.is_relative_to(tmp_path / "build")
    assert not (first["embeddings"].path.parent / "work").exists()  # the builder's scratch space is cleaned up


def test_a_builder_that_writes_nothing_is_reported_on_the_config_key(raw, tmp_path, monkeypatch):
    use_fake_builds(monkeypatch, tmp_path, {"embeddings": lambda r, d, c: d / "missing.tar.gz"})
    raw["endpoints"][0]["artifact"] = {"build": {"kind": "embeddings"}}
    with pytest.raises(ConfigError, match=rf"^{P}\[0\]\.artifact\.build: .* failed: .*produced no file"):
        resolved(raw)


def test_a_failing_build_is_reported_on_the_config_key_and_nothing_is_cached(raw, tmp_path, monkeypatch):
    def fails(recipe, out_dir, container):
        raise ValueError("quality gate: min cosine 0.97 < 0.98")

    use_fake_builds(monkeypatch, tmp_path, {"embeddings": fails})
    raw["endpoints"][0]["artifact"] = {"build": {"kind": "embeddings"}}
    with pytest.raises(ConfigError, match=rf"^{P}\[0\]\.artifact\.build: building the embeddings artifact .* failed: "):
        resolved(raw)
    assert not list(tmp_path.rglob("model.tar.gz"))


def test_embeddings_builder_is_called_as_build_embeddings_defines_it(tmp_path, monkeypatch):
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
    monkeypatch.setattr(cache, "BUILD_DIR", tmp_path)
    a = artifacts.resolve_artifact(ArtifactSource(key="k", recipe=EMB), HF_PY312)
    assert seen["model"] is None and seen["runtime"] == "onnx-int8" and seen["container"] == HF_PY312.key
    assert a.manifest.framework == "huggingface"


@pytest.mark.slow
def test_real_sklearn_recipe_builds_the_call_time_artifact(tmp_path, monkeypatch):
    """The fresh-clone path: no file yet, so the call-time example is trained in the image-matching venv and
    packaged by the scikit-learn build (first run builds the venv: minutes; cached afterwards)."""
    try:
        find_python(SKLEARN_1_4.python)
    except VenvUnavailable as e:
        pytest.skip(f"needs Python {SKLEARN_1_4.python} to train for {SKLEARN_1_4.image}: {e}")
    monkeypatch.setattr(cache, "BUILD_DIR", tmp_path)
    recipe = {"kind": "sklearn", "trainer": "inference.examples.call_time.train:train_estimator"}
    a = artifacts.resolve_artifact(ArtifactSource(key="k", recipe=recipe), SKLEARN_1_4)
    m = a.manifest
    assert m.framework == "sklearn" and m.container.tag == SKLEARN_1_4.tag
    assert m.handler.environment["SAGEMAKER_PROGRAM"] == m.handler.program == "inference.py"
    assert a.peak_rss_mb is not None and a.peak_rss_mb > 0
    # the stack's invoke example must be a request this artifact's handler accepts, in the image's environment
    from inference.build.measure import measure_handler
    from inference.build.sklearn import train_python

    assert a.example_request is not None
    python = str(train_python(SKLEARN_1_4.key))
    measure_handler(Path(a.path), a.example_request.encode(), m.handler.content_type, python=python)


# ------------------------------------------------------------------------------------------------ fit


def _junk(arts: dict[str, Path]) -> Path:
    p = arts["hf"].parent / "junk.tar.gz"
    p.write_bytes(b"not a tarball")
    return p


MISFITS: list[tuple[str, Edit, list[str]]] = [
    (
        "artifact file missing",
        set_key("endpoints.0.artifact.path", "/nonexistent/model.tar.gz"),
        [f"{P}[0].artifact.path", "/nonexistent/model.tar.gz", "does not exist", "build"],
    ),
    (
        "artifact not built by inference/",
        set_key("endpoints.0.artifact.path", lambda a: str(_junk(a))),
        [f"{P}[0].artifact.path", "not an artifact built by inference/"],
    ),
    (
        "artifact framework does not match image",
        set_key("endpoints.1.artifact.path", lambda a: str(a["hf"])),
        [
            f"{P}[1].artifact.path",
            "'huggingface'",
            "sagemaker-scikit-learn:1.4-2-cpu-py3",
            "allowed: an artifact built for sagemaker-scikit-learn",
        ],
    ),
    (
        "artifact built for another tag",
        set_key("endpoints.0.artifact.path", lambda a: str(a["hf311"])),
        [f"{P}[0].artifact.path", HF_PY311.tag, f"image tag {HF_PY311.tag!r}"],
    ),
    (
        "sklearn artifact built for 1.2",
        set_key("endpoints.1.artifact.path", lambda a: str(a["sk12"])),
        [f"{P}[1].artifact.path", SKLEARN_1_2.tag],
    ),
    (
        "memory below artifact's need",
        set_key("endpoints.0.artifact.path", lambda a: str(a["big"])),
        [f"{P}[0].serverless.memory_mb", "1024 MB", "peak RSS 700 MB", "allowed: 2048 MB"],
    ),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), MISFITS, ids=[m[0] for m in MISFITS])
def test_an_artifact_that_does_not_fit_its_endpoint_is_one_clear_error(raw, arts, case, mutate, expected):
    bad = copy.deepcopy(raw)
    mutate(bad, arts)
    validate(bad, stack="dev", region="us-east-1")  # the config itself is valid
    with pytest.raises(ConfigError) as e:
        resolved(bad)
    for part in expected:
        assert part in str(e.value), f"{case}: {part!r} missing from: {e.value}"


def test_memory_tier_exactly_fitting_the_artifact_is_accepted(raw, tmp_path):
    fits = make_artifact(tmp_path / "fits.tar.gz", HF_PY312, peak_rss_mb=MEMORY_TIERS_MB[0] - SERVING_OVERHEAD_MB)
    raw["endpoints"][0]["artifact"]["path"] = str(fits)
    assert resolved(raw)["embeddings"].peak_rss_mb == MEMORY_TIERS_MB[0] - SERVING_OVERHEAD_MB


def test_memory_tier_below_the_artifacts_need_names_the_figure_and_the_smallest_tier(raw, tmp_path):
    peak = MEMORY_TIERS_MB[0] - SERVING_OVERHEAD_MB + 1  # one MB too many for the smallest tier
    raw["endpoints"][0]["artifact"]["path"] = str(make_artifact(tmp_path / "x.tar.gz", HF_PY312, peak_rss_mb=peak))
    with pytest.raises(ConfigError) as e:
        resolved(raw)
    msg = str(e.value)
    assert f"{P}[0].serverless.memory_mb" in msg and f"{MEMORY_TIERS_MB[0]} MB" in msg
    assert f"peak RSS {peak} MB" in msg and f"allowed: {MEMORY_TIERS_MB[1]} MB or more" in msg


def test_artifact_without_measured_memory_is_not_refused(raw, tmp_path):
    raw["endpoints"][0]["artifact"]["path"] = str(make_artifact(tmp_path / "n.tar.gz", HF_PY312, peak_rss_mb=None))
    assert resolved(raw)["embeddings"].peak_rss_mb is None


def test_instance_endpoints_are_not_held_to_a_serverless_tier(raw, arts):
    ep = raw["endpoints"][0]
    del ep["serverless"]
    ep.update(instance={"type": "ml.m5.large"}, artifact={"path": str(arts["big"])})
    assert resolved(raw)["embeddings"].peak_rss_mb == 700
