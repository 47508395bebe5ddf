"""The validated stack config as frozen dataclasses: what settings.rules.validate returns.

These types describe what the config asks for; they hold no artifact bytes and no Pulumi values. The artifact
an endpoint runs is only named here (ArtifactSource); finding or building it is the next step (artifacts.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.build.containers import CONTAINERS, Container
from inference.limits import VARIANT_NAME


class ConfigError(ValueError):
    """A stack config value is wrong; the message names the key, the value and what is allowed."""


@dataclass(frozen=True)
class ImageSettings:
    repository: str
    tag: str

    @property
    def container(self) -> Container:
        return next(c for c in CONTAINERS.values() if (c.repository, c.tag) == (self.repository, self.tag))


@dataclass(frozen=True)
class ArtifactSource:
    """Where an endpoint's model.tar.gz comes from (exactly one is set): a build recipe (built and cached later),
    an existing file, an S3 object built elsewhere with its expected sha256, or the artifact another stack of
    this project deployed (read through a StackReference, copied, never rebuilt)."""

    key: str  # the config key (`...artifact.path`, `.build`, `.uri`, `.promote_from`), for error messages
    path: Path | None = None
    recipe: Mapping[str, Any] | None = None
    uri: str | None = None
    sha256: str | None = None  # with uri
    promote_from: str | None = None  # a stack name, or organization/project/stack


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
class DeploymentSettings:
    """How an update of the endpoint is rolled out: blue/green, all traffic at once, then a baking period during
    which the endpoint's own alarms roll it back (auto_rollback)."""

    bake_s: int = 0  # WaitIntervalInSeconds: how long the new fleet serves under watch before the old one goes
    auto_rollback: bool = False  # roll back when one of the endpoint's alarms fires during the update
    max_execution_s: int | None = None  # MaximumExecutionTimeoutInSeconds (600-14400); None: AWS default
    termination_wait_s: int = 0  # TerminationWaitInSeconds: keep the old fleet this long after the switch


@dataclass(frozen=True)
class EndpointSettings:
    name: str  # short key: resource names and outputs
    endpoint_name: str  # the SageMaker endpoint name
    framework: str
    image: ImageSettings
    artifact: ArtifactSource
    serverless: ServerlessSettings | None = None
    instance: InstanceSettings | None = None
    scaling: ScalingSettings | None = None
    alarms: AlarmSettings | None = None
    lambda_role: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)
    deployment: DeploymentSettings = field(default_factory=DeploymentSettings)
    key: str = ""  # the config key of this endpoint (`<project>:endpoints[i]`), for error messages

    @property
    def variant_name(self) -> str:
        return VARIANT_NAME


@dataclass(frozen=True)
class MonitoringSettings:
    dashboard: bool = True
    sns_topic: bool = False  # create a topic for the alarms (it must have a subscriber: email)
    email: tuple[str, ...] = ()  # subscribed to the created topic
    topic_arn: str | None = None  # or: an existing topic (e.g. the team's on-call) the alarms notify


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
    releases_kept: int = 3  # models, endpoint configs and artifacts of the last N releases stay for rollback
