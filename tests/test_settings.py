"""settings.validate: every config rule, one bad value per case, each error naming key, value and what is allowed.

validate() is pure (dicts in, frozen dataclasses out); artifacts are small real tarballs with real manifests
(tests/fake_artifacts.py) resolved by the real components.artifact_source code.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from fake_artifacts import FakeBuilders, make_artifact
from pulumi_mocks import AwsMocks, stack_config

import components.artifact_source as artifact_source
import settings
from inference.build.containers import HF_PY311, HF_PY312, SKLEARN_1_2, SKLEARN_1_4
from inference.build.sizing import MEMORY_TIERS_MB, SERVING_OVERHEAD_MB
from settings import ConfigError, Settings, validate

P = "sls-endpoints:endpoints"


@pytest.fixture
def arts(tmp_path) -> dict[str, Path]:
    return {
        "hf": make_artifact(tmp_path / "hf.tar.gz", HF_PY312, peak_rss_mb=300),
        "hf311": make_artifact(tmp_path / "hf311.tar.gz", HF_PY311, peak_rss_mb=300),
        "sk": make_artifact(tmp_path / "sk.tar.gz", SKLEARN_1_4, peak_rss_mb=200),
        "sk12": make_artifact(tmp_path / "sk12.tar.gz", SKLEARN_1_2, peak_rss_mb=200),
        "big": make_artifact(tmp_path / "big.tar.gz", HF_PY312, peak_rss_mb=700),
    }


@pytest.fixture
def raw(arts) -> dict[str, Any]:
    return {
        "endpoints": [
            {
                "name": "embeddings",
                "image": {"repository": HF_PY312.repository, "tag": HF_PY312.tag},
                "artifact": {"path": str(arts["hf"])},
                "serverless": {"memory_mb": 1024, "max_concurrency": 5},
            },
            {
                "name": "call-time",
                "image": {"repository": SKLEARN_1_4.repository, "tag": SKLEARN_1_4.tag},
                "artifact": {"path": str(arts["sk"])},
                "serverless": {"memory_mb": 1024, "max_concurrency": 2},
            },
        ]
    }


def check(raw: dict[str, Any], **kw: Any) -> Settings:
    return validate(raw, stack="dev", region=kw.pop("region", "us-east-1"), **kw)


# ------------------------------------------------------------------------------------------------ valid


def test_valid_config_becomes_frozen_typed_settings(raw, arts):
    s = check(raw)
    assert (s.project, s.stack, s.region) == ("sls-endpoints", "dev", "us-east-1")
    assert [e.name for e in s.endpoints] == ["embeddings", "call-time"]
    emb, sk = s.endpoints
    assert emb.endpoint_name == "embeddings-dev"  # default: name-stack
    assert (emb.framework, sk.framework) == ("huggingface", "sklearn")
    assert emb.artifact.sha256 == hashlib.sha256(arts["hf"].read_bytes()).hexdigest()
    assert emb.artifact.peak_rss_mb == 300 and emb.artifact.program == "inference.py"
    assert emb.serverless == settings.ServerlessSettings(memory_mb=1024, max_concurrency=5)
    assert emb.scaling is None and emb.alarms is None and emb.instance is None
    assert (s.kms, s.protect, s.monitoring) == (False, False, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        emb.name = "other"  # type: ignore[misc]


def test_memory_tier_exactly_fitting_the_artifact_is_accepted(raw, tmp_path):
    fits = make_artifact(tmp_path / "fits.tar.gz", HF_PY312, peak_rss_mb=MEMORY_TIERS_MB[0] - SERVING_OVERHEAD_MB)
    raw["endpoints"][0]["artifact"]["path"] = str(fits)
    assert check(raw).endpoints[0].serverless.memory_mb == MEMORY_TIERS_MB[0]


def test_memory_tier_below_the_artifacts_need_names_the_figure_and_the_smallest_tier(raw, tmp_path):
    peak = MEMORY_TIERS_MB[0] - SERVING_OVERHEAD_MB + 1  # one MB too many for the smallest tier
    raw["endpoints"][0]["artifact"]["path"] = str(make_artifact(tmp_path / "x.tar.gz", HF_PY312, peak_rss_mb=peak))
    with pytest.raises(ConfigError) as e:
        check(raw)
    msg = str(e.value)
    assert f"{P}[0].serverless.memory_mb" in msg and f"{MEMORY_TIERS_MB[0]} MB" in msg
    assert f"peak RSS {peak} MB" in msg and f"allowed: {MEMORY_TIERS_MB[1]} MB or more" in msg


def test_artifact_without_measured_memory_is_not_refused(raw, tmp_path):
    raw["endpoints"][0]["artifact"]["path"] = str(make_artifact(tmp_path / "n.tar.gz", HF_PY312, peak_rss_mb=None))
    assert check(raw).endpoints[0].artifact.peak_rss_mb is None


def test_prod_like_config_with_every_option(raw):
    raw.update(
        kms=True,
        protect=True,
        tags={"team": "ml"},
        monitoring={"dashboard": True, "sns_topic": True, "email": "ops@example.com"},
    )
    ep = raw["endpoints"][0]
    ep["serverless"].update(memory_mb=2048, max_concurrency=20, provisioned_concurrency=2)
    ep.update(
        scaling={"min_capacity": 1, "max_capacity": 10, "target_value": 0.5},
        alarms={"errors_5xx": 1, "latency_p90_ms": 250, "cold_start_ms": 9000},
        lambda_role=True,
        endpoint_name="Embeddings-Prod",
        environment={"LOG_LEVEL": "debug", "OMP_NUM_THREADS": "1"},
    )
    s = check(raw)
    e = s.endpoints[0]
    assert (s.kms, s.protect, s.tags) == (True, True, {"team": "ml"})
    assert s.monitoring == settings.MonitoringSettings(dashboard=True, sns_topic=True, email="ops@example.com")
    assert e.scaling == settings.ScalingSettings(min_capacity=1, max_capacity=10, target_value=0.5)
    assert (e.alarms.errors_5xx, e.alarms.latency_p90_ms, e.alarms.cold_start_ms) == (1, 250.0, 9000.0)
    assert e.alarms.errors_4xx is None and e.lambda_role and e.endpoint_name == "Embeddings-Prod"
    assert e.environment == {"LOG_LEVEL": "debug", "OMP_NUM_THREADS": "1"}


def test_instance_mode(raw):
    ep = raw["endpoints"][1]
    del ep["serverless"]
    ep.update(
        instance={"type": "ml.c5.xlarge", "count": 2},
        scaling={"min_capacity": 2, "max_capacity": 6, "target_value": 1000},
        alarms={"latency_p90_ms": 50},
    )
    e = check(raw).endpoints[1]
    assert e.instance == settings.InstanceSettings(instance_type="ml.c5.xlarge", count=2)
    assert e.serverless is None and e.scaling.target_value == 1000


# ------------------------------------------------------------------------------------------------ invalid


def _set(path: str, value: Any) -> Callable[[dict, dict], None]:
    """Mutation setting raw[...path...] = value (value may be a function of the artifacts)."""

    def mutate(raw: dict, arts: dict) -> None:
        *parents, last = path.split(".")
        node: Any = raw
        for p in parents:
            node = node[int(p)] if p.isdigit() else node.setdefault(p, {})
        node[last] = value(arts) if callable(value) else value

    return mutate


def _del(path: str) -> Callable[[dict, dict], None]:
    def mutate(raw: dict, arts: dict) -> None:
        *parents, last = path.split(".")
        node: Any = raw
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        del node[last]

    return mutate


def _both(*ms: Callable[[dict, dict], None]) -> Callable[[dict, dict], None]:
    def mutate(raw: dict, arts: dict) -> None:
        for m in ms:
            m(raw, arts)

    return mutate


BAD: list[tuple[str, Callable[[dict, dict], None], list[str]]] = [
    # (case, mutation, substrings the single error must contain: key, bad value, what is allowed)
    (
        "memory not a tier",
        _set("endpoints.0.serverless.memory_mb", 1000),
        [f"{P}[0].serverless.memory_mb", "1000", "1024, 2048, 3072, 4096, 5120, 6144"],
    ),
    ("memory above 6144", _set("endpoints.0.serverless.memory_mb", 8192), ["memory_mb", "8192", "6144"]),
    ("max concurrency 0", _set("endpoints.0.serverless.max_concurrency", 0), ["max_concurrency", "0", "1-200"]),
    ("max concurrency 201", _set("endpoints.0.serverless.max_concurrency", 201), ["max_concurrency", "201", "1-200"]),
    (
        "max concurrency not a number",
        _set("endpoints.0.serverless.max_concurrency", "5"),
        ["max_concurrency", "'5'", "whole number"],
    ),
    (
        "provisioned above max",
        _set("endpoints.0.serverless.provisioned_concurrency", 6),
        ["provisioned_concurrency", "6", "above max_concurrency 5", "allowed: 1-5"],
    ),
    (
        "vpc config on serverless",
        _set("endpoints.0.vpc_config", {"subnets": ["s-1"]}),
        [f"{P}[0].vpc_config", "VPC configuration", "serverless", "s-1", "instance"],
    ),
    (
        "network isolation on serverless",
        _set("endpoints.0.network_isolation", True),
        [f"{P}[0].network_isolation", "network isolation", "serverless", "True"],
    ),
    (
        "data capture on serverless",
        _set("endpoints.0.data_capture", {"sampling": 100}),
        [f"{P}[0].data_capture", "data capture", "serverless"],
    ),
    (
        "several variants on serverless",
        _set("endpoints.0.variants", [{"name": "a"}, {"name": "b"}]),
        [f"{P}[0].variants", "multiple production variants", "serverless"],
    ),
    (
        "typo in serverless",
        _set("endpoints.0.serverless.memry_mb", 2048),
        [f"{P}[0].serverless.memry_mb", "typo", "max_concurrency, memory_mb, provisioned_concurrency"],
    ),
    ("typo in endpoint", _set("endpoints.1.alarm", {"errors_5xx": 1}), [f"{P}[1].alarm", "typo", "alarms"]),
    ("typo at top level", _set("endpoint", []), ["sls-endpoints:endpoint", "typo", "sls-endpoints:endpoints"]),
    ("typo in image", _set("endpoints.0.image.tags", "x"), [f"{P}[0].image.tags", "repository, tag"]),
    ("missing image tag", _del("endpoints.0.image.tag"), [f"{P}[0].image.tag", "required", "'1'", HF_PY312.tag]),
    ("image tag latest", _set("endpoints.0.image.tag", "latest"), [f"{P}[0].image.tag", "'latest'", HF_PY312.tag]),
    ("image tag 1", _set("endpoints.1.image.tag", "1"), [f"{P}[1].image.tag", "'1'", SKLEARN_1_4.tag]),
    (
        "unknown image repository",
        _set("endpoints.0.image.repository", "pytorch-inference"),
        ["image.repository", "'pytorch-inference'", "huggingface-pytorch-inference, sagemaker-scikit-learn"],
    ),
    (
        "duplicate names",
        _set("endpoints.1.name", "embeddings"),
        [f"{P}[1].name", "'embeddings'", f"already used by {P}[0]", "unique"],
    ),
    (
        "duplicate endpoint names",
        _both(_set("endpoints.0.endpoint_name", "shared"), _set("endpoints.1.endpoint_name", "shared")),
        [f"{P}[1].endpoint_name", "'shared'", "unique"],
    ),
    (
        "artifact file missing",
        _set("endpoints.0.artifact.path", "/nonexistent/model.tar.gz"),
        [f"{P}[0].artifact.path", "/nonexistent/model.tar.gz", "does not exist", "build"],
    ),
    (
        "artifact not built by inference/",
        _set("endpoints.0.artifact.path", lambda a: str(_junk(a))),
        [f"{P}[0].artifact.path", "not an artifact built by inference/"],
    ),
    (
        "artifact framework does not match image",
        _set("endpoints.1.artifact.path", lambda a: str(a["hf"])),
        [
            f"{P}[1].artifact.path",
            "'huggingface'",
            "sagemaker-scikit-learn:1.4-2-cpu-py3",
            "allowed: an artifact built for sagemaker-scikit-learn",
        ],
    ),
    (
        "artifact built for another tag",
        _set("endpoints.0.artifact.path", lambda a: str(a["hf311"])),
        [f"{P}[0].artifact.path", HF_PY311.tag, f"image tag {HF_PY311.tag!r}"],
    ),
    (
        "sklearn artifact built for 1.2",
        _set("endpoints.1.artifact.path", lambda a: str(a["sk12"])),
        [f"{P}[1].artifact.path", SKLEARN_1_2.tag],
    ),
    (
        "memory below artifact's need",
        _set("endpoints.0.artifact.path", lambda a: str(a["big"])),
        [f"{P}[0].serverless.memory_mb", "1024 MB", "peak RSS 700 MB", "allowed: 2048 MB"],
    ),
    (
        "artifact path and build",
        _set("endpoints.0.artifact.build", {"kind": "embeddings", "model": "m"}),
        [f"{P}[0].artifact", "exactly one of path or build", "both"],
    ),
    ("artifact neither", _set("endpoints.0.artifact", {}), [f"{P}[0].artifact", "neither"]),
    (
        "build kind for another image",
        _set("endpoints.1.artifact", {"build": {"kind": "embeddings", "model": "m"}}),
        [f"{P}[1].artifact.build.kind", "'embeddings'", "huggingface-pytorch-inference"],
    ),
    (
        "unknown build kind",
        _set("endpoints.0.artifact", {"build": {"kind": "xgboost"}}),
        ["build.kind", "'xgboost'", "embeddings, sklearn"],
    ),
    (
        "bad embeddings runtime",
        _set("endpoints.0.artifact", {"build": {"kind": "embeddings", "model": "m", "runtime": "tensorrt"}}),
        ["build.runtime", "'tensorrt'", "torch, onnx, onnx-int8"],
    ),
    (
        "hub model without pinned revision",
        _set("endpoints.0.artifact", {"build": {"kind": "embeddings", "model": "owner/name", "revision": "main"}}),
        ["build.revision", "'main'", "'owner/name'", "40-character commit sha"],
    ),
    (
        "bad sklearn trainer",
        _set("endpoints.1.artifact", {"build": {"kind": "sklearn", "trainer": "train.py"}}),
        ["build.trainer", "'train.py'", "package.module:function"],
    ),
    (
        "serverless and instance",
        _set("endpoints.0.instance", {"type": "ml.m5.large"}),
        [f"{P}[0]", "exactly one of serverless or instance", "both"],
    ),
    ("neither serverless nor instance", _del("endpoints.0.serverless"), [f"{P}[0]", "neither"]),
    (
        "bad instance type",
        _both(_del("endpoints.0.serverless"), _set("endpoints.0.instance", {"type": "m5.large"})),
        ["instance.type", "'m5.large'", "ml."],
    ),
    (
        "scaling without provisioned concurrency",
        _set("endpoints.0.scaling", {"max_capacity": 3}),
        [f"{P}[0].scaling", "provisioned concurrency", "DesiredProvisionedConcurrency"],
    ),
    (
        "scaling above max concurrency",
        _both(
            _set("endpoints.0.serverless.provisioned_concurrency", 1), _set("endpoints.0.scaling", {"max_capacity": 9})
        ),
        [f"{P}[0].scaling.max_capacity", "9", "1-5"],
    ),
    (
        "scaling target not a ratio",
        _both(
            _set("endpoints.0.serverless.provisioned_concurrency", 1),
            _set("endpoints.0.scaling", {"max_capacity": 3, "target_value": 70}),
        ),
        ["scaling.target_value", "70", "<= 1"],
    ),
    (
        "provisioned outside scaling range",
        _both(
            _set("endpoints.0.serverless.provisioned_concurrency", 4),
            _set("endpoints.0.scaling", {"min_capacity": 1, "max_capacity": 3}),
        ),
        [f"{P}[0].scaling", "provisioned_concurrency 4", "1..3"],
    ),
    ("empty alarms", _set("endpoints.0.alarms", {}), [f"{P}[0].alarms", "no alarm configured", "errors_5xx"]),
    (
        "latency alarm beyond the 60 s timeout",
        _set("endpoints.0.alarms", {"latency_p90_ms": 90000}),
        ["alarms.latency_p90_ms", "90000", "60000"],
    ),
    (
        "alarm period not whole minutes",
        _set("endpoints.0.alarms", {"errors_5xx": 1, "period_s": 90}),
        ["alarms.period_s", "90", "multiple of 60"],
    ),
    (
        "bad endpoint key name",
        _set("endpoints.0.name", "Embeddings_1"),
        [f"{P}[0].name", "'Embeddings_1'", "lowercase"],
    ),
    (
        "bad endpoint name",
        _set("endpoints.0.endpoint_name", "emb_prod"),
        [f"{P}[0].endpoint_name", "'emb_prod'", "letters, digits and '-'"],
    ),
    (
        "environment not strings",
        _set("endpoints.0.environment", {"WORKERS": 2}),
        [f"{P}[0].environment", "'WORKERS': 2", "string values"],
    ),
    (
        "OMP_NUM_THREADS not a positive integer",
        _set("endpoints.0.environment", {"OMP_NUM_THREADS": "0"}),
        [f"{P}[0].environment.OMP_NUM_THREADS", "'0'", "positive integer"],
    ),
    ("kms not a bool", _set("kms", "yes"), ["sls-endpoints:kms", "'yes'", "true or false"]),
    (
        "email without topic",
        _set("monitoring", {"email": "ops@example.com"}),
        ["sls-endpoints:monitoring.email", "ops@example.com", "sns_topic: true"],
    ),
    ("bad email", _set("monitoring", {"sns_topic": True, "email": "ops"}), ["monitoring.email", "'ops'", "e-mail"]),
    ("tags not strings", _set("tags", {"cost-center": 42}), ["sls-endpoints:tags", "42"]),
    ("endpoints empty", _set("endpoints", []), [P, "non-empty list"]),
    ("endpoint not an object", _set("endpoints", ["embeddings"]), [f"{P}[0]", "'embeddings'", "object"]),
]


def _junk(arts: dict[str, Path]) -> Path:
    p = arts["hf"].parent / "junk.tar.gz"
    p.write_bytes(b"not a tarball")
    return p


@pytest.mark.parametrize(("case", "mutate", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_raises_one_error_naming_key_value_and_allowed(raw, arts, case, mutate, expected):
    bad = copy.deepcopy(raw)
    mutate(bad, arts)
    with pytest.raises(ConfigError) as e:
        check(bad)
    for part in expected:
        assert part in str(e.value), f"{case}: {part!r} missing from: {e.value}"


@pytest.mark.parametrize("region", ["", "useast1", "US-EAST-1"])
def test_bad_region_is_refused(raw, region):
    with pytest.raises(ConfigError, match="aws:region"):
        check(raw, region=region)


def test_instance_only_options_are_refused_on_instance_mode_too_when_unsupported(raw):
    ep = raw["endpoints"][1]
    del ep["serverless"]
    ep.update(instance={"type": "ml.m5.large"}, alarms={"cold_start_ms": 1000})
    with pytest.raises(ConfigError, match=r"cold_start_ms: ModelSetupTime is only published for serverless"):
        check(raw)


def test_structure_is_checked_before_any_artifact_is_built(raw):
    """A typo in the second endpoint must not cost the first endpoint's model build."""
    raw["endpoints"][0]["artifact"] = {"build": {"kind": "embeddings"}}
    raw["endpoints"][1]["serverless"]["max_concurency"] = 3
    built: list = []
    with pytest.raises(ConfigError, match="max_concurency"):
        check(raw, resolve=built.append)
    assert built == []


