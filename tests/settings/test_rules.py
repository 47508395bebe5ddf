"""settings.validate: every config rule, one bad value per case, each error naming key, value and what is allowed.

validate() is pure (dicts in, frozen dataclasses out) and reads no artifact: the checks that need one are in
tests/test_artifacts.py.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from config_edits import Edit, both, del_key, set_key
from fake_artifacts import use_fake_builds
from hypothesis import given
from hypothesis import strategies as st

import settings
from inference.build.containers import HF_PY312, SKLEARN_1_4
from inference.handlers.embeddings import thread_cap
from settings import ArtifactSource, ConfigError, Settings, validate
from settings.rules import ROOT, thread_count

P = "sls-endpoints:endpoints"


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
    assert emb.artifact == ArtifactSource(key="sls-endpoints:endpoints[0].artifact.path", path=arts["hf"])
    assert (emb.key, sk.key) == ("sls-endpoints:endpoints[0]", "sls-endpoints:endpoints[1]")
    assert emb.serverless == settings.ServerlessSettings(memory_mb=1024, max_concurrency=5)
    assert emb.scaling is None and emb.alarms is None and emb.instance is None
    assert (s.kms, s.protect, s.monitoring) == (False, False, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        emb.name = "other"  # type: ignore[misc]


def test_artifact_sources_built_elsewhere_are_read_without_touching_them(raw):
    sha = "0f" * 32
    raw["endpoints"][0]["artifact"] = {"uri": "s3://models-bucket/embeddings/model.tar.gz", "sha256": sha}
    raw["endpoints"][1]["artifact"] = {"promote_from": "staging"}
    emb, sk = check(raw).endpoints
    assert emb.artifact == ArtifactSource(key=f"{P}[0].artifact.uri", uri="s3://models-bucket/embeddings/model.tar.gz",
                                          sha256=sha)
    assert sk.artifact == ArtifactSource(key=f"{P}[1].artifact.promote_from", promote_from="staging")
    raw["endpoints"][1]["artifact"] = {"promote_from": "acme/sls-endpoints/dev"}  # fully qualified: any stack
    assert check(raw).endpoints[1].artifact.promote_from == "acme/sls-endpoints/dev"


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
    assert s.monitoring == settings.MonitoringSettings(dashboard=True, sns_topic=True, email=("ops@example.com",))
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


BAD: list[tuple[str, Edit, list[str]]] = [
    # (case, mutation, substrings the single error must contain: key, bad value, what is allowed)
    (
        "memory not a tier",
        set_key("endpoints.0.serverless.memory_mb", 1000),
        [f"{P}[0].serverless.memory_mb", "1000", "1024, 2048, 3072, 4096, 5120, 6144"],
    ),
    ("memory above 6144", set_key("endpoints.0.serverless.memory_mb", 8192), ["memory_mb", "8192", "6144"]),
    ("max concurrency 0", set_key("endpoints.0.serverless.max_concurrency", 0), ["max_concurrency", "0", "1-200"]),
    (
        "max concurrency 201",
        set_key("endpoints.0.serverless.max_concurrency", 201),
        ["max_concurrency", "201", "1-200"],
    ),
    (
        "max concurrency not a number",
        set_key("endpoints.0.serverless.max_concurrency", "5"),
        ["max_concurrency", "'5'", "whole number"],
    ),
    (
        "provisioned above max",
        set_key("endpoints.0.serverless.provisioned_concurrency", 6),
        ["provisioned_concurrency", "6", "above max_concurrency 5", "allowed: 1-5"],
    ),
    (
        "vpc config on serverless",
        set_key("endpoints.0.vpc_config", {"subnets": ["s-1"]}),
        [f"{P}[0].vpc_config", "VPC configuration", "serverless", "s-1", "instance"],
    ),
    (
        "network isolation on serverless",
        set_key("endpoints.0.network_isolation", True),
        [f"{P}[0].network_isolation", "network isolation", "serverless", "True"],
    ),
    (
        "data capture on serverless",
        set_key("endpoints.0.data_capture", {"sampling": 100}),
        [f"{P}[0].data_capture", "data capture", "serverless"],
    ),
    (
        "several variants on serverless",
        set_key("endpoints.0.variants", [{"name": "a"}, {"name": "b"}]),
        [f"{P}[0].variants", "multiple production variants", "serverless"],
    ),
    (
        "typo in serverless",
        set_key("endpoints.0.serverless.memry_mb", 2048),
        [f"{P}[0].serverless.memry_mb", "typo", "max_concurrency, memory_mb, provisioned_concurrency"],
    ),
    ("typo in endpoint", set_key("endpoints.1.alarm", {"errors_5xx": 1}), [f"{P}[1].alarm", "typo", "alarms"]),
    ("typo at top level", set_key("endpoint", []), ["sls-endpoints:endpoint", "typo", "sls-endpoints:endpoints"]),
    ("typo in image", set_key("endpoints.0.image.tags", "x"), [f"{P}[0].image.tags", "repository, tag"]),
    ("missing image tag", del_key("endpoints.0.image.tag"), [f"{P}[0].image.tag", "required", "'1'", HF_PY312.tag]),
    ("image tag latest", set_key("endpoints.0.image.tag", "latest"), [f"{P}[0].image.tag", "'latest'", HF_PY312.tag]),
    ("image tag 1", set_key("endpoints.1.image.tag", "1"), [f"{P}[1].image.tag", "'1'", SKLEARN_1_4.tag]),
    (
        "unknown image repository",
        set_key("endpoints.0.image.repository", "pytorch-inference"),
        ["image.repository", "'pytorch-inference'", "huggingface-pytorch-inference, sagemaker-scikit-learn"],
    ),
    (
        "duplicate names",
        set_key("endpoints.1.name", "embeddings"),
        [f"{P}[1].name", "'embeddings'", f"already used by {P}[0]", "unique"],
    ),
    (
        "duplicate endpoint names",
        both(set_key("endpoints.0.endpoint_name", "shared"), set_key("endpoints.1.endpoint_name", "shared")),
        [f"{P}[1].endpoint_name", "'shared'", "unique"],
    ),
    (
        "artifact path and build",
        set_key("endpoints.0.artifact.build", {"kind": "embeddings", "model": "m"}),
        [f"{P}[0].artifact", "exactly one artifact source", "build and path", "promote_from: <stack>"],
    ),
    ("artifact neither", set_key("endpoints.0.artifact", {}), [f"{P}[0].artifact", "got none", "uri: s3://"]),
    (
        "artifact path and uri",
        set_key("endpoints.0.artifact.uri", "s3://models/a/model.tar.gz"),
        [f"{P}[0].artifact", "got path and uri"],
    ),
    (
        "artifact uri not s3",
        set_key("endpoints.0.artifact", {"uri": "https://example.com/model.tar.gz", "sha256": "ab" * 32}),
        [f"{P}[0].artifact.uri", "'https://example.com/model.tar.gz'", "s3://<bucket>/<key>"],
    ),
    (
        "artifact uri without sha256",
        set_key("endpoints.0.artifact", {"uri": "s3://models/a/model.tar.gz"}),
        [f"{P}[0].artifact.sha256", "None", "64 lowercase hex digits"],
    ),
    (
        "artifact sha256 not 64 hex",
        set_key("endpoints.0.artifact", {"uri": "s3://models/a/model.tar.gz", "sha256": "abc123"}),
        [f"{P}[0].artifact.sha256", "'abc123'", "64 lowercase hex digits"],
    ),
    (
        "artifact sha256 with build",
        set_key("endpoints.0.artifact.sha256", "ab" * 32),
        [f"{P}[0].artifact.sha256", "goes with uri only"],
    ),
    (
        "artifact promote_from not a stack name",
        set_key("endpoints.0.artifact", {"promote_from": "dev stack!"}),
        [f"{P}[0].artifact.promote_from", "'dev stack!'", "<organization>/<project>/<stack>"],
    ),
    (
        "artifact promote_from itself",
        set_key("endpoints.0.artifact", {"promote_from": "dev"}),
        [f"{P}[0].artifact.promote_from", "cannot promote from itself"],
    ),
    (
        "artifact unknown source key",
        set_key("endpoints.0.artifact", {"url": "s3://models/a/model.tar.gz"}),
        [f"{P}[0].artifact.url", "unknown key 'url'", "promote_from"],
    ),
    (
        "build kind for another image",
        set_key("endpoints.1.artifact", {"build": {"kind": "embeddings", "model": "m"}}),
        [f"{P}[1].artifact.build.kind", "'embeddings'", "huggingface-pytorch-inference"],
    ),
    (
        "unknown build kind",
        set_key("endpoints.0.artifact", {"build": {"kind": "xgboost"}}),
        ["build.kind", "'xgboost'", "embeddings, sklearn"],
    ),
    (
        "bad embeddings runtime",
        set_key("endpoints.0.artifact", {"build": {"kind": "embeddings", "model": "m", "runtime": "tensorrt"}}),
        ["build.runtime", "'tensorrt'", "torch, onnx, onnx-int8"],
    ),
    (
        "hub model without pinned revision",
        set_key("endpoints.0.artifact", {"build": {"kind": "embeddings", "model": "owner/name", "revision": "main"}}),
        ["build.revision", "'main'", "'owner/name'", "40-character commit sha"],
    ),
    (
        "bad sklearn trainer",
        set_key("endpoints.1.artifact", {"build": {"kind": "sklearn", "trainer": "train.py"}}),
        ["build.trainer", "'train.py'", "package.module:function"],
    ),
    (
        "serverless and instance",
        set_key("endpoints.0.instance", {"type": "ml.m5.large"}),
        [f"{P}[0]", "exactly one of serverless or instance", "both"],
    ),
    ("neither serverless nor instance", del_key("endpoints.0.serverless"), [f"{P}[0]", "neither"]),
    (
        "bad instance type",
        both(del_key("endpoints.0.serverless"), set_key("endpoints.0.instance", {"type": "m5.large"})),
        ["instance.type", "'m5.large'", "ml."],
    ),
    (
        "scaling without provisioned concurrency",
        set_key("endpoints.0.scaling", {"max_capacity": 3}),
        [f"{P}[0].scaling", "provisioned concurrency", "DesiredProvisionedConcurrency"],
    ),
    (
        "scaling above max concurrency",
        both(
            set_key("endpoints.0.serverless.provisioned_concurrency", 1),
            set_key("endpoints.0.scaling", {"max_capacity": 9}),
        ),
        [f"{P}[0].scaling.max_capacity", "9", "1-5"],
    ),
    (
        "scaling target not a ratio",
        both(
            set_key("endpoints.0.serverless.provisioned_concurrency", 1),
            set_key("endpoints.0.scaling", {"max_capacity": 3, "target_value": 70}),
        ),
        ["scaling.target_value", "70", "<= 1"],
    ),
    (
        "provisioned outside scaling range",
        both(
            set_key("endpoints.0.serverless.provisioned_concurrency", 4),
            set_key("endpoints.0.scaling", {"min_capacity": 1, "max_capacity": 3}),
        ),
        [f"{P}[0].scaling", "provisioned_concurrency 4", "1..3"],
    ),
    ("empty alarms", set_key("endpoints.0.alarms", {}), [f"{P}[0].alarms", "no alarm configured", "errors_5xx"]),
    (
        "latency alarm beyond the 60 s timeout",
        set_key("endpoints.0.alarms", {"latency_p90_ms": 90000}),
        ["alarms.latency_p90_ms", "90000", "60000"],
    ),
    (
        "alarm period not whole minutes",
        set_key("endpoints.0.alarms", {"errors_5xx": 1, "period_s": 90}),
        ["alarms.period_s", "90", "multiple of 60"],
    ),
    (
        "bad endpoint key name",
        set_key("endpoints.0.name", "Embeddings_1"),
        [f"{P}[0].name", "'Embeddings_1'", "lowercase"],
    ),
    (
        "bad endpoint name",
        set_key("endpoints.0.endpoint_name", "emb_prod"),
        [f"{P}[0].endpoint_name", "'emb_prod'", "letters, digits and '-'"],
    ),
    (
        "environment not strings",
        set_key("endpoints.0.environment", {"WORKERS": 2}),
        [f"{P}[0].environment", "'WORKERS': 2", "string values"],
    ),
    (
        "OMP_NUM_THREADS not a positive integer",
        set_key("endpoints.0.environment", {"OMP_NUM_THREADS": "0"}),
        [f"{P}[0].environment.OMP_NUM_THREADS", "'0'", "positive integer"],
    ),
    ("kms not a bool", set_key("kms", "yes"), ["sls-endpoints:kms", "'yes'", "true or false"]),
    (
        "email without topic",
        set_key("monitoring", {"email": "ops@example.com"}),
        ["sls-endpoints:monitoring.email", "ops@example.com", "sns_topic: true"],
    ),
    ("bad email", set_key("monitoring", {"sns_topic": True, "email": "ops"}), ["monitoring.email", "'ops'", "e-mail"]),
    ("tags not strings", set_key("tags", {"cost-center": 42}), ["sls-endpoints:tags", "42"]),
    ("endpoints empty", set_key("endpoints", []), [P, "non-empty list"]),
    ("endpoint not an object", set_key("endpoints", ["embeddings"]), [f"{P}[0]", "'embeddings'", "object"]),
    ("topic with nobody on it", set_key("monitoring", {"sns_topic": True}),
     [f"{P.split(':')[0]}:monitoring.sns_topic", "nobody subscribed", "topic_arn"]),
    ("topic and existing topic", set_key("monitoring", {"sns_topic": True, "email": "a@example.com",
                                                        "topic_arn": "arn:aws:sns:us-east-1:123456789012:x"}),
     ["monitoring.topic_arn", "not both"]),
    ("topic arn malformed", set_key("monitoring", {"topic_arn": "oncall"}), ["monitoring.topic_arn", "'oncall'"]),
    ("email not an address", set_key("monitoring", {"sns_topic": True, "email": ["oncall"]}),
     ["monitoring.email", "oncall"]),
    ("auto rollback without alarms", set_key("endpoints.0.deployment", {"auto_rollback": True}),
     [f"{P}[0].deployment.auto_rollback", "has none"]),
    ("bake too long", set_key("endpoints.0.deployment", {"bake_s": 7200}),
     [f"{P}[0].deployment.bake_s", "7200", "0"]),
    ("execution timeout too short", set_key("endpoints.0.deployment", {"max_execution_s": 60}),
     [f"{P}[0].deployment.max_execution_s", "600"]),
    ("deployment typo", set_key("endpoints.0.deployment", {"bake": 60}), [f"{P}[0].deployment.bake", "bake_s"]),
    ("releases kept zero", set_key("releases_kept", 0), ["releases_kept", "0"]),
    ("releases kept above twenty", set_key("releases_kept", 21), ["releases_kept", "21", "allowed: 1-20"]),
    ("tag with aws prefix", set_key("tags", {"aws:team": "ml"}), ["tags.aws:team", "reserved"]),
    ("tag key too long", set_key("tags", {"k" * 129: "v"}), ["tags.kkkk", "129 characters", "128"]),
    ("tag value too long", set_key("tags", {"team": "v" * 257}), ["tags.team", "257 characters", "256"]),
    ("tag with a character AWS refuses", set_key("tags", {"team": "ml;drop"}), ["tags.team", "characters"]),
]


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


# ------------------------------------------------------------------------------------------------ purity


def test_validation_builds_and_reads_no_artifact(raw, tmp_path, monkeypatch):
    """A recipe stays a recipe and a path stays a path: finding or building is the next step's job."""
    builders = use_fake_builds(monkeypatch, tmp_path / "build")
    raw["endpoints"][0]["artifact"] = {"build": {"kind": "embeddings"}}
    raw["endpoints"][1]["artifact"] = {"path": "no/such/model.tar.gz"}
    emb, sk = check(raw).endpoints
    assert emb.artifact == ArtifactSource(
        key="sls-endpoints:endpoints[0].artifact.build",
        recipe={"kind": "embeddings", "model": None, "runtime": "onnx-int8", "revision": None},
    )
    assert sk.artifact.path == ROOT / "no/such/model.tar.gz"  # relative to the project, not the caller's cwd
    assert builders.built == [] and not (tmp_path / "build").exists()


