"""The one place stack config is read and validated, before any resource is declared.

Why: a bad value found halfway through `pulumi up` leaves a half-built stack, and AWS's own errors for
serverless endpoints arrive minutes late and name API fields, not config keys. So `load_settings()` reads the
stack config once, `validate()` (a pure function: raw dicts in, frozen dataclasses out) checks every rule
below, and only then does the program declare resources. The first problem found raises `ConfigError`
naming the key, the bad value and what is allowed.

Rules (AWS, checked with the SageMaker developer guide "serverless-endpoints" and the CreateEndpointConfig
API reference; see ../shared/AWS_FACTS.md): serverless memory is one of 1024..6144 MB in 1 GB steps, max
concurrency 1-200, provisioned concurrency 1-200 and <= max concurrency; serverless endpoints refuse VPC
config, network isolation, data capture and multiple production variants; autoscaling of a serverless
endpoint applies only to its provisioned concurrency. Ours: the image repository must match the artifact's
framework and the tag must be one we build artifacts for (pinned, never "1" or "latest"), and the memory tier
must hold the artifact (manifest `resources.peak_rss_mb` + serving overhead, `inference.sizing`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.build.containers import CONTAINERS, DEFAULT_FOR_FRAMEWORK, Container
from inference.build.sizing import MEMORY_TIERS_MB, SERVING_OVERHEAD_MB, smallest_tier
from inference.handlers.embeddings import thread_cap

ROOT = Path(__file__).resolve().parent
PROJECT = "sls-endpoints"  # must equal `name` in Pulumi.yaml: it is the config namespace

MAX_CONCURRENCY = (1, 200)
PROVISIONED_CONCURRENCY = (1, 200)
VARIANT_NAME = "AllTraffic"
FRAMEWORK_REPOSITORY = {c.framework: c.repository for c in CONTAINERS.values()}
BUILD_KINDS = {"embeddings": "huggingface", "sklearn": "sklearn"}  # build recipe kind -> framework it produces
EMBEDDING_RUNTIMES = ("torch", "onnx", "onnx-int8")
# Keys AWS refuses on a serverless variant (developer guide, "Feature exclusions"), with why, for the error.
SERVERLESS_EXCLUSIONS = {
    "vpc_config": "VPC configuration",
    "network_isolation": "network isolation",
    "data_capture": "data capture",
    "variants": "multiple production variants",
}
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # CreateEndpoint EndpointName pattern
_KEY_NAME = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """A stack config value is wrong; the message names the key, the value and what is allowed."""


# ---------------------------------------------------------------------------------------------- settings types


@dataclass(frozen=True)
class ImageSettings:
    repository: str
    tag: str

    @property
    def container(self) -> Container:
        return next(c for c in CONTAINERS.values() if (c.repository, c.tag) == (self.repository, self.tag))


@dataclass(frozen=True)
class ArtifactRequest:
    """What an endpoint's config asks for: an existing file, or a build recipe run (and cached) on demand."""

    key: str  # config key, for error messages
    endpoint: str
    container: Container
    path: Path | None = None
    recipe: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ResolvedArtifact:
    """A built model.tar.gz on disk and what its manifest says about it."""

    path: Path
    sha256: str
    framework: str
    container: Mapping[str, str]
    runtime: str | None
    peak_rss_mb: float | None
    program: str  # entry script inside code/ (SAGEMAKER_PROGRAM for the scikit-learn image)
    example_request: str | None = None  # a request body the handler accepts (manifest handler.example_request)
    content_type: str = "application/json"
    environment: Mapping[str, str] = field(default_factory=dict)  # what the image needs (manifest handler.environment)


@dataclass(frozen=True)
class ServerlessSettings:
    memory_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None = None


@dataclass(frozen=True)
class InstanceSettings:
    instance_type: str
    count: int


@dataclass(frozen=True)
class ScalingSettings:
    """Provisioned concurrency (serverless) or instance count (instance mode) kept near target_value."""

    min_capacity: int
    max_capacity: int
    target_value: float  # serverless: utilization 0-1; instance mode: invocations per instance per minute
    scale_in_cooldown_s: int = 300
    scale_out_cooldown_s: int = 60