def test_build_recipes_are_resolved_through_the_cache(raw, tmp_path, monkeypatch):
    builders = FakeBuilders(peak_rss_mb=100)
    monkeypatch.setattr(artifact_source, "BUILDERS", builders)
    monkeypatch.setattr(artifact_source, "BUILD_DIR", tmp_path / "build")
    sha = "0123456789abcdef0123456789abcdef01234567"
    raw["endpoints"][0]["artifact"] = {
        "build": {"kind": "embeddings", "model": "sentence-transformers/x", "revision": sha}
    }
    raw["endpoints"][1]["artifact"] = {"build": {"kind": "sklearn", "trainer": "pkg.mod:train"}}
    first = check(raw)
    second = check(raw)
    assert builders.built == [
        {"kind": "embeddings", "model": "sentence-transformers/x", "runtime": "onnx-int8", "revision": sha},
        {"kind": "sklearn", "trainer": "pkg.mod:train"},
    ]  # built once each; the second validation reused the cache
    assert [e.artifact.sha256 for e in first.endpoints] == [e.artifact.sha256 for e in second.endpoints]
    assert first.endpoints[0].artifact.path.is_relative_to(tmp_path / "build")


# ------------------------------------------------------------------------------------------------ loading


def test_load_settings_reads_the_stack_config_and_sees_typos(monkeypatch, tmp_path):
    monkeypatch.setattr(artifact_source, "BUILDERS", FakeBuilders())
    monkeypatch.setattr(artifact_source, "BUILD_DIR", tmp_path)
    cfg = stack_config("prod")
    pulumi.runtime.set_mocks(AwsMocks(), project="sls-endpoints", stack="prod")
    pulumi.runtime.set_all_config(cfg)
    s = settings.load_settings()
    assert (s.stack, s.region, s.kms, s.protect) == ("prod", "us-east-1", True, True)
    assert [e.name for e in s.endpoints] == [e["name"] for e in json.loads(cfg[P])]
    pulumi.runtime.set_all_config({**cfg, "sls-endpoints:protected": "true"})
    with pytest.raises(ConfigError, match="sls-endpoints:protected"):
        settings.load_settings()