@given(st.text(max_size=8) | st.from_regex(r"\A[0-9 ,]{1,6}\Z"))
def test_omp_num_threads_rule_gives_the_handlers_answer(value):
    """The handler refuses to load on what thread_count refuses, and reads the same count from the rest."""

    def answer(parse):
        try:
            return parse(value)
        except ValueError:
            return "refused"

    assert answer(thread_count) == answer(thread_cap)




# ------------------------------------------------------------------------------------------------ releases


def test_updates_are_blue_green_and_roll_back_on_the_endpoints_own_alarms_by_default(raw):
    raw["endpoints"][0]["alarms"] = {"errors_5xx": 1}
    emb, sk = check(raw).endpoints
    assert emb.deployment == settings.DeploymentSettings(bake_s=300, auto_rollback=True)
    assert sk.deployment == settings.DeploymentSettings(bake_s=0, auto_rollback=False)  # no alarms: nothing to watch
    raw["endpoints"][0]["deployment"] = {"bake_s": 600, "max_execution_s": 1800, "auto_rollback": False}
    assert check(raw).endpoints[0].deployment == settings.DeploymentSettings(
        bake_s=600, auto_rollback=False, max_execution_s=1800)


@pytest.mark.parametrize("alarms", [
    {"errors_5xx": 1},
    {"latency_p90_ms": 500},
    {"errors_5xx": 1, "errors_4xx": 50, "latency_p90_ms": 500, "cold_start_ms": 20000},  # every kind set
])
def test_any_alarm_turns_on_the_bake_and_the_auto_rollback_also_inside_a_deployment_section(raw, alarms):
    raw["endpoints"][0]["alarms"] = alarms
    assert check(raw).endpoints[0].deployment == settings.DeploymentSettings(bake_s=300, auto_rollback=True)
    raw["endpoints"][0]["deployment"] = {"max_execution_s": 900}  # a section that leaves the bake to its default
    assert check(raw).endpoints[0].deployment == settings.DeploymentSettings(
        bake_s=300, auto_rollback=True, max_execution_s=900)


