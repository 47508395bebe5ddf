"""What SageMaker actually serves, read with boto3: describe, wait for InService (boto3's waiter), and verify each
endpoint against what the stack declared.

Why: pulumi-aws bridges terraform-provider-aws, which records a failed UpdateEndpoint that SageMaker rolled back
as done (terraform-provider-aws #46663, #48997): `up` succeeds while the endpoint still serves the old config.
Only the live EndpointConfigName tells, so every release compares it with the stack's output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from .failures import EXIT_ENDPOINT_FAILED, EXIT_LIVE_MISMATCH, EXIT_TIMEOUT, ReleaseFailure

# Control-plane calls: botocore's standard retry mode (throttling, 5xx, connection errors) does the retrying.
SAGEMAKER_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60)


def log_group(endpoint: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint}"


@dataclass(frozen=True)
class WaitOptions:
    """boto3 waiter settings: poll every `delay` seconds, at most `max_attempts` times."""

    delay: float = 30
    max_attempts: int = 60

    @property
    def waiter_config(self) -> dict[str, float]:
        return {"Delay": self.delay, "MaxAttempts": self.max_attempts}

    @property
    def seconds(self) -> float:
        return self.delay * self.max_attempts


@dataclass(frozen=True)
class Declared:
    """One endpoint as the stack's `endpoints` output declares it."""

    key: str
    name: str
    config_name: str | None
    artifact_sha256: str | None = None
    manifest: Mapping[str, Any] | None = None

    @classmethod
    def from_output(cls, key: str, value: Mapping[str, Any]) -> Declared:
        manifest = value.get("artifact_manifest")
        if isinstance(manifest, str):
            try:
                manifest = json.loads(manifest)
            except ValueError:  # "" too: the smoke test then probes the endpoint's kind
                manifest = None
        return cls(key, value["name"], value.get("config_name"), value.get("artifact_sha256"), manifest)


def declared_endpoints(outputs: Mapping[str, Any]) -> list[Declared]:
    return [Declared.from_output(k, v) for k, v in (outputs.get("endpoints") or {}).items()]


@dataclass(frozen=True)
class LiveState:
    """DescribeEndpoint's answer, or why there is none (`missing`: the endpoint does not exist)."""

    name: str
    status: str | None = None
    config_name: str | None = None
    failure_reason: str | None = None
    missing: bool = False
    error: str | None = None

    def render(self) -> str:
        if self.missing:
            return "does not exist"
        if self.error:
            return f"unknown ({self.error})"
        reason = f"; FailureReason: {self.failure_reason}" if self.failure_reason else ""
        return f"{self.status} on config {self.config_name}{reason}"


def sagemaker_client(session: Any) -> Any:
    return session.client("sagemaker", config=SAGEMAKER_CONFIG)


def describe(sm: Any, name: str) -> LiveState:
    try:
        ep = sm.describe_endpoint(EndpointName=name)
    except ClientError as e:
        err = e.response.get("Error", {})
        message = err.get("Message", "")
        if err.get("Code") == "ValidationException" and "Could not find endpoint" in message:
            return LiveState(name, missing=True)
        return LiveState(name, error=f"{err.get('Code')}: {message}")
    except BotoCoreError as e:
        return LiveState(name, error=f"{type(e).__name__}: {e}")
    return LiveState(name, ep.get("EndpointStatus"), ep.get("EndpointConfigName"), ep.get("FailureReason"))


def snapshot(sm: Any, names: list[str]) -> dict[str, LiveState]:
    """Each endpoint's live state before `up`: the configs a rollback returns to."""
    return {name: describe(sm, name) for name in names}


def config_exists(sm: Any, config_name: str) -> bool:
    try:
        sm.describe_endpoint_config(EndpointConfigName=config_name)
        return True
    except ClientError:
        return False


def wait_in_service(sm: Any, name: str, wait: WaitOptions) -> LiveState:
    """Wait with boto3's `endpoint_in_service` waiter; Failed -> EXIT_ENDPOINT_FAILED, too long -> EXIT_TIMEOUT."""
    try:
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=wait.waiter_config)
    except WaiterError as e:
        state = describe(sm, name)
        if state.status == "Failed":
            raise ReleaseFailure(EXIT_ENDPOINT_FAILED, failed_message(state)) from None
        if state.missing:
            raise ReleaseFailure(EXIT_ENDPOINT_FAILED, f"endpoint {name} does not exist (it was never created, or "
                                                       "was deleted)") from None
        if "Max attempts exceeded" in str(e):
            raise ReleaseFailure(EXIT_TIMEOUT, f"endpoint {name} is still {state.status} after "
                                               f"{wait.seconds:g} s ({wait.max_attempts} polls every "
                                               f"{wait.delay:g} s); "
                                               f"raise --wait-attempts if it needs longer, and look at its log group "
                                               f"{log_group(name)}") from None
        raise ReleaseFailure(EXIT_ENDPOINT_FAILED, f"waiting for endpoint {name} failed: {e}; now "
                                                   f"{state.render()}") from None
    return describe(sm, name)


def failed_message(state: LiveState) -> str:
    return (f"endpoint {state.name} is Failed: {state.failure_reason or '(no FailureReason given)'}; its logs are "
            f"in the CloudWatch log group {log_group(state.name)}")


def verify(sm: Any, declared: Declared, wait: WaitOptions) -> LiveState:
    """InService and serving the config the stack declared, else a ReleaseFailure naming the difference."""
    state = wait_in_service(sm, declared.name, wait)
    if declared.config_name and state.config_name != declared.config_name:
        reason = f" SageMaker's FailureReason: {state.failure_reason}." if state.failure_reason else ""
        raise ReleaseFailure(EXIT_LIVE_MISMATCH, (
            f"endpoint {declared.name} serves config {state.config_name}, but the stack declared "
            f"{declared.config_name}: the update failed and SageMaker rolled it back while Pulumi recorded success "
            f"(terraform-provider-aws #46663).{reason} Logs: {log_group(declared.name)}"))
    return state