@dataclass(frozen=True)
class AlarmSettings:
    errors_5xx: int | None = None  # Invocation5XXErrors, Sum per period, alarm when >= this
    errors_4xx: int | None = None  # Invocation4XXErrors, Sum per period
    latency_p90_ms: float | None = None  # ModelLatency p90 (CloudWatch unit: microseconds)
    cold_start_ms: float | None = None  # ModelSetupTime Maximum (microseconds); serverless only
    period_s: int = 300
    evaluation_periods: int = 1


@dataclass(frozen=True)
class EndpointSettings:
    name: str  # short key: resource names and outputs
    endpoint_name: str  # the SageMaker endpoint name
    framework: str
    image: ImageSettings
    artifact: ResolvedArtifact
    serverless: ServerlessSettings | None = None
    instance: InstanceSettings | None = None
    scaling: ScalingSettings | None = None
    alarms: AlarmSettings | None = None
    lambda_role: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def variant_name(self) -> str:
        return VARIANT_NAME


@dataclass(frozen=True)
class MonitoringSettings:
    dashboard: bool = True
    sns_topic: bool = False
    email: str | None = None


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    region: str
    endpoints: tuple[EndpointSettings, ...]
    kms: bool = False
    protect: bool = False
    monitoring: MonitoringSettings | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


# -------------------------------------------------------------------------------------------------- reading


_MISSING = object()


class _Obj:
    """A config object being read: typed getters that name the full key in errors, and a typo check."""

    def __init__(self, value: Any, key: str, sep: str = "."):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected an object (key: value pairs), got {value!r}")
        self.value, self.key, self.sep, self.seen = value, key, sep, set()

    def k(self, name: str) -> str:
        return f"{self.key}{self.sep}{name}"

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        self.seen.add(name)
        if name in self.value and self.value[name] is not None:
            return self.value[name]
        if default is _MISSING:
            raise ConfigError(f"{self.k(name)} is required and missing")
        return default

    def text(self, name: str, default: Any = _MISSING, pattern: re.Pattern | None = None, what: str = "") -> Any:
        v = self.raw(name, default)
        if v is default and default is not _MISSING:
            return v
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"{self.k(name)}: expected a non-empty string, got {v!r}")
        if pattern and not pattern.match(v):
            raise ConfigError(f"{self.k(name)}: {v!r} is not allowed; allowed: {what or pattern.pattern}")
        return v

    def whole(self, name: str, default: Any = _MISSING, lo: int | None = None, hi: int | None = None) -> Any:
        v = self.raw(name, default)
        if v is default and default is not _MISSING:
            return v
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{self.k(name)}: expected a whole number, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ConfigError(f"{self.k(name)}: {v} is out of range; allowed: {_range(lo, hi)}")
        return v

    def number(self, name: str, default: Any = _MISSING, lo: float = 0.0, hi: float | None = None, lo_open=True) -> Any:
        v = self.raw(name, default)
        if v is default and default is not _MISSING:
            return v
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(f"{self.k(name)}: expected a number, got {v!r}")
        if (v <= lo if lo_open else v < lo) or (hi is not None and v > hi):
            low = f"> {lo}" if lo_open else f">= {lo}"
            raise ConfigError(f"{self.k(name)}: {v} is out of range; allowed: {low}" + (f" and <= {hi}" if hi else ""))
        return float(v)

    def flag(self, name: str, default: bool) -> bool:
        v = self.raw(name, default)
        if not isinstance(v, bool):
            raise ConfigError(f"{self.k(name)}: expected true or false, got {v!r}")
        return v

    def obj(self, name: str, required: bool = False) -> _Obj | None:
        v = self.raw(name, _MISSING if required else None)
        return None if v is None else _Obj(v, self.k(name))

    def done(self, allowed: list[str] | None = None) -> None:
        """Refuse keys nobody read: almost always a typo, which would otherwise silently mean 'default'."""
        unknown = sorted(set(self.value) - self.seen)
        if unknown:
            ok = ", ".join(sorted(allowed or self.seen))
            raise ConfigError(f"{self.k(unknown[0])}: unknown key {unknown[0]!r} (a typo?); allowed keys: {ok}")