def test_without_alarms_a_deployment_section_defaults_to_no_bake(raw):
    raw["endpoints"][0]["deployment"] = {"termination_wait_s": 120}
    assert check(raw).endpoints[0].deployment == settings.DeploymentSettings(
        bake_s=0, auto_rollback=False, termination_wait_s=120)


@pytest.mark.parametrize("key", ["bake_s", "termination_wait_s"])
def test_negative_waits_are_refused_naming_the_range(raw, key):
    raw["endpoints"][0]["deployment"] = {key: -1}
    with pytest.raises(ConfigError, match=rf"{P}\[0\]\.deployment\.{key}: -1 is out of range; allowed: 0"):
        check(raw)


def test_releases_kept_defaults_to_three(raw):
    assert check(raw).releases_kept == 3
    raw["releases_kept"] = 5
    assert check(raw).releases_kept == 5
    raw["releases_kept"] = 20  # the most kept
    assert check(raw).releases_kept == 20


def test_alarms_reach_a_subscribed_topic_or_an_existing_one(raw):
    raw["monitoring"] = {"sns_topic": True, "email": ["a@example.com", "b@example.com"]}
    assert check(raw).monitoring.email == ("a@example.com", "b@example.com")
    raw["monitoring"] = {"topic_arn": "arn:aws:sns:us-east-1:123456789012:oncall"}
    assert check(raw).monitoring.topic_arn == "arn:aws:sns:us-east-1:123456789012:oncall"


def test_tags_at_the_limits_are_accepted(raw):
    raw["tags"] = {"k" * 128: "v" * 256, "cost-center": "ml/platform:team=a+b@x"}
    assert check(raw).tags["cost-center"] == "ml/platform:team=a+b@x"
