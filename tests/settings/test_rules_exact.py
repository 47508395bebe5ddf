"""settings.rules.validate, rule by rule: defaults, inclusive bounds on both sides, and the whole error message.

tests/settings/test_rules.py checks that each bad value is refused with a message naming the key, the value and
what is allowed; here each message is compared whole (a reworded or truncated message is a change someone should
see) and each bound is tried at the edge and one step past it. validate() reads no artifact, so the artifact
paths below need not exist.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inference.build.containers import HF_PY312, SKLEARN_1_2, SKLEARN_1_4
from settings import ConfigError, Settings, validate
from settings.rules import ROOT, thread_count

NS = "sls-endpoints"
E0 = f"{NS}:endpoints[0]"
E1 = f"{NS}:endpoints[1]"
HF = {"repository": HF_PY312.repository, "tag": HF_PY312.tag}
SK = {"repository": SKLEARN_1_4.repository, "tag": SKLEARN_1_4.tag}
SHA = "ab" * 32
PIPELINE = "inference.examples.call_time.train:train_estimator"
MINILM_COMMIT = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


def base() -> dict[str, Any]:
    return {"endpoints": [{
        "name": "emb",
        "image": dict(HF),
        "artifact": {"path": "/artifacts/emb.tar.gz"},
        "serverless": {"memory_mb": 2048, "max_concurrency": 10},
    }]}


def ok(edit: Callable[[dict], Any] | None = None, *, stack: str = "dev", region: str = "us-east-1") -> Settings:
    raw = base()
    if edit:
        edit(raw)
    return validate(raw, stack=stack, region=region)


def ep(raw: dict) -> dict:
    return raw["endpoints"][0]


def refused(edit: Callable[[dict], Any] | None, message: str, *, stack: str = "dev", region: str = "us-east-1") -> None:
    raw = base()
    if edit:
        edit(raw)
    with pytest.raises(ConfigError, match="^" + re.escape(message) + "$"):
        validate(raw, stack=stack, region=region)


def instance(raw: dict, **kw: Any) -> None:
    e = ep(raw)
    del e["serverless"]
    e["image"] = dict(SK)
    e["instance"] = {"type": "ml.m5.large", **kw}


# ------------------------------------------------------------------------------------------------ top level
def test_a_minimal_config_gets_every_default():
    s = ok()
    assert (s.project, s.stack, s.region, s.kms, s.protect, s.monitoring, s.tags) == (
        NS, "dev", "us-east-1", False, False, None, {})
    e = s.endpoints[0]
    assert (e.name, e.endpoint_name, e.framework, e.key) == ("emb", "emb-dev", "huggingface", E0)
    assert (e.instance, e.scaling, e.alarms, e.lambda_role, e.environment) == (None, None, None, False, {})
    assert (e.serverless.memory_mb, e.serverless.max_concurrency, e.serverless.provisioned_concurrency) == (
        2048, 10, None)
    assert (e.image.repository, e.image.tag) == (HF["repository"], HF["tag"])


def test_the_project_names_every_key():
    raw = base()
    ep(raw)["serverless"]["memory_mb"] = 1
    with pytest.raises(ConfigError, match=r"^other:endpoints\[0\]\.serverless\.memory_mb: 1 "):
        validate(raw, stack="dev", region="us-east-1", project="other")
    assert validate(base(), stack="dev", region="us-east-1", project="other").project == "other"


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1"])
def test_aws_regions_are_accepted(region: str):
    assert ok(region=region).region == region


@pytest.mark.parametrize("region", ["", "us-east", "useast-1", "US-EAST-1", "us-east-1a", "xus-east-1", 1])
def test_a_region_that_is_not_an_aws_region_is_refused(region: Any):
    refused(None, f"aws:region: {region!r} is not an AWS region; set it with `pulumi config set aws:region us-east-1`",
            region=region)


def test_flags_and_tags_are_read():
    s = ok(lambda r: r.update(kms=True, protect=True, tags={"team": "ml", "env": "dev"}))
    assert (s.kms, s.protect, s.tags) == (True, True, {"team": "ml", "env": "dev"})


BAD_TOP: list[tuple[str, Callable[[dict], Any], str]] = [
    ("unknown key", lambda r: r.update(endpoint=[], zzz=1),
     f"{NS}:endpoint: unknown key (a typo?); allowed keys: {NS}:endpoints, {NS}:kms, {NS}:protect, "
     f"{NS}:monitoring, {NS}:tags, {NS}:releases_kept"),
    ("protect not a bool", lambda r: r.update(protect="no"), f"{NS}:protect: expected true or false, got 'no'"),
    ("tags not a map", lambda r: r.update(tags=["a"]),
     f"{NS}:tags: expected a map of string tag names to string values, got ['a']"),
    ("tag key not a string", lambda r: r.update(tags={1: "a"}),
     f"{NS}:tags: expected a map of string tag names to string values, got {{1: 'a'}}"),
    ("endpoints missing", lambda r: r.pop("endpoints"), f"{NS}:endpoints is required and missing"),
    ("endpoints not a list", lambda r: r.update(endpoints={"name": "x"}),
     f"{NS}:endpoints: expected a non-empty list of endpoint objects, got {{'name': 'x'}}"),
    ("same name twice", lambda r: r["endpoints"].append({**copy.deepcopy(ep(r)), "endpoint_name": "other"}),
     f"{E1}.name: 'emb' is already used by {E0}; allowed: a unique name within the stack"),
    ("same endpoint_name twice", lambda r: r["endpoints"].append({**copy.deepcopy(ep(r)), "name": "emb2",
                                                                  "endpoint_name": "emb-dev"}),
     f"{E1}.endpoint_name: 'emb-dev' is already used by {E0}; allowed: a unique endpoint_name within the stack"),
    ("monitoring email without topic", lambda r: r.update(monitoring={"email": "ops@example.com"}),
     f"{NS}:monitoring.email: ops@example.com needs an SNS topic to subscribe to; allowed: set sns_topic: true"),
    ("monitoring bad email", lambda r: r.update(monitoring={"sns_topic": True, "email": "ops@example"}),
     f"{NS}:monitoring.email: 'ops@example' is not a list of e-mail addresses; allowed: an address or a list of "
     "addresses subscribed to the alarm topic"),
    ("monitoring topic nobody receives", lambda r: r.update(monitoring={"sns_topic": True}),
     f"{NS}:monitoring.sns_topic: a topic with nobody subscribed sends the alarms to no one; allowed: email: "
     "[addresses] to subscribe, or topic_arn: an existing topic your on-call already receives"),
    ("monitoring unknown key", lambda r: r.update(monitoring={"dashbaord": False}),
     f"{NS}:monitoring.dashbaord: unknown key 'dashbaord' (a typo?); allowed keys: dashboard, email, sns_topic, "
     "topic_arn"),
    ("monitoring dashboard not a bool", lambda r: r.update(monitoring={"dashboard": 1}),
     f"{NS}:monitoring.dashboard: expected true or false, got 1"),
    ("monitoring topic not a bool", lambda r: r.update(monitoring={"sns_topic": "yes", "email": "a@b.io"}),
     f"{NS}:monitoring.sns_topic: expected true or false, got 'yes'"),
]


@pytest.mark.parametrize(("edit", "message"), [b[1:] for b in BAD_TOP], ids=[b[0] for b in BAD_TOP])
def test_top_level_errors_are_whole_messages(edit: Callable[[dict], Any], message: str):
    refused(edit, message)


def test_two_endpoints_with_their_own_names_are_both_kept_in_order():
    def add(r: dict) -> None:
        r["endpoints"].append({**copy.deepcopy(ep(r)), "name": "emb2"})

    s = ok(add)
    assert [(e.name, e.endpoint_name, e.key) for e in s.endpoints] == [("emb", "emb-dev", E0),
                                                                        ("emb2", "emb2-dev", E1)]


def test_monitoring_defaults_and_values():
    m = ok(lambda r: r.update(monitoring={})).monitoring
    assert (m.dashboard, m.sns_topic, m.email, m.topic_arn) == (True, False, (), None)
    m = ok(lambda r: r.update(monitoring={"dashboard": False, "sns_topic": True, "email": "a@b.io"})).monitoring
    assert (m.dashboard, m.sns_topic, m.email) == (False, True, ("a@b.io",))


# ------------------------------------------------------------------------------------------------ endpoint
BAD_ENDPOINT: list[tuple[str, Callable[[dict], Any], str]] = [
    ("not an object", lambda r: r.update(endpoints=[3]), f"{E0}: expected an object (key: value pairs), got 3"),
    ("name missing", lambda r: ep(r).pop("name"), f"{E0}.name is required and missing"),
    ("name pattern", lambda r: ep(r).update(name="1emb"),
     f"{E0}.name: '1emb' is not allowed; allowed: lowercase letters, digits and '-', starting with a letter, "
     "<= 30 chars"),
    ("name too long", lambda r: ep(r).update(name="e" * 31),
     f"{E0}.name: '{'e' * 31}' is not allowed; allowed: lowercase letters, digits and '-', starting with a letter, "
     "<= 30 chars"),
    ("endpoint_name pattern", lambda r: ep(r).update(endpoint_name="-emb"),
     f"{E0}.endpoint_name: '-emb' is not allowed; allowed: letters, digits and '-', <= 63 chars"),
    ("both modes", lambda r: ep(r).update(instance={"type": "ml.m5.large"}),
     f"{E0}: exactly one of serverless or instance is required, got both; allowed: serverless: {{memory_mb, "
     "max_concurrency, ...} or instance: {type, count}"),
    ("neither mode", lambda r: ep(r).pop("serverless"),
     f"{E0}: exactly one of serverless or instance is required, got neither; allowed: serverless: {{memory_mb, "
     "max_concurrency, ...} or instance: {type, count}"),
    ("vpc on serverless", lambda r: ep(r).update(vpc_config={"subnets": []}),
     f"{E0}.vpc_config: VPC configuration is not supported on a serverless endpoint (AWS refuses it); got "
     "{'subnets': []}; allowed: remove vpc_config, or use an instance-based endpoint (instance: ...)"),
    ("data capture on serverless", lambda r: ep(r).update(data_capture=True),
     f"{E0}.data_capture: data capture is not supported on a serverless endpoint (AWS refuses it); got True; "
     "allowed: remove data_capture, or use an instance-based endpoint (instance: ...)"),
    ("variants on serverless", lambda r: ep(r).update(variants=[1, 2]),
     f"{E0}.variants: multiple production variants is not supported on a serverless endpoint (AWS refuses it); got "
     "[1, 2]; allowed: remove variants, or use an instance-based endpoint (instance: ...)"),
    ("network isolation on serverless", lambda r: ep(r).update(network_isolation=False),
     f"{E0}.network_isolation: network isolation is not supported on a serverless endpoint (AWS refuses it); got "
     "False; allowed: remove network_isolation, or use an instance-based endpoint (instance: ...)"),
    ("vpc on instance", lambda r: (instance(r), ep(r).update(vpc_config={})),
     f"{E0}.vpc_config: VPC configuration is not supported by this program; got {{}}"),
    ("network isolation true on instance", lambda r: (instance(r), ep(r).update(network_isolation=True)),
     f"{E0}.network_isolation: true is not supported by this program yet (the model would need no network access "
     "at all); allowed: false"),
    ("network isolation not a bool", lambda r: (instance(r), ep(r).update(network_isolation="no")),
     f"{E0}.network_isolation: expected true or false, got 'no'"),
    ("image missing", lambda r: ep(r).pop("image"), f"{E0}.image is required and missing"),
    ("artifact missing", lambda r: ep(r).pop("artifact"), f"{E0}.artifact is required and missing"),
    ("lambda_role not a bool", lambda r: ep(r).update(lambda_role="yes"),
     f"{E0}.lambda_role: expected true or false, got 'yes'"),
    ("unknown endpoint key", lambda r: ep(r).update(alarm={"errors_5xx": 1}),
     f"{E0}.alarm: unknown key 'alarm' (a typo?); allowed keys: alarms, artifact, data_capture, deployment, "
     "endpoint_name, environment, image, instance, lambda_role, name, network_isolation, scaling, serverless, "
     "variants, vpc_config"),
    ("environment not a map", lambda r: ep(r).update(environment=["A=1"]),
     f"{E0}.environment: expected a map of environment variable names to string values, got ['A=1']"),
    ("environment bad name", lambda r: ep(r).update(environment={"1A": "x"}),
     f"{E0}.environment: expected a map of environment variable names to string values, got {{'1A': 'x'}}"),
    ("environment name not a string", lambda r: ep(r).update(environment={1: "x"}),
     f"{E0}.environment: expected a map of environment variable names to string values, got {{1: 'x'}}"),
    ("environment value not a string", lambda r: ep(r).update(environment={"A": 1}),
     f"{E0}.environment: expected a map of environment variable names to string values, got {{'A': 1}}"),
    ("OMP_NUM_THREADS zero", lambda r: ep(r).update(environment={"OMP_NUM_THREADS": "0"}),
     f"{E0}.environment.OMP_NUM_THREADS: '0' is not a positive integer (e.g. 1 or 2); unset it to use every vCPU"),
]


@pytest.mark.parametrize(("edit", "message"), [b[1:] for b in BAD_ENDPOINT], ids=[b[0] for b in BAD_ENDPOINT])
def test_endpoint_errors_are_whole_messages(edit: Callable[[dict], Any], message: str):
    refused(edit, message)


def test_a_default_endpoint_name_too_long_for_sagemaker_is_refused_naming_the_fix():
    name = "e" * 30
    stack = "s" * 34  # name-stack is 65 characters
    refused(lambda r: ep(r).update(name=name),
            f"{E0}.endpoint_name: the default '{name}-{stack}' (name-stack) is not a valid SageMaker endpoint name; "
            "allowed: set endpoint_name to letters, digits and '-', <= 63 chars", stack=stack)
    assert ok(lambda r: ep(r).update(name=name), stack="s" * 32).endpoints[0].endpoint_name == f"{name}-{'s' * 32}"
    given = ok(lambda r: ep(r).update(name=name, endpoint_name="Short-1"), stack=stack).endpoints[0]
    assert given.endpoint_name == "Short-1"


@pytest.mark.parametrize("endpoint_name", ["e" * 31 + "-" + "s" * 32, "a" + "-" * 70 + "b"])
def test_an_endpoint_name_longer_than_63_characters_is_refused(endpoint_name: str):
    assert len(endpoint_name) > 63
    refused(lambda r: ep(r).update(endpoint_name=endpoint_name),
            f"{E0}.endpoint_name: {endpoint_name!r} is not allowed; allowed: letters, digits and '-', <= 63 chars")


def test_name_bounds_and_the_endpoint_options():
    assert ok(lambda r: ep(r).update(name="e" * 30)).endpoints[0].name == "e" * 30
    assert ok(lambda r: ep(r).update(name="e-1")).endpoints[0].name == "e-1"
    e = ok(lambda r: ep(r).update(lambda_role=True, environment={"A_1": "x", "OMP_NUM_THREADS": "2"})).endpoints[0]
    assert e.lambda_role is True and e.environment == {"A_1": "x", "OMP_NUM_THREADS": "2"}
    e = ok(lambda r: (instance(r), ep(r).update(network_isolation=False))).endpoints[0]
    assert e.instance is not None and e.serverless is None and e.framework == "sklearn"


# ------------------------------------------------------------------------------------------------ image
def test_images_we_build_for_are_accepted():
    for image, framework in ((HF, "huggingface"), (SK, "sklearn"),
                             ({"repository": SKLEARN_1_2.repository, "tag": SKLEARN_1_2.tag}, "sklearn")):
        def edit(r: dict, image: dict = image) -> None:
            ep(r)["image"] = dict(image)
            ep(r)["artifact"] = {"path": "/a.tar.gz"}

        assert ok(edit).endpoints[0].framework == framework


BAD_IMAGE: list[tuple[str, Callable[[dict], Any], str]] = [
    ("unknown repository", lambda r: ep(r)["image"].update(repository="pytorch-inference"),
     f"{E0}.image.repository: 'pytorch-inference' is not a supported image; allowed: huggingface-pytorch-inference, "
     "sagemaker-scikit-learn"),
    ("repository missing", lambda r: ep(r)["image"].pop("repository"),
     f"{E0}.image.repository is required and missing"),
    ("tag missing", lambda r: ep(r)["image"].pop("tag"),
     f"{E0}.image.tag is required and missing: pin the full image tag (the provider's default tag '1' does not exist "
     f"for sagemaker-scikit-learn); allowed: {SKLEARN_1_2.tag}, {SKLEARN_1_4.tag}"),
    ("floating tag", lambda r: ep(r)["image"].update(tag="1"),
     f"{E0}.image.tag: '1' is not a pinned tag we build artifacts for ('1'/'latest' float, and an artifact must "
     f"match its image's Python and packages); allowed: {SKLEARN_1_2.tag}, {SKLEARN_1_4.tag}"),
    ("another repository's tag", lambda r: ep(r)["image"].update(tag=HF_PY312.tag),
     f"{E0}.image.tag: '{HF_PY312.tag}' is not a pinned tag we build artifacts for ('1'/'latest' float, and an "
     f"artifact must match its image's Python and packages); allowed: {SKLEARN_1_2.tag}, {SKLEARN_1_4.tag}"),
    ("unknown image key", lambda r: ep(r)["image"].update(digest="sha256:x"),
     f"{E0}.image.digest: unknown key 'digest' (a typo?); allowed keys: repository, tag"),
]


@pytest.mark.parametrize(("edit", "message"), [b[1:] for b in BAD_IMAGE], ids=[b[0] for b in BAD_IMAGE])
def test_image_errors_are_whole_messages(edit: Callable[[dict], Any], message: str):
    def on_sklearn(r: dict) -> None:
        ep(r)["image"] = dict(SK)
        edit(r)

    refused(on_sklearn, message)


# ------------------------------------------------------------------------------------------------ artifact
def art(**source: Any) -> Callable[[dict], None]:
    return lambda r: ep(r).update(artifact=source)


def test_artifact_sources():
    a = ok(art(path="/abs/model.tar.gz")).endpoints[0].artifact
    assert (a.key, a.path) == (f"{E0}.artifact.path", Path("/abs/model.tar.gz"))
    assert ok(art(path="build/m.tar.gz")).endpoints[0].artifact.path == ROOT / "build" / "m.tar.gz"
    a = ok(art(uri="s3://my-bucket/a/model.tar.gz", sha256=SHA)).endpoints[0].artifact
    assert (a.key, a.uri, a.sha256) == (f"{E0}.artifact.uri", "s3://my-bucket/a/model.tar.gz", SHA)
    a = ok(art(promote_from="staging")).endpoints[0].artifact
    assert (a.key, a.promote_from) == (f"{E0}.artifact.promote_from", "staging")
    assert ok(art(promote_from="org/proj/dev")).endpoints[0].artifact.promote_from == "org/proj/dev"
    assert ok(art(promote_from="proj/dev")).endpoints[0].artifact.promote_from == "proj/dev"


def test_build_recipes_and_their_defaults():
    a = ok(art(build={"kind": "embeddings"})).endpoints[0].artifact
    assert a.key == f"{E0}.artifact.build"
    assert a.recipe == {"kind": "embeddings", "model": None, "runtime": "onnx-int8", "revision": None}
    a = ok(art(build={"kind": "embeddings", "runtime": "torch", "model": "org/model",
                      "revision": MINILM_COMMIT})).endpoints[0].artifact
    assert a.recipe == {"kind": "embeddings", "model": "org/model", "runtime": "torch", "revision": MINILM_COMMIT}
    local = str(ROOT / "inference")  # a local folder needs no revision
    assert ok(art(build={"kind": "embeddings", "model": local})).endpoints[0].artifact.recipe["model"] == local
    for runtime in ("onnx", "onnx-int8", "torch"):
        assert ok(art(build={"kind": "embeddings", "runtime": runtime})).endpoints[0].artifact.recipe["runtime"] == (
            runtime)

    def sklearn(r: dict) -> None:
        ep(r)["image"] = dict(SK)
        ep(r)["artifact"] = {"build": {"kind": "sklearn", "trainer": PIPELINE}}

    assert ok(sklearn).endpoints[0].artifact.recipe == {"kind": "sklearn", "trainer": PIPELINE}


ALLOWED_SOURCES = (
    "build: {kind: embeddings|sklearn, ...} (built here), path: <a built model.tar.gz>, uri: s3://bucket/key with "
    "sha256: <64 hex digits> (built elsewhere), or promote_from: <stack> (the artifact that stack deployed)"
)
A = f"{E0}.artifact"
BAD_ARTIFACT: list[tuple[str, Callable[[dict], Any], str]] = [
    ("unknown key", art(path="/a", pth="/b", zz=1),
     f"{A}.pth: unknown key 'pth' (a typo?); allowed keys: build, path, promote_from, sha256, uri"),
    ("no source", art(), f"{A}: exactly one artifact source is required, got none; allowed: {ALLOWED_SOURCES}"),
    ("two sources", art(path="/a", promote_from="dev"),
     f"{A}: exactly one artifact source is required, got path and promote_from; allowed: {ALLOWED_SOURCES}"),
    ("sha256 with path", art(path="/a", sha256=SHA),
     f"{A}.sha256: sha256 goes with uri only (a path source is hashed from its own bytes); allowed: remove sha256, "
     "or use uri with sha256"),
    ("path not a string", art(path=3), f"{A}.path: expected a file path, got 3"),
    ("path empty", art(path=""), f"{A}.path: expected a file path, got ''"),
    ("uri not s3", art(uri="https://b/k", sha256=SHA),
     f"{A}.uri: 'https://b/k' is not an S3 object URI; allowed: s3://<bucket>/<key> (the object a build machine "
     "uploaded; http(s) URLs and bare keys are not accepted)"),
    ("uri without key", art(uri="s3://bucket/", sha256=SHA),
     f"{A}.uri: 's3://bucket/' is not an S3 object URI; allowed: s3://<bucket>/<key> (the object a build machine "
     "uploaded; http(s) URLs and bare keys are not accepted)"),
    ("uri with prefix", art(uri="xs3://bucket/k", sha256=SHA),
     f"{A}.uri: 'xs3://bucket/k' is not an S3 object URI; allowed: s3://<bucket>/<key> (the object a build machine "
     "uploaded; http(s) URLs and bare keys are not accepted)"),
    ("uri without sha", art(uri="s3://bucket/k"),
     f"{A}.sha256: None is not a sha256; allowed: the artifact's sha256 as 64 lowercase hex digits "
     "(`sha256sum model.tar.gz`), required with uri so the bytes are verified before deploying"),
    ("sha too short", art(uri="s3://bucket/k", sha256=SHA[:-1]),
     f"{A}.sha256: '{SHA[:-1]}' is not a sha256; allowed: the artifact's sha256 as 64 lowercase hex digits "
     "(`sha256sum model.tar.gz`), required with uri so the bytes are verified before deploying"),
    ("sha too long", art(uri="s3://bucket/k", sha256=SHA + "a"),
     f"{A}.sha256: '{SHA}a' is not a sha256; allowed: the artifact's sha256 as 64 lowercase hex digits "
     "(`sha256sum model.tar.gz`), required with uri so the bytes are verified before deploying"),
    ("sha uppercase", art(uri="s3://bucket/k", sha256=SHA.upper()),
     f"{A}.sha256: '{SHA.upper()}' is not a sha256; allowed: the artifact's sha256 as 64 lowercase hex digits "
     "(`sha256sum model.tar.gz`), required with uri so the bytes are verified before deploying"),
    ("promote from a url", art(promote_from="https://x"),
     f"{A}.promote_from: 'https://x' is not a stack name; allowed: a stack of this project (e.g. dev) or "
     "<organization>/<project>/<stack>"),
    ("promote from four parts", art(promote_from="a/b/c/d"),
     f"{A}.promote_from: 'a/b/c/d' is not a stack name; allowed: a stack of this project (e.g. dev) or "
     "<organization>/<project>/<stack>"),
    ("promote from itself", art(promote_from="dev"),
     f"{A}.promote_from: a stack cannot promote from itself ('dev'); allowed: the stack that released the "
     "artifact, e.g. dev"),
    ("build not an object", art(build="embeddings"),
     f"{A}.build: expected an object (key: value pairs), got 'embeddings'"),
    ("unknown build kind", art(build={"kind": "torch"}),
     f"{A}.build.kind: 'torch' is not a build recipe; allowed: embeddings, sklearn"),
    ("kind for another image", art(build={"kind": "sklearn", "trainer": PIPELINE}),
     f"{A}.build.kind: a 'sklearn' artifact (sklearn) cannot run in image {HF_PY312.image}; allowed: image "
     "repository sagemaker-scikit-learn for kind 'sklearn'"),
    ("unknown runtime", art(build={"kind": "embeddings", "runtime": "tensorrt"}),
     f"{A}.build.runtime: 'tensorrt' is not a runtime; allowed: torch, onnx, onnx-int8"),
    ("hub model without revision", art(build={"kind": "embeddings", "model": "org/model"}),
     f"{A}.build.revision: None does not pin Hub model 'org/model'; allowed: the full 40-character commit sha "
     "(branches and tags move; artifacts must be reproducible)"),
    ("hub model with a branch", art(build={"kind": "embeddings", "model": "org/model", "revision": "main"}),
     f"{A}.build.revision: 'main' does not pin Hub model 'org/model'; allowed: the full 40-character commit sha "
     "(branches and tags move; artifacts must be reproducible)"),
    ("hub model with a short sha", art(build={"kind": "embeddings", "model": "org/m", "revision": MINILM_COMMIT[:39]}),
     f"{A}.build.revision: '{MINILM_COMMIT[:39]}' does not pin Hub model 'org/m'; allowed: the full 40-character "
     "commit sha (branches and tags move; artifacts must be reproducible)"),
    ("unknown embeddings key", art(build={"kind": "embeddings", "trainer": PIPELINE}),
     f"{A}.build.trainer: unknown key 'trainer' (a typo?); allowed keys: kind, model, revision, runtime"),
]


@pytest.mark.parametrize(("edit", "message"), [b[1:] for b in BAD_ARTIFACT], ids=[b[0] for b in BAD_ARTIFACT])
def test_artifact_errors_are_whole_messages(edit: Callable[[dict], Any], message: str):
    refused(edit, message)


BAD_TRAINER: list[tuple[str, dict, str]] = [
    ("trainer missing", {"kind": "sklearn"}, f"{A}.build.trainer is required and missing"),
    ("trainer without function", {"kind": "sklearn", "trainer": "pkg.module"},
     f"{A}.build.trainer: 'pkg.module' is not allowed; allowed: 'package.module:function' that writes a fitted "
     "estimator, e.g. inference.examples.call_time.train:train_estimator"),
    ("unknown sklearn key", {"kind": "sklearn", "trainer": PIPELINE, "runtime": "onnx"},
     f"{A}.build.runtime: unknown key 'runtime' (a typo?); allowed keys: kind, trainer"),
    ("embeddings kind in the sklearn image", {"kind": "embeddings"},
     f"{A}.build.kind: a 'embeddings' artifact (huggingface) cannot run in image {SKLEARN_1_4.image}; allowed: "
     "image repository huggingface-pytorch-inference for kind 'embeddings'"),
]


@pytest.mark.parametrize(("build", "message"), [b[1:] for b in BAD_TRAINER], ids=[b[0] for b in BAD_TRAINER])
def test_sklearn_recipe_errors_are_whole_messages(build: dict, message: str):
    def edit(r: dict) -> None:
        ep(r)["image"] = dict(SK)
        ep(r)["artifact"] = {"build": build}

    refused(edit, message)


# ------------------------------------------------------------------------------------------------ serverless
S = f"{E0}.serverless"


@pytest.mark.parametrize(("max_c", "pc"), [(1, None), (200, None), (5, 5), (5, 1), (200, 200)])
def test_concurrency_bounds_are_inclusive(max_c: int, pc: int | None):
    def edit(r: dict) -> None:
        ep(r)["serverless"].update(max_concurrency=max_c, **({"provisioned_concurrency": pc} if pc else {}))

    s = ok(edit).endpoints[0].serverless
    assert (s.max_concurrency, s.provisioned_concurrency) == (max_c, pc)


BAD_SERVERLESS: list[tuple[str, dict, str]] = [
    ("max 0", {"max_concurrency": 0}, f"{S}.max_concurrency: 0 is out of range; allowed: 1-200"),
    ("max 201", {"max_concurrency": 201}, f"{S}.max_concurrency: 201 is out of range; allowed: 1-200"),
    ("max missing", {"max_concurrency": None}, f"{S}.max_concurrency is required and missing"),
    ("provisioned 0", {"provisioned_concurrency": 0},
     f"{S}.provisioned_concurrency: 0 is out of range; allowed: 1-200"),
    ("provisioned 201", {"max_concurrency": 200, "provisioned_concurrency": 201},
     f"{S}.provisioned_concurrency: 201 is out of range; allowed: 1-200"),
    ("provisioned above max", {"provisioned_concurrency": 11},
     f"{S}.provisioned_concurrency: 11 is above max_concurrency 10; allowed: 1-10"),
    ("unknown key", {"memory": 2048},
     f"{S}.memory: unknown key 'memory' (a typo?); allowed keys: max_concurrency, memory_mb, provisioned_concurrency"),
]


@pytest.mark.parametrize(("update", "message"), [b[1:] for b in BAD_SERVERLESS], ids=[b[0] for b in BAD_SERVERLESS])
def test_serverless_errors_are_whole_messages(update: dict, message: str):
    refused(lambda r: ep(r)["serverless"].update(update), message)


# ------------------------------------------------------------------------------------------------ instance
I_ = f"{E0}.instance"


def test_instance_count_defaults_to_one_and_its_bounds_are_inclusive():
    assert ok(instance).endpoints[0].instance.count == 1
    for count in (1, 100):
        assert ok(lambda r, c=count: instance(r, count=c)).endpoints[0].instance.count == count
    assert ok(lambda r: instance(r, type="ml.g4dn.xlarge")).endpoints[0].instance.instance_type == "ml.g4dn.xlarge"


BAD_INSTANCE: list[tuple[str, dict, str]] = [
    ("count 0", {"count": 0}, f"{I_}.count: 0 is out of range; allowed: 1-100"),
    ("count 101", {"count": 101}, f"{I_}.count: 101 is out of range; allowed: 1-100"),
    ("type not ml", {"type": "m5.large"},
     f"{I_}.type: 'm5.large' is not allowed; allowed: an ml.* instance type, e.g. ml.m5.large"),
    ("type missing", {"type": None}, f"{I_}.type is required and missing"),
    ("unknown key", {"size": 2}, f"{I_}.size: unknown key 'size' (a typo?); allowed keys: count, type"),
]


@pytest.mark.parametrize(("update", "message"), [b[1:] for b in BAD_INSTANCE], ids=[b[0] for b in BAD_INSTANCE])
def test_instance_errors_are_whole_messages(update: dict, message: str):
    def edit(r: dict) -> None:
        instance(r)
        ep(r)["instance"].update(update)

    refused(edit, message)


# ------------------------------------------------------------------------------------------------ scaling
SC = f"{E0}.scaling"


def serverless_scaling(pc: int | None = 2, **scaling: Any) -> Callable[[dict], None]:
    def edit(r: dict) -> None:
        if pc is not None:
            ep(r)["serverless"]["provisioned_concurrency"] = pc
        ep(r)["scaling"] = scaling

    return edit


def instance_scaling(count: int = 2, **scaling: Any) -> Callable[[dict], None]:
    def edit(r: dict) -> None:
        instance(r, count=count)
        ep(r)["scaling"] = scaling

    return edit


def test_serverless_scaling_defaults():
    s = ok(serverless_scaling(pc=2, max_capacity=4)).endpoints[0].scaling
    assert (s.min_capacity, s.max_capacity, s.target_value, s.scale_in_cooldown_s, s.scale_out_cooldown_s) == (
        2, 4, 0.7, 300, 60)


def test_serverless_scaling_bounds_are_inclusive():
    s = ok(serverless_scaling(pc=1, min_capacity=1, max_capacity=10, target_value=1.0, scale_in_cooldown_s=0,
                              scale_out_cooldown_s=3600)).endpoints[0].scaling
    assert (s.min_capacity, s.max_capacity, s.target_value, s.scale_in_cooldown_s, s.scale_out_cooldown_s) == (
        1, 10, 1.0, 0, 3600)
    s = ok(serverless_scaling(pc=10, min_capacity=10, max_capacity=10, scale_in_cooldown_s=3600,
                              scale_out_cooldown_s=0)).endpoints[0].scaling
    assert (s.min_capacity, s.max_capacity, s.scale_in_cooldown_s, s.scale_out_cooldown_s) == (10, 10, 3600, 0)


def test_instance_scaling_defaults_and_bounds():
    s = ok(instance_scaling(count=3, max_capacity=100, target_value=5000)).endpoints[0].scaling
    assert (s.min_capacity, s.max_capacity, s.target_value) == (3, 100, 5000.0)
    s = ok(instance_scaling(count=1, min_capacity=1, max_capacity=1, target_value=0.5)).endpoints[0].scaling
    assert (s.min_capacity, s.max_capacity, s.target_value) == (1, 1, 0.5)


BAD_SCALING: list[tuple[str, Callable[[dict], Any], str]] = [
    ("serverless without provisioned concurrency", serverless_scaling(pc=None, max_capacity=4),
     f"{SC}: autoscaling a serverless endpoint needs provisioned concurrency (AWS scales only "
     "sagemaker:variant:DesiredProvisionedConcurrency); allowed: set serverless.provisioned_concurrency, or remove "
     "scaling"),
    ("max missing", serverless_scaling(), f"{SC}.max_capacity is required and missing"),
    ("max above max_concurrency", serverless_scaling(max_capacity=11),
     f"{SC}.max_capacity: 11 is out of range; allowed: 1-10"),
    ("min 0", serverless_scaling(min_capacity=0, max_capacity=4),
     f"{SC}.min_capacity: 0 is out of range; allowed: 1-10"),
    ("min above max_concurrency", serverless_scaling(min_capacity=11, max_capacity=4),
     f"{SC}.min_capacity: 11 is out of range; allowed: 1-10"),
    ("max 0", serverless_scaling(max_capacity=0), f"{SC}.max_capacity: 0 is out of range; allowed: 1-10"),
    ("target above 1", serverless_scaling(max_capacity=4, target_value=1.01),
     f"{SC}.target_value: 1.01 is out of range; allowed: > 0.0 and <= 1.0"),
    ("target 0", serverless_scaling(max_capacity=4, target_value=0),
     f"{SC}.target_value: 0 is out of range; allowed: > 0.0 and <= 1.0"),
    ("cooldown in above 3600", serverless_scaling(max_capacity=4, scale_in_cooldown_s=3601),
     f"{SC}.scale_in_cooldown_s: 3601 is out of range; allowed: 0-3600"),
    ("cooldown in negative", serverless_scaling(max_capacity=4, scale_in_cooldown_s=-1),
     f"{SC}.scale_in_cooldown_s: -1 is out of range; allowed: 0-3600"),
    ("cooldown out above 3600", serverless_scaling(max_capacity=4, scale_out_cooldown_s=3601),
     f"{SC}.scale_out_cooldown_s: 3601 is out of range; allowed: 0-3600"),
    ("cooldown out negative", serverless_scaling(max_capacity=4, scale_out_cooldown_s=-1),
     f"{SC}.scale_out_cooldown_s: -1 is out of range; allowed: 0-3600"),
    ("provisioned below min", serverless_scaling(pc=2, min_capacity=3, max_capacity=4),
     f"{SC}: provisioned_concurrency 2 is outside min_capacity..max_capacity 3..4; allowed: min_capacity <= "
     "provisioned_concurrency <= max_capacity"),
    ("provisioned above max", serverless_scaling(pc=5, max_capacity=4),
     f"{SC}: provisioned_concurrency 5 is outside min_capacity..max_capacity 5..4; allowed: min_capacity <= "
     "provisioned_concurrency <= max_capacity"),
    ("unknown key", serverless_scaling(max_capacity=4, target=0.5),
     f"{SC}.target: unknown key 'target' (a typo?); allowed keys: max_capacity, min_capacity, scale_in_cooldown_s, "
     "scale_out_cooldown_s, target_value"),
    ("instance target missing", instance_scaling(max_capacity=4), f"{SC}.target_value is required and missing"),
    ("instance max above 100", instance_scaling(max_capacity=101, target_value=10),
     f"{SC}.max_capacity: 101 is out of range; allowed: 1-100"),
    ("instance count below min", instance_scaling(count=2, min_capacity=3, max_capacity=4, target_value=10),
     f"{SC}: instance.count 2 is outside min_capacity..max_capacity 3..4; allowed: min_capacity <= count <= "
     "max_capacity"),
    ("instance target 0", instance_scaling(max_capacity=4, target_value=0),
     f"{SC}.target_value: 0 is out of range; allowed: > 0.0"),
]


@pytest.mark.parametrize(("edit", "message"), [b[1:] for b in BAD_SCALING], ids=[b[0] for b in BAD_SCALING])
def test_scaling_errors_are_whole_messages(edit: Callable[[dict], Any], message: str):
    refused(edit, message)


# ------------------------------------------------------------------------------------------------ alarms
AL = f"{E0}.alarms"


def alarms(**a: Any) -> Callable[[dict], None]:
    return lambda r: ep(r).update(alarms=a)


def test_alarm_defaults_and_inclusive_bounds():
    a = ok(alarms(errors_5xx=1)).endpoints[0].alarms
    assert (a.errors_5xx, a.errors_4xx, a.latency_p90_ms, a.cold_start_ms, a.period_s, a.evaluation_periods) == (
        1, None, None, None, 300, 1)
    a = ok(alarms(errors_4xx=1, latency_p90_ms=60_000, cold_start_ms=0.5, period_s=86_400,
                  evaluation_periods=100)).endpoints[0].alarms
    assert (a.errors_4xx, a.latency_p90_ms, a.cold_start_ms, a.period_s, a.evaluation_periods) == (
        1, 60_000.0, 0.5, 86_400, 100)
    a = ok(alarms(latency_p90_ms=0.1, period_s=60, evaluation_periods=1)).endpoints[0].alarms
    assert (a.latency_p90_ms, a.period_s, a.evaluation_periods) == (0.1, 60, 1)
    assert ok(alarms(cold_start_ms=10**7)).endpoints[0].alarms.cold_start_ms == 10**7


BAD_ALARMS: list[tuple[str, Callable[[dict], Any], str]] = [
    ("no alarm", alarms(period_s=60),
     f"{AL}: no alarm configured; allowed: one or more of errors_5xx, errors_4xx, latency_p90_ms, cold_start_ms"),
    ("errors_5xx 0", alarms(errors_5xx=0), f"{AL}.errors_5xx: 0 is out of range; allowed: >= 1"),
    ("errors_4xx 0", alarms(errors_4xx=0), f"{AL}.errors_4xx: 0 is out of range; allowed: >= 1"),
    ("latency 0", alarms(latency_p90_ms=0), f"{AL}.latency_p90_ms: 0 is out of range; allowed: > 0.0 and <= 60000"),
    ("latency above the invocation timeout", alarms(latency_p90_ms=60_001),
     f"{AL}.latency_p90_ms: 60001 is out of range; allowed: > 0.0 and <= 60000"),
    ("cold start 0", alarms(cold_start_ms=0), f"{AL}.cold_start_ms: 0 is out of range; allowed: > 0.0"),
    ("period below a minute", alarms(errors_5xx=1, period_s=59),
     f"{AL}.period_s: 59 is out of range; allowed: 60-86400"),
    ("period above a day", alarms(errors_5xx=1, period_s=86_460),
     f"{AL}.period_s: 86460 is out of range; allowed: 60-86400"),
    ("period not whole minutes", alarms(errors_5xx=1, period_s=90),
     f"{AL}.period_s: 90 is not allowed; allowed: a multiple of 60 seconds"),
    ("evaluation periods 0", alarms(errors_5xx=1, evaluation_periods=0),
     f"{AL}.evaluation_periods: 0 is out of range; allowed: 1-100"),
    ("evaluation periods 101", alarms(errors_5xx=1, evaluation_periods=101),
     f"{AL}.evaluation_periods: 101 is out of range; allowed: 1-100"),
    ("unknown key", alarms(errors_5xx=1, errors_5XX=2),
     f"{AL}.errors_5XX: unknown key 'errors_5XX' (a typo?); allowed keys: cold_start_ms, errors_4xx, errors_5xx, "
     "evaluation_periods, latency_p90_ms, period_s"),
    ("cold start on an instance endpoint", lambda r: (instance(r), ep(r).update(alarms={"cold_start_ms": 100})),
     f"{AL}.cold_start_ms: ModelSetupTime is only published for serverless endpoints; allowed: remove it"),
]


@pytest.mark.parametrize(("edit", "message"), [b[1:] for b in BAD_ALARMS], ids=[b[0] for b in BAD_ALARMS])
def test_alarm_errors_are_whole_messages(edit: Callable[[dict], Any], message: str):
    refused(edit, message)


# ------------------------------------------------------------------------------------------------ OMP_NUM_THREADS
@pytest.mark.parametrize(("value", "threads"), [("", None), ("  ", None), ("1", 1), (" 3 ", 3), ("2,1", 2),
                                                ("4, 2", 4)])
def test_thread_count_reads_the_first_entry_of_openmps_list(value: str, threads: int | None):
    assert thread_count(value) == threads


@pytest.mark.parametrize("value", ["0", "two", "²", "-1", "1.5", ",2", "٣"])
def test_thread_count_refuses_anything_but_a_positive_ascii_integer_with_one_message(value: str):
    with pytest.raises(ValueError) as info:
        thread_count(value)
    assert str(info.value) == f"{value!r} is not a positive integer (e.g. 1 or 2); unset it to use every vCPU"


# ------------------------------------------------------------------------------------------------ alarm delivery

def _monitoring(**values: Any) -> Callable[[dict], Any]:
    return lambda raw: raw.update(monitoring=values)


BAD_MONITORING = [
    ("topic_arn not an SNS ARN", _monitoring(topic_arn="arn:aws:sqs:us-east-1:123456789012:q"),
     f"{NS}:monitoring.topic_arn: 'arn:aws:sqs:us-east-1:123456789012:q' is not allowed; allowed: an SNS topic ARN "
     "(arn:aws:sns:<region>:<account>:<name>)"),
    ("e-mail without a topic", _monitoring(email=["a@example.com", "b@example.com"]),
     f"{NS}:monitoring.email: a@example.com, b@example.com needs an SNS topic to subscribe to; allowed: set "
     "sns_topic: true"),
    ("both a new and an existing topic",
     _monitoring(sns_topic=True, email=["a@example.com"], topic_arn="arn:aws:sns:us-east-1:123456789012:oncall"),
     f"{NS}:monitoring.topic_arn: the alarms go to an existing topic or to a new one, not both; "
     "allowed: topic_arn, or sns_topic: true with email"),
]


@pytest.mark.parametrize(("edit", "message"), [b[1:] for b in BAD_MONITORING], ids=[b[0] for b in BAD_MONITORING])
def test_monitoring_errors_are_whole_messages(edit: Callable[[dict], Any], message: str):
    refused(edit, message)


# ------------------------------------------------------------------------------------------------ deployment

def _deployment(**values: Any) -> Callable[[dict], Any]:
    return lambda raw: ep(raw).update(deployment=values)


@pytest.mark.parametrize(("key", "lo", "hi"), [("bake_s", 0, 3600), ("termination_wait_s", 0, 3600),
                                               ("max_execution_s", 600, 14400)])
def test_deployment_bounds_are_inclusive_and_one_past_is_refused(key: str, lo: int, hi: int):
    for value in (lo, hi):
        assert getattr(ok(_deployment(**{key: value})).endpoints[0].deployment, key) == value
    for value in (lo - 1, hi + 1):
        refused(_deployment(**{key: value}),
                f"{E0}.deployment.{key}: {value} is out of range; allowed: {lo}-{hi}")


def test_a_deployment_typo_lists_every_deployment_key():
    refused(_deployment(bake=60), f"{E0}.deployment.bake: unknown key 'bake' (a typo?); allowed keys: "
                                  "auto_rollback, bake_s, max_execution_s, termination_wait_s")


# ------------------------------------------------------------------------------------------------ tags

TAG_RULE = ("allowed: keys of 1-128 and values of 0-256 letters, digits, spaces and _ . : / = + - @, keys not "
            "starting with aws:")
BAD_TAGS = [
    ("aws: prefix", {"AWS:team": "ml"}, f"{NS}:tags.AWS:team: the aws: prefix is reserved for AWS; {TAG_RULE}"),
    ("empty key", {"": "ml"}, f"{NS}:tags.: an empty key; {TAG_RULE}"),
    ("refused characters", {"team": "ml#1"}, f"{NS}:tags.team: characters AWS refuses; {TAG_RULE}"),
    ("key too long, named by its first 40 characters", {"k" * 129: "v"},
     f"{NS}:tags.{'k' * 40}: a key of 129 characters (at most 128); {TAG_RULE}"),
]


@pytest.mark.parametrize(("tags", "message"), [b[1:] for b in BAD_TAGS], ids=[b[0] for b in BAD_TAGS])
def test_tag_errors_are_whole_messages(tags: dict, message: str):
    refused(lambda raw: raw.update(tags=tags), message)
