"""The stack config's rules: `validate()` turns the raw config into Settings or raises one ConfigError.

Why: a bad value found halfway through `pulumi up` leaves a half-built stack, and AWS's own errors for
serverless endpoints arrive minutes late and name API fields, not config keys. validate() is a pure function
(raw dicts in, frozen dataclasses out) that builds and reads nothing, so it runs before any resource and
before any artifact build; its first problem names the key, the bad value and what is allowed.

AWS rules (docs/aws-facts.md): serverless memory is one of the tiers in inference.limits, max and provisioned
concurrency 1-200 with provisioned <= max; serverless endpoints refuse VPC config, network isolation, data
capture and multiple production variants; autoscaling a serverless endpoint applies only to its provisioned
concurrency. Ours: the image repository must match the artifact recipe's framework, and the tag must be one we
build artifacts for (pinned, never "1" or "latest"). Whether an artifact fits its image and memory tier is
checked once the artifact exists (artifacts.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inference.build.containers import CONTAINERS
from inference.limits import EMBEDDING_RUNTIMES, ENDPOINT_NAME_PATTERN, MAX_CONCURRENCY, MEMORY_TIERS_MB
from settings.reader import REQUIRED, ConfigObject
from settings.types import (
    AlarmSettings,
    ArtifactSource,
    ConfigError,
    DeploymentSettings,
    EndpointSettings,
    ImageSettings,
    InstanceSettings,
    MonitoringSettings,
    ScalingSettings,
    ServerlessSettings,
    Settings,
)

PROJECT = "sls-endpoints"  # must equal `name` in Pulumi.yaml: it is the config namespace
ROOT = Path(__file__).resolve().parent.parent  # relative artifact paths are relative to the project

FRAMEWORK_REPOSITORY = {c.framework: c.repository for c in CONTAINERS.values()}
BUILD_KINDS = {"embeddings": "huggingface", "sklearn": "sklearn"}  # build recipe kind -> framework it produces
# Keys AWS refuses on a serverless variant (developer guide, "Feature exclusions"), with why, for the error.
SERVERLESS_EXCLUSIONS = {
    "vpc_config": "VPC configuration",
    "network_isolation": "network isolation",
    "data_capture": "data capture",
    "variants": "multiple production variants",
}
TOP_LEVEL_KEYS = ("endpoints", "kms", "protect", "monitoring", "tags", "releases_kept")
ENDPOINT_KEYS = (
    "name",
    "endpoint_name",
    "image",
    "artifact",
    "serverless",
    "instance",
    "scaling",
    "alarms",
    "lambda_role",
    "environment",
    "deployment",
    *SERVERLESS_EXCLUSIONS,
)
# Tags (AWS "Tagging best practices", tag restrictions): keys up to 128 characters and values up to 256, letters,
# digits, spaces and _ . : / = + - @; the aws: prefix is reserved. A bad tag fails every resource at apply.
_TAG_CHARS = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)
MAX_TAG_KEY, MAX_TAG_VALUE = 128, 256
DEFAULT_BAKE_S = 300  # with alarms: five minutes of real traffic on the new fleet before the old one goes
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_KEY_NAME = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRAINER = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_ENDPOINT_NAME_ALLOWED = "letters, digits and '-', <= 63 chars"


def validate(raw: Mapping[str, Any], *, stack: str, region: str, project: str = PROJECT) -> Settings:
    """Check a stack's config (`raw`: the project's keys without the `<project>:` prefix) and type it."""
    ns = f"{project}:"
    if not isinstance(region, str) or not _REGION.match(region):
        raise ConfigError(
            f"aws:region: {region!r} is not an AWS region; set it with `pulumi config set aws:region us-east-1`"
        )
    top = ConfigObject(raw, project, sep=":")
    unknown = sorted(set(raw) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(
            f"{ns}{unknown[0]}: unknown key (a typo?); allowed keys: " + ", ".join(ns + k for k in TOP_LEVEL_KEYS)
        )
    kms = top.flag("kms", False)
    protect = top.flag("protect", False)
    tags = _tags(top.value_of("tags", {}), f"{ns}tags")
    monitoring = _monitoring(top.child("monitoring"))
    releases_kept = top.whole_number("releases_kept", 3, lo=1, hi=20)
    items = top.value_of("endpoints")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{ns}endpoints: expected a non-empty list of endpoint objects, got {items!r}")

    endpoints: list[EndpointSettings] = []
    for i, item in enumerate(items):
        endpoint = _endpoint(ConfigObject(item, f"{ns}endpoints[{i}]"), stack)
        for earlier in endpoints:
            for what in ("name", "endpoint_name"):
                value = getattr(endpoint, what)
                if value == getattr(earlier, what):
                    raise ConfigError(
                        f"{endpoint.key}.{what}: {value!r} is already used by {earlier.key}; "
                        f"allowed: a unique {what} within the stack"
                    )
        endpoints.append(endpoint)
    return Settings(
        project=project,
        stack=stack,
        region=region,
        endpoints=tuple(endpoints),
        kms=kms,
        protect=protect,
        monitoring=monitoring,
        tags=tags,
        releases_kept=releases_kept,
    )


def thread_count(value: str) -> int | None:
    """OMP_NUM_THREADS as the embeddings handler reads it (first entry of OpenMP's list form); None if empty.

    The handler refuses to load with any other value; this is its rule, checked here before anything is
    deployed (tests/settings/test_rules.py holds the two to the same answers).
    """
    if not value.strip():
        return None
    first = value.split(",")[0].strip()
    if not (first.isascii() and first.isdigit()) or int(first) < 1:
        raise ValueError(f"{value!r} is not a positive integer (e.g. 1 or 2); unset it to use every vCPU")
    return int(first)


def _tags(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{key}: expected a map of string tag names to string values, got {value!r}")
    for k, v in value.items():
        problem = (
            "the aws: prefix is reserved for AWS" if k.lower().startswith("aws:")
            else "an empty key" if not k
            else f"a key of {len(k)} characters (at most {MAX_TAG_KEY})" if len(k) > MAX_TAG_KEY
            else f"a value of {len(v)} characters (at most {MAX_TAG_VALUE})" if len(v) > MAX_TAG_VALUE
            else "characters AWS refuses" if not (_TAG_CHARS.match(k) and _TAG_CHARS.match(v))
            else None
        )
        if problem:
            raise ConfigError(
                f"{key}.{k[:40]}: {problem}; allowed: keys of 1-{MAX_TAG_KEY} and values of 0-{MAX_TAG_VALUE} "
                "letters, digits, spaces and _ . : / = + - @, keys not starting with aws:"
            )
    return dict(value)


_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")


def _monitoring(o: ConfigObject | None) -> MonitoringSettings | None:
    if o is None:
        return None
    emails = o.value_of("email", [])
    emails = [emails] if isinstance(emails, str) else emails
    if not isinstance(emails, list) or not all(isinstance(e, str) and _EMAIL.match(e) for e in emails):
        raise ConfigError(f"{o.key_of('email')}: {o.value_of('email')!r} is not a list of e-mail addresses; allowed: "
                          "an address or a list of addresses subscribed to the alarm topic")
    m = MonitoringSettings(
        dashboard=o.flag("dashboard", True),
        sns_topic=o.flag("sns_topic", False),
        email=tuple(emails),
        topic_arn=o.text("topic_arn", None, _TOPIC_ARN, "an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)"),
    )
    o.reject_unknown_keys(["dashboard", "sns_topic", "email", "topic_arn"])
    if m.email and not m.sns_topic:
        raise ConfigError(
            f"{o.key_of('email')}: {', '.join(m.email)} needs an SNS topic to subscribe to; allowed: set "
            "sns_topic: true"
        )
    if m.sns_topic and m.topic_arn:
        raise ConfigError(f"{o.key_of('topic_arn')}: the alarms go to an existing topic or to a new one, not both; "
                          "allowed: topic_arn, or sns_topic: true with email")
    if m.sns_topic and not m.email:
        raise ConfigError(
            f"{o.key_of('sns_topic')}: a topic with nobody subscribed sends the alarms to no one; allowed: email: "
            "[addresses] to subscribe, or topic_arn: an existing topic your on-call already receives"
        )
    return m


def _endpoint(o: ConfigObject, stack: str) -> EndpointSettings:
    name = o.text(
        "name", pattern=_KEY_NAME, allowed="lowercase letters, digits and '-', starting with a letter, <= 30 chars"
    )
    endpoint_name = o.text("endpoint_name", f"{name}-{stack}", ENDPOINT_NAME_PATTERN, _ENDPOINT_NAME_ALLOWED)
    if not ENDPOINT_NAME_PATTERN.match(endpoint_name):
        raise ConfigError(
            f"{o.key_of('endpoint_name')}: the default {endpoint_name!r} (name-stack) is not a valid SageMaker "
            f"endpoint name; allowed: set endpoint_name to {_ENDPOINT_NAME_ALLOWED}"
        )
    serverless_o, instance_o = o.child("serverless"), o.child("instance")
    if (serverless_o is None) == (instance_o is None):
        raise ConfigError(
            f"{o.key}: exactly one of serverless or instance is required, got "
            + ("both" if serverless_o else "neither")
            + "; allowed: serverless: {memory_mb, max_concurrency, ...} or instance: {type, count}"
        )
    for key, what in SERVERLESS_EXCLUSIONS.items():
        if key in o.value:
            if serverless_o is not None:
                raise ConfigError(
                    f"{o.key_of(key)}: {what} is not supported on a serverless endpoint (AWS refuses it); got "
                    f"{o.value[key]!r}; allowed: remove {key}, or use an instance-based endpoint (instance: ...)"
                )
            if key != "network_isolation":
                raise ConfigError(f"{o.key_of(key)}: {what} is not supported by this program; got {o.value[key]!r}")
    if o.flag("network_isolation", False):
        raise ConfigError(
            f"{o.key_of('network_isolation')}: true is not supported by this program yet (the model would need no "
            "network access at all); allowed: false"
        )

    image = _image(o.child("image", required=True))
    artifact = _artifact_source(o.child("artifact", required=True), image, stack)
    serverless = _serverless(serverless_o) if serverless_o is not None else None
    instance = _instance(instance_o) if instance_o is not None else None
    scaling_o = o.child("scaling")
    scaling = _scaling(scaling_o, serverless, instance) if scaling_o is not None else None
    alarms = _alarms(o.child("alarms"), serverless is not None)
    lambda_role = o.flag("lambda_role", False)
    environment = _environment(o.value_of("environment", {}), o.key_of("environment"))
    deployment = _deployment(o.child("deployment"), alarms)
    o.reject_unknown_keys(ENDPOINT_KEYS)
    return EndpointSettings(
        name=name,
        endpoint_name=endpoint_name,
        framework=image.container.framework,
        image=image,
        artifact=artifact,
        serverless=serverless,
        instance=instance,
        scaling=scaling,
        alarms=alarms,
        lambda_role=lambda_role,
        environment=environment,
        deployment=deployment,
        key=o.key,
    )


def _environment(env: Any, key: str) -> dict[str, str]:
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and _ENV_NAME.match(k) and isinstance(v, str) for k, v in env.items()
    ):
        raise ConfigError(f"{key}: expected a map of environment variable names to string values, got {env!r}")
    try:  # the embeddings handler would refuse to load with a bad value: fail before anything is deployed
        thread_count(env.get("OMP_NUM_THREADS", ""))
    except ValueError as e:
        raise ConfigError(f"{key}.OMP_NUM_THREADS: {e}") from e
    return dict(env)


def _deployment(o: ConfigObject | None, alarms: AlarmSettings | None) -> DeploymentSettings:
    """Blue/green, all at once (canary and linear shift fractions of instances; a serverless variant has none),
    with a baking period and auto-rollback on the endpoint's alarms by default when it has alarms."""
    has_alarms = alarms is not None and any(
        v is not None for v in (alarms.errors_5xx, alarms.errors_4xx, alarms.latency_p90_ms, alarms.cold_start_ms)
    )
    if o is None:
        return DeploymentSettings(bake_s=DEFAULT_BAKE_S if has_alarms else 0, auto_rollback=has_alarms)
    d = DeploymentSettings(
        bake_s=o.whole_number("bake_s", DEFAULT_BAKE_S if has_alarms else 0, lo=0, hi=3600),
        auto_rollback=o.flag("auto_rollback", has_alarms),
        max_execution_s=o.whole_number("max_execution_s", None, lo=600, hi=14400),
        termination_wait_s=o.whole_number("termination_wait_s", 0, lo=0, hi=3600),
    )
    o.reject_unknown_keys(["bake_s", "auto_rollback", "max_execution_s", "termination_wait_s"])
    if d.auto_rollback and not has_alarms:
        raise ConfigError(f"{o.key_of('auto_rollback')}: true needs alarms to roll back on, and this endpoint has "
                          "none; allowed: false, or add alarms (errors_5xx, latency_p90_ms, ...)")
    return d


def _image(o: ConfigObject) -> ImageSettings:
    repos = sorted({c.repository for c in CONTAINERS.values()})
    repository = o.text("repository")
    if repository not in repos:
        raise ConfigError(
            f"{o.key_of('repository')}: {repository!r} is not a supported image; allowed: {', '.join(repos)}"
        )
    tags = [c.tag for c in CONTAINERS.values() if c.repository == repository]
    tag = o.value_of("tag", None)
    if tag is None:
        raise ConfigError(
            f"{o.key_of('tag')} is required and missing: pin the full image tag (the provider's default tag '1' "
            f"does not exist for {repository}); allowed: {', '.join(tags)}"
        )
    if tag not in tags:
        raise ConfigError(
            f"{o.key_of('tag')}: {tag!r} is not a pinned tag we build artifacts for ('1'/'latest' float, and an "
            f"artifact must match its image's Python and packages); allowed: {', '.join(tags)}"
        )
    o.reject_unknown_keys(["repository", "tag"])
    return ImageSettings(repository=repository, tag=tag)


ARTIFACT_SOURCES = ("build", "path", "uri", "promote_from")
_SOURCES_ALLOWED = (
    "build: {kind: embeddings|sklearn, ...} (built here), path: <a built model.tar.gz>, uri: s3://bucket/key with "
    "sha256: <64 hex digits> (built elsewhere), or promote_from: <stack> (the artifact that stack deployed)"
)
_S3_URI = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_STACK = re.compile(r"([A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+")


def _artifact_source(o: ConfigObject, image: ImageSettings, stack: str) -> ArtifactSource:
    framework = image.container.framework
    unknown = sorted(set(o.value) - {*ARTIFACT_SOURCES, "sha256"})
    if unknown:
        raise ConfigError(f"{o.key_of(unknown[0])}: unknown key {unknown[0]!r} (a typo?); allowed keys: "
                          f"{', '.join(sorted({*ARTIFACT_SOURCES, 'sha256'}))}")
    given = [k for k in ARTIFACT_SOURCES if o.has(k)]
    if len(given) != 1:
        got = f"{' and '.join(given)}" if given else "none"
        raise ConfigError(f"{o.key}: exactly one artifact source is required, got {got}; allowed: {_SOURCES_ALLOWED}")
    (source,) = given
    if o.has("sha256") and source != "uri":
        raise ConfigError(
            f"{o.key_of('sha256')}: sha256 goes with uri only (a {source} source is hashed from its own bytes); "
            f"allowed: remove sha256, or use uri with sha256"
        )
    if source == "path":
        path = o.value_of("path")
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{o.key_of('path')}: expected a file path, got {path!r}")
        p = Path(path)
        return ArtifactSource(key=o.key_of("path"), path=ROOT / p)  # an absolute p stays p
    if source == "uri":
        uri = o.text("uri")
        if not _S3_URI.fullmatch(uri):
            raise ConfigError(
                f"{o.key_of('uri')}: {uri!r} is not an S3 object URI; allowed: s3://<bucket>/<key> (the object "
                "a build machine uploaded; http(s) URLs and bare keys are not accepted)"
            )
        sha = o.text("sha256", None)
        if sha is None or not _SHA256.fullmatch(sha):
            raise ConfigError(
                f"{o.key_of('sha256')}: {sha!r} is not a sha256; allowed: the artifact's sha256 as 64 lowercase hex "
                "digits (`sha256sum model.tar.gz`), required with uri so the bytes are verified before deploying"
            )
        return ArtifactSource(key=o.key_of("uri"), uri=uri, sha256=sha)
    if source == "promote_from":
        other = o.text("promote_from")
        if not _STACK.fullmatch(other):
            raise ConfigError(
                f"{o.key_of('promote_from')}: {other!r} is not a stack name; allowed: a stack of this project "
                "(e.g. dev) or <organization>/<project>/<stack>"
            )
        if other == stack:
            raise ConfigError(f"{o.key_of('promote_from')}: a stack cannot promote from itself ({stack!r}); "
                              "allowed: the stack that released the artifact, e.g. dev")
        return ArtifactSource(key=o.key_of("promote_from"), promote_from=other)
    build = o.child("build")
    assert build is not None
    kind = build.text("kind")
    if kind not in BUILD_KINDS:
        raise ConfigError(
            f"{build.key_of('kind')}: {kind!r} is not a build recipe; allowed: {', '.join(BUILD_KINDS)}"
        )
    if BUILD_KINDS[kind] != framework:
        raise ConfigError(
            f"{build.key_of('kind')}: a {kind!r} artifact ({BUILD_KINDS[kind]}) cannot run in image "
            f"{image.container.image}; allowed: image repository {FRAMEWORK_REPOSITORY[BUILD_KINDS[kind]]} for "
            f"kind {kind!r}"
        )
    recipe: dict[str, Any] = {"kind": kind}
    if kind == "embeddings":
        recipe["model"] = build.text("model", None)  # None: the builder's default (all-MiniLM-L6-v2, packaged)
        recipe["runtime"] = build.text("runtime", "onnx-int8")
        if recipe["runtime"] not in EMBEDDING_RUNTIMES:
            raise ConfigError(
                f"{build.key_of('runtime')}: {recipe['runtime']!r} is not a runtime; "
                f"allowed: {', '.join(EMBEDDING_RUNTIMES)}"
            )
        recipe["revision"] = build.text("revision", None)
        hub_id = recipe["model"] and not Path(recipe["model"]).expanduser().exists()
        if hub_id and not _COMMIT.fullmatch(recipe["revision"] or ""):
            raise ConfigError(
                f"{build.key_of('revision')}: {recipe['revision']!r} does not pin Hub model {recipe['model']!r}; "
                "allowed: the full 40-character commit sha (branches and tags move; artifacts must be reproducible)"
            )
        build.reject_unknown_keys(["kind", "model", "runtime", "revision"])
    else:
        recipe["trainer"] = build.text(
            "trainer",
            pattern=_TRAINER,
            allowed="'package.module:function' that writes a fitted estimator, "
            "e.g. inference.examples.call_time.train:train_estimator",
        )
        build.reject_unknown_keys(["kind", "trainer"])
    return ArtifactSource(key=build.key, recipe=recipe)


def _serverless(o: ConfigObject) -> ServerlessSettings:
    s = ServerlessSettings(
        memory_mb=o.whole_number("memory_mb"),
        max_concurrency=o.whole_number("max_concurrency", lo=1, hi=MAX_CONCURRENCY),
        provisioned_concurrency=o.whole_number("provisioned_concurrency", None, lo=1, hi=MAX_CONCURRENCY),
    )
    o.reject_unknown_keys(["memory_mb", "max_concurrency", "provisioned_concurrency"])
    if s.memory_mb not in MEMORY_TIERS_MB:
        raise ConfigError(
            f"{o.key_of('memory_mb')}: {s.memory_mb} is not a serverless memory size; "
            f"allowed: one of {', '.join(map(str, MEMORY_TIERS_MB))}"
        )
    pc = s.provisioned_concurrency
    if pc is not None and pc > s.max_concurrency:
        raise ConfigError(
            f"{o.key_of('provisioned_concurrency')}: {pc} is above max_concurrency "
            f"{s.max_concurrency}; allowed: 1-{s.max_concurrency}"
        )
    return s


def _instance(o: ConfigObject) -> InstanceSettings:
    instance = InstanceSettings(
        instance_type=o.text("type", pattern=_INSTANCE_TYPE, allowed="an ml.* instance type, e.g. ml.m5.large"),
        count=o.whole_number("count", 1, lo=1, hi=100),
    )
    o.reject_unknown_keys(["type", "count"])
    return instance


def _scaling(
    o: ConfigObject, serverless: ServerlessSettings | None, instance: InstanceSettings | None
) -> ScalingSettings:
    if serverless is not None:
        pc = serverless.provisioned_concurrency
        if pc is None:
            raise ConfigError(
                f"{o.key}: autoscaling a serverless endpoint needs provisioned concurrency (AWS scales only "
                "sagemaker:variant:DesiredProvisionedConcurrency); allowed: set serverless.provisioned_concurrency, "
                "or remove scaling"
            )
        # target: the provisioned-concurrency utilization, a 0-1 ratio
        current, what, hi, target = pc, "provisioned_concurrency", serverless.max_concurrency, (0.7, 1.0)
    else:
        assert instance is not None
        # target: invocations per instance per minute, no default and no upper bound
        current, what, hi, target = instance.count, "instance.count", 100, (REQUIRED, None)
    s = ScalingSettings(
        min_capacity=o.whole_number("min_capacity", current, lo=1, hi=hi),
        max_capacity=o.whole_number("max_capacity", lo=1, hi=hi),
        target_value=o.number("target_value", target[0], lo=0.0, hi=target[1]),
        scale_in_cooldown_s=o.whole_number("scale_in_cooldown_s", 300, lo=0, hi=3600),
        scale_out_cooldown_s=o.whole_number("scale_out_cooldown_s", 60, lo=0, hi=3600),
    )
    if not s.min_capacity <= current <= s.max_capacity:
        short = what.split(".")[-1]
        raise ConfigError(
            f"{o.key}: {what} {current} is outside min_capacity..max_capacity "
            f"{s.min_capacity}..{s.max_capacity}; allowed: min_capacity <= {short} <= max_capacity"
        )
    o.reject_unknown_keys(
        ["min_capacity", "max_capacity", "target_value", "scale_in_cooldown_s", "scale_out_cooldown_s"]
    )
    return s


def _alarms(o: ConfigObject | None, serverless: bool) -> AlarmSettings | None:
    if o is None:
        return None
    a = AlarmSettings(
        errors_5xx=o.whole_number("errors_5xx", None, lo=1),
        errors_4xx=o.whole_number("errors_4xx", None, lo=1),
        latency_p90_ms=o.number("latency_p90_ms", None, lo=0.0, hi=60_000),  # serverless invocations time out at 60 s
        cold_start_ms=o.number("cold_start_ms", None, lo=0.0),
        period_s=o.whole_number("period_s", 300, lo=60, hi=86_400),
        evaluation_periods=o.whole_number("evaluation_periods", 1, lo=1, hi=100),
    )
    o.reject_unknown_keys(
        ["errors_5xx", "errors_4xx", "latency_p90_ms", "cold_start_ms", "period_s", "evaluation_periods"]
    )
    if a.period_s % 60:
        raise ConfigError(f"{o.key_of('period_s')}: {a.period_s} is not allowed; allowed: a multiple of 60 seconds")
    if a.cold_start_ms is not None and not serverless:
        raise ConfigError(
            f"{o.key_of('cold_start_ms')}: ModelSetupTime is only published for serverless endpoints; "
            "allowed: remove it"
        )
    if all(v is None for v in (a.errors_5xx, a.errors_4xx, a.latency_p90_ms, a.cold_start_ms)):
        raise ConfigError(
            f"{o.key}: no alarm configured; "
            "allowed: one or more of errors_5xx, errors_4xx, latency_p90_ms, cold_start_ms"
        )
    return a
