"""What a caller may learn about an endpoint from SageMaker's control plane, if its role allows.

Why: the client's default concurrency should stay below the endpoint's MaxConcurrency and its cache must be
keyed by the model behind the endpoint; both are in DescribeEndpoint + DescribeEndpointConfig. The stack's
invoke role grants InvokeEndpoint only, so a failing describe is normal: `describe_endpoint` then returns an
EndpointInfo with `error` set and the caller falls back to documented defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


@dataclass(frozen=True)
class EndpointInfo:
    """status, config name, first variant's model name and serverless config; `error` when describe failed."""

    name: str
    status: str | None = None
    config_name: str | None = None
    model_name: str | None = None
    max_concurrency: int | None = None
    memory_mb: int | None = None
    provisioned_concurrency: int | None = None
    instance_type: str | None = None
    failure_reason: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def describe_endpoint(sagemaker: Any, name: str) -> EndpointInfo:
    """DescribeEndpoint then DescribeEndpointConfig with a boto3 "sagemaker" client; never raises for AWS errors."""
    try:
        ep = sagemaker.describe_endpoint(EndpointName=name)
    except (ClientError, BotoCoreError) as e:
        return EndpointInfo(name, error=_why(e, "sagemaker:DescribeEndpoint"))
    status, config_name = ep.get("EndpointStatus"), ep.get("EndpointConfigName")
    failure = ep.get("FailureReason")
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except (ClientError, BotoCoreError) as e:
        return EndpointInfo(name, status=status, config_name=config_name, failure_reason=failure,
                            error=_why(e, "sagemaker:DescribeEndpointConfig"))
    variants = config.get("ProductionVariants") or [{}]
    variant = variants[0]
    serverless = variant.get("ServerlessConfig") or {}
    return EndpointInfo(
        name, status=status, config_name=config_name, model_name=variant.get("ModelName"),
        max_concurrency=serverless.get("MaxConcurrency"), memory_mb=serverless.get("MemorySizeInMB"),
        provisioned_concurrency=serverless.get("ProvisionedConcurrency"),
        instance_type=variant.get("InstanceType"), failure_reason=failure,
    )


def _why(e: Exception, action: str) -> str:
    if isinstance(e, ClientError):
        code = e.response.get("Error", {}).get("Code", "?")
        msg = e.response.get("Error", {}).get("Message", "")
        hint = f" (the caller's role needs {action})" if code in ("AccessDenied", "AccessDeniedException") else ""
        return f"{action} failed: {code}: {msg}{hint}"
    return f"{action} failed: {type(e).__name__}: {e}"