def _range(lo: int | None, hi: int | None) -> str:
    return f"{lo}-{hi}" if lo is not None and hi is not None else (f">= {lo}" if lo is not None else f"<= {hi}")


# ------------------------------------------------------------------------------------------------ validation

TOP_LEVEL_KEYS = ("endpoints", "kms", "protect", "monitoring", "tags")
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
    *SERVERLESS_EXCLUSIONS,
)


def validate(
    raw: Mapping[str, Any],
    *,
    stack: str,
    region: str,
    project: str = PROJECT,
    resolve: Callable[[ArtifactRequest], ResolvedArtifact] | None = None,
) -> Settings:
    """Check a stack's config (`raw`: the project's keys without the `<project>:` prefix) and type it.

    Structure is checked for every endpoint first, and only then are artifacts resolved (which may build
    them), so a typo never costs a model build. `resolve` is injectable for tests; by default an artifact
    file is read, and a build recipe is built once and cached (components/artifact_source.py).
    """
    ns = f"{project}:"
    if not isinstance(region, str) or not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", region or ""):
        raise ConfigError(
            f"aws:region: {region!r} is not an AWS region; set it with `pulumi config set aws:region us-east-1`"
        )
    top = _Obj(raw, project, sep=":")
    unknown = sorted(set(raw) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(
            f"{ns}{unknown[0]}: unknown key (a typo?); allowed keys: " + ", ".join(ns + k for k in TOP_LEVEL_KEYS)
        )
    kms = top.flag("kms", False)
    protect = top.flag("protect", False)
    tags = _tags(top.raw("tags", {}), f"{ns}tags")
    monitoring = _monitoring(top.obj("monitoring"))
    items = top.raw("endpoints")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{ns}endpoints: expected a non-empty list of endpoint objects, got {items!r}")

    pending: list[tuple[dict[str, Any], ArtifactRequest]] = []
    names: dict[str, str] = {}
    endpoint_names: dict[str, str] = {}
    for i, item in enumerate(items):
        fields, request = _endpoint(_Obj(item, f"{ns}endpoints[{i}]"), stack)
        for seen, value, what in (
            (names, fields["name"], "name"),
            (endpoint_names, fields["endpoint_name"], "endpoint_name"),
        ):
            if value in seen:
                raise ConfigError(
                    f"{ns}endpoints[{i}].{what}: {value!r} is already used by {seen[value]}; "
                    f"allowed: a unique {what} within the stack"
                )
            seen[value] = f"{ns}endpoints[{i}]"
        pending.append((fields, request))

    from components.artifact_source import resolve_artifact  # no Pulumi import: safe before any resource

    resolve = resolve or resolve_artifact
    endpoints = []
    for fields, request in pending:
        artifact = resolve(request)
        _check_artifact(fields, request, artifact)
        endpoints.append(EndpointSettings(artifact=artifact, **fields))
    return Settings(
        project=project,
        stack=stack,
        region=region,
        endpoints=tuple(endpoints),
        kms=kms,
        protect=protect,
        monitoring=monitoring,
        tags=tags,
    )


def _tags(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{key}: expected a map of string tag names to string values, got {value!r}")
    return dict(value)


def _monitoring(o: _Obj | None) -> MonitoringSettings | None:
    if o is None:
        return None
    m = MonitoringSettings(
        dashboard=o.flag("dashboard", True),
        sns_topic=o.flag("sns_topic", False),
        email=o.text("email", None, _EMAIL, "an e-mail address"),
    )
    o.done(["dashboard", "sns_topic", "email"])
    if m.email and not m.sns_topic:
        raise ConfigError(
            f"{o.k('email')}: {m.email!r} needs an SNS topic to subscribe to; allowed: set sns_topic: true"
        )
    return m


def _endpoint(o: _Obj, stack: str) -> tuple[dict[str, Any], ArtifactRequest]:
    name = o.text(
        "name", pattern=_KEY_NAME, what="lowercase letters, digits and '-', starting with a letter, <= 30 chars"
    )
    endpoint_name = o.text("endpoint_name", f"{name}-{stack}", _ENDPOINT_NAME, "letters, digits and '-', <= 63 chars")
    if not _ENDPOINT_NAME.match(endpoint_name):
        raise ConfigError(
            f"{o.k('endpoint_name')}: the default {endpoint_name!r} (name-stack) is not a valid SageMaker "
            "endpoint name; "
            "allowed: set endpoint_name to letters, digits and '-', <= 63 chars"
        )
    serverless_o, instance_o = o.obj("serverless"), o.obj("instance")
    if (serverless_o is None) == (instance_o is None):
        raise ConfigError(
            f"{o.key}: exactly one of serverless or instance is required, got "
            + ("both" if serverless_o else "neither")
            + "; allowed: serverless: {memory_mb, max_concurrency, ...} or instance: {type, count}"
        )
    for key, what in SERVERLESS_EXCLUSIONS.items():
        if key in o.value:
            o.seen.add(key)
            if serverless_o is not None:
                raise ConfigError(
                    f"{o.k(key)}: {what} is not supported on a serverless endpoint (AWS refuses it); got "
                    f"{o.value[key]!r}; allowed: remove {key}, or use an instance-based endpoint (instance: ...)"
                )
            if key != "network_isolation":
                raise ConfigError(f"{o.k(key)}: {what} is not supported by this program; got {o.value[key]!r}")
    network_isolation = o.flag("network_isolation", False) if instance_o else False
    if network_isolation:
        raise ConfigError(
            f"{o.k('network_isolation')}: true is not supported by this program yet (the model would need no "
            "network access at all); allowed: false"
        )

    image = _image(o.obj("image", required=True))
    artifact_o = o.obj("artifact", required=True)
    request = _artifact_request(artifact_o, name, image)

    serverless = instance = scaling = None
    if serverless_o is not None:
        serverless = ServerlessSettings(
            memory_mb=serverless_o.whole("memory_mb"),
            max_concurrency=serverless_o.whole("max_concurrency", lo=MAX_CONCURRENCY[0], hi=MAX_CONCURRENCY[1]),
            provisioned_concurrency=serverless_o.whole("provisioned_concurrency", None, *PROVISIONED_CONCURRENCY),
        )
        serverless_o.done(["memory_mb", "max_concurrency", "provisioned_concurrency"])
        if serverless.memory_mb not in MEMORY_TIERS_MB:
            raise ConfigError(
                f"{serverless_o.k('memory_mb')}: {serverless.memory_mb} is not a serverless memory size; "
                f"allowed: one of {', '.join(map(str, MEMORY_TIERS_MB))}"
            )
        pc = serverless.provisioned_concurrency
        if pc is not None and pc > serverless.max_concurrency:
            raise ConfigError(
                f"{serverless_o.k('provisioned_concurrency')}: {pc} is above max_concurrency "
                f"{serverless.max_concurrency}; allowed: 1-{serverless.max_concurrency}"
            )
    else:
        assert instance_o is not None
        instance = InstanceSettings(
            instance_type=instance_o.text(
                "type", pattern=_INSTANCE_TYPE, what="an ml.* instance type, e.g. ml.m5.large"
            ),
            count=instance_o.whole("count", 1, lo=1, hi=100),
        )
        instance_o.done(["type", "count"])

    scaling_o = o.obj("scaling")
    if scaling_o is not None:
        scaling = _scaling(scaling_o, serverless, instance)
    alarms = _alarms(o.obj("alarms"), serverless is not None)
    lambda_role = o.flag("lambda_role", False)
    env = o.raw("environment", {})
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and _ENV_NAME.match(k) and isinstance(v, str) for k, v in env.items()
    ):
        raise ConfigError(
            f"{o.k('environment')}: expected a map of environment variable names to string values, got {env!r}"
        )
    try:  # the embeddings handler would refuse to load with a bad value: fail before anything is deployed
        thread_cap(env.get("OMP_NUM_THREADS", ""))
    except ValueError as e:
        raise ConfigError(f"{o.k('environment')}.OMP_NUM_THREADS: {e}") from e
    o.done(list(ENDPOINT_KEYS))
    fields = dict(
        name=name,
        endpoint_name=endpoint_name,
        framework=request.container.framework,
        image=image,
        serverless=serverless,
        instance=instance,
        scaling=scaling,
        alarms=alarms,
        lambda_role=lambda_role,
        environment=dict(env),
    )
    return fields, request


def _image(o: _Obj) -> ImageSettings:
    repos = sorted({c.repository for c in CONTAINERS.values()})
    repository = o.text("repository")
    if repository not in repos:
        raise ConfigError(f"{o.k('repository')}: {repository!r} is not a supported image; allowed: {', '.join(repos)}")
    tags = [c.tag for c in CONTAINERS.values() if c.repository == repository]
    tag = o.raw("tag", None)
    if tag is None:
        raise ConfigError(
            f"{o.k('tag')} is required and missing: pin the full image tag (the provider's default tag '1' does not "
            f"exist for {repository}); allowed: {', '.join(tags)}"
        )
    if tag not in tags:
        raise ConfigError(
            f"{o.k('tag')}: {tag!r} is not a pinned tag we build artifacts for ('1'/'latest' float, and an artifact "
            f"must match its image's Python and packages); allowed: {', '.join(tags)}"
        )
    o.done(["repository", "tag"])
    return ImageSettings(repository=repository, tag=tag)


def _artifact_request(o: _Obj, endpoint: str, image: ImageSettings) -> ArtifactRequest:
    container = image.container
    path, build = o.raw("path", None), o.obj("build")
    o.done(["path", "build"])
    if (path is None) == (build is None):
        raise ConfigError(
            f"{o.key}: exactly one of path or build is required, got {'both' if path else 'neither'}; allowed: "
            "path: <a built model.tar.gz> or build: {kind: embeddings|sklearn, ...}"
        )
    if path is not None:
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{o.k('path')}: expected a file path, got {path!r}")
        p = Path(path)
        return ArtifactRequest(
            key=o.k("path"), endpoint=endpoint, container=container, path=p if p.is_absolute() else ROOT / p
        )
    assert build is not None
    kind = build.text("kind")
    if kind not in BUILD_KINDS:
        raise ConfigError(f"{build.k('kind')}: {kind!r} is not a build recipe; allowed: {', '.join(BUILD_KINDS)}")
    if BUILD_KINDS[kind] != container.framework:
        raise ConfigError(
            f"{build.k('kind')}: a {kind!r} artifact ({BUILD_KINDS[kind]}) cannot run in image {container.image}; "
            f"allowed: image repository {FRAMEWORK_REPOSITORY[BUILD_KINDS[kind]]} for kind {kind!r}"
        )
    recipe: dict[str, Any] = {"kind": kind}
    if kind == "embeddings":
        recipe["model"] = build.text("model", None)  # None: the builder's default (all-MiniLM-L6-v2, packaged)
        recipe["runtime"] = build.text("runtime", "onnx-int8")
        if recipe["runtime"] not in EMBEDDING_RUNTIMES:
            raise ConfigError(
                f"{build.k('runtime')}: {recipe['runtime']!r} is not a runtime; "
                f"allowed: {', '.join(EMBEDDING_RUNTIMES)}"
            )
        recipe["revision"] = build.text("revision", None)
        hub_id = recipe["model"] and not Path(recipe["model"]).expanduser().exists()
        if hub_id and not re.fullmatch(r"[0-9a-f]{40}", recipe["revision"] or ""):
            raise ConfigError(
                f"{build.k('revision')}: {recipe['revision']!r} does not pin Hub model {recipe['model']!r}; "
                "allowed: the full 40-character commit sha (branches and tags move; artifacts must be reproducible)"
            )
        build.done(["kind", "model", "runtime", "revision"])
    else:
        recipe["trainer"] = build.text(
            "trainer",
            pattern=re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"),
            what="'package.module:function' that writes a fitted estimator, "
            "e.g. inference.examples.call_time.train:train_estimator",
        )
        build.done(["kind", "trainer"])
    return ArtifactRequest(key=build.key, endpoint=endpoint, container=container, recipe=recipe)


def _scaling(o: _Obj, serverless: ServerlessSettings | None, instance: InstanceSettings | None) -> ScalingSettings:
    if serverless is not None:
        pc = serverless.provisioned_concurrency
        if pc is None:
            raise ConfigError(
                f"{o.key}: autoscaling a serverless endpoint needs provisioned concurrency (AWS scales only "
                "sagemaker:variant:DesiredProvisionedConcurrency); allowed: set serverless.provisioned_concurrency, "
                "or remove scaling"
            )
        hi = serverless.max_concurrency
        s = ScalingSettings(
            min_capacity=o.whole("min_capacity", pc, lo=1, hi=hi),
            max_capacity=o.whole("max_capacity", lo=1, hi=hi),
            target_value=o.number("target_value", 0.7, lo=0.0, hi=1.0),
            scale_in_cooldown_s=o.whole("scale_in_cooldown_s", 300, lo=0, hi=3600),
            scale_out_cooldown_s=o.whole("scale_out_cooldown_s", 60, lo=0, hi=3600),
        )
        if not s.min_capacity <= pc <= s.max_capacity:
            raise ConfigError(
                f"{o.key}: provisioned_concurrency {pc} is outside min_capacity..max_capacity "
                f"{s.min_capacity}..{s.max_capacity}; allowed: min_capacity <= provisioned_concurrency <= max_capacity"
            )
    else:
        assert instance is not None
        s = ScalingSettings(
            min_capacity=o.whole("min_capacity", instance.count, lo=1, hi=100),
            max_capacity=o.whole("max_capacity", lo=1, hi=100),
            target_value=o.number("target_value", lo=0.0),
            scale_in_cooldown_s=o.whole("scale_in_cooldown_s", 300, lo=0, hi=3600),
            scale_out_cooldown_s=o.whole("scale_out_cooldown_s", 60, lo=0, hi=3600),
        )
        if not s.min_capacity <= instance.count <= s.max_capacity:
            raise ConfigError(
                f"{o.key}: instance.count {instance.count} is outside min_capacity..max_capacity "
                f"{s.min_capacity}..{s.max_capacity}; allowed: min_capacity <= count <= max_capacity"
            )
    o.done(["min_capacity", "max_capacity", "target_value", "scale_in_cooldown_s", "scale_out_cooldown_s"])
    return s


def _alarms(o: _Obj | None, serverless: bool) -> AlarmSettings | None:
    if o is None:
        return None
    a = AlarmSettings(
        errors_5xx=o.whole("errors_5xx", None, lo=1),
        errors_4xx=o.whole("errors_4xx", None, lo=1),
        latency_p90_ms=o.number("latency_p90_ms", None, lo=0.0, hi=60_000),  # serverless invocations time out at 60 s
        cold_start_ms=o.number("cold_start_ms", None, lo=0.0),
        period_s=o.whole("period_s", 300, lo=60, hi=86_400),
        evaluation_periods=o.whole("evaluation_periods", 1, lo=1, hi=100),
    )
    o.done(["errors_5xx", "errors_4xx", "latency_p90_ms", "cold_start_ms", "period_s", "evaluation_periods"])
    if a.period_s % 60:
        raise ConfigError(f"{o.k('period_s')}: {a.period_s} is not allowed; allowed: a multiple of 60 seconds")
    if a.cold_start_ms is not None and not serverless:
        raise ConfigError(
            f"{o.k('cold_start_ms')}: ModelSetupTime is only published for serverless endpoints; allowed: remove it"
        )
    if all(v is None for v in (a.errors_5xx, a.errors_4xx, a.latency_p90_ms, a.cold_start_ms)):
        raise ConfigError(
            f"{o.key}: no alarm configured; "
            "allowed: one or more of errors_5xx, errors_4xx, latency_p90_ms, cold_start_ms"
        )
    return a


def _check_artifact(fields: dict[str, Any], request: ArtifactRequest, artifact: ResolvedArtifact) -> None:
    """The artifact must be built for this endpoint's image and fit in its memory tier."""
    image: ImageSettings = fields["image"]
    built_for = f"{artifact.container.get('repository')}:{artifact.container.get('tag')}"
    if artifact.framework != image.container.framework or artifact.container.get("repository") != image.repository:
        raise ConfigError(
            f"{request.key}: {artifact.path} is a {artifact.framework!r} artifact built for {built_for}, but the "
            f"endpoint's image is {image.repository}:{image.tag}; allowed: an artifact built for "
            f"{FRAMEWORK_REPOSITORY[image.container.framework]}, or image repository "
            f"{FRAMEWORK_REPOSITORY.get(artifact.framework, '?')}"
        )
    if artifact.container.get("tag") != image.tag:
        raise ConfigError(
            f"{request.key}: {artifact.path} was built for {built_for} (its Python and packages), but the endpoint's "
            f"image tag is {image.tag!r}; allowed: image tag {artifact.container.get('tag')!r}, or rebuild the "
            "artifact for this tag"
        )
    serverless: ServerlessSettings | None = fields["serverless"]
    if serverless is not None and artifact.peak_rss_mb is not None:
        try:
            need = smallest_tier(artifact.peak_rss_mb)
        except ValueError as e:
            raise ConfigError(f"{request.key}: {e}") from e
        if serverless.memory_mb < need:
            raise ConfigError(
                f"{request.key.split('.artifact')[0]}.serverless.memory_mb: {serverless.memory_mb} MB is below "
                f"what the artifact needs (peak RSS "
                f"{artifact.peak_rss_mb:.0f} MB + {SERVING_OVERHEAD_MB} MB serving overhead); allowed: {need} MB "
                "or more (the smallest tier that fits)"
            )


# ---------------------------------------------------------------------------------------------------- loading


def raw_config(project: str = PROJECT) -> dict[str, Any]:
    """Every `<project>:*` key of the running stack (objects parsed), typos included so validate() sees them."""
    import json

    import pulumi
    from pulumi.runtime import config as runtime_config

    cfg = pulumi.Config(project)
    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    raw: dict[str, Any] = {}
    for full in sorted(names):
        if not full.startswith(project + ":"):
            continue
        key = full.split(":", 1)[1]
        text = cfg.get(key)
        try:
            raw[key] = cfg.get_object(key) if text is not None and text[:1] in "[{" else _scalar(text)
        except (json.JSONDecodeError, pulumi.ConfigTypeError) as e:
            raise ConfigError(f"{full}: not valid JSON/YAML structure: {e}") from e
    raw["endpoints"] = cfg.require_object("endpoints")  # the one required key: Pulumi's own error if absent
    return raw


def _scalar(text: str | None) -> Any:
    if text in ("true", "false"):
        return text == "true"
    return text


def read_stack_file(work_dir: Path, stack: str, project: str = PROJECT) -> tuple[dict[str, Any], str]:
    """(`<project>:*` keys without the prefix, aws:region) from Pulumi.<stack>.yaml, for checks before any CLI run."""
    import yaml

    path = Path(work_dir) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"stack file {path} does not exist; allowed stacks: "
            + ", ".join(sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in Path(work_dir).glob("Pulumi.*.yaml")))
        )
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(project + ":")}
    return raw, str(config.get("aws:region") or "")


def load_settings() -> Settings:
    """Read and validate the running stack's config; raises ConfigError before any resource exists."""
    import pulumi

    region = pulumi.Config("aws").get("region") or ""
    return validate(raw_config(), stack=pulumi.get_stack(), region=region, project=pulumi.get_project())


__all__ = [
    "AlarmSettings",
    "ArtifactRequest",
    "ConfigError",
    "EndpointSettings",
    "ImageSettings",
    "InstanceSettings",
    "MonitoringSettings",
    "ResolvedArtifact",
    "ScalingSettings",
    "ServerlessSettings",
    "Settings",
    "load_settings",
    "smallest_tier",
    "validate",
    "DEFAULT_FOR_FRAMEWORK",
]
