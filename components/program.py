"""The whole stack, declared from validated Settings: what `__main__.py` runs and the tests run with mocks.

Per stack: an explicit AWS provider (region from config, default tags on every resource), an optional KMS
key, one artifact bucket and optional monitoring. Per endpoint: image lookup, execution role, model +
config + endpoint, invoke access and optional autoscaling. Returns the stack outputs.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import pulumi
import pulumi_aws as aws

from components.artifact_store import ArtifactStore, ArtifactStoreArgs
from components.context import aws_context
from components.execution_role import ExecutionRole, ExecutionRoleArgs
from components.inference_endpoint import InferenceEndpoint, InferenceEndpointArgs
from components.invoke_access import InvokeAccess, InvokeAccessArgs
from components.monitoring import MonitoredEndpoint, Monitoring, MonitoringArgs
from components.scaling import Scaling, ScalingArgs
from settings import EndpointSettings, Settings

DEFAULT_EXAMPLES = {  # used when an artifact's manifest carries no example request
    "huggingface": {"inputs": ["How long does a cold start take?"]},
    "sklearn": {"instances": [[0.0]]},
}


def default_tags(settings: Settings) -> dict[str, str]:
    """Tags every resource gets through the provider's default_tags (config `tags` may add or override)."""
    return {"project": settings.project, "stack": settings.stack, "managed-by": "pulumi", **settings.tags}


def invoke_example(
    ep: EndpointSettings, endpoint_name: pulumi.Input[str], region: pulumi.Input[str]
) -> pulumi.Output[str]:
    """A ready-to-run AWS CLI call of the endpoint (needs the invoke policy)."""
    body = ep.artifact.example_request or json.dumps(DEFAULT_EXAMPLES[ep.framework])
    return pulumi.Output.concat(
        "aws sagemaker-runtime invoke-endpoint --region ",
        region,
        " --endpoint-name ",
        endpoint_name,
        " --content-type ",
        ep.artifact.content_type,
        " --accept application/json",
        " --cli-binary-format raw-in-base64-out --body ",
        shlex.quote(body),
        " /dev/stdout",
    )


def build(settings: Settings) -> dict[str, Any]:
    """Declare every resource of the stack; returns {output name: value} for `pulumi.export`."""
    provider = aws.Provider(
        "aws",
        region=settings.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(settings)),
    )
    ctx = aws_context(provider)
    opts = pulumi.ResourceOptions(providers=[provider])  # components pass it on to every child
    key_arn: pulumi.Output[str] | None = None
    if settings.kms:
        key = aws.kms.Key(
            "stack-key",
            description=f"{settings.project}/{settings.stack}: model artifacts and endpoint storage",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=pulumi.ResourceOptions(provider=provider, protect=settings.protect),
        )
        key_arn = key.arn
    store = ArtifactStore(
        "artifacts",
        ArtifactStoreArgs(
            artifacts={ep.name: ep.artifact for ep in settings.endpoints},
            kms_key_arn=key_arn,
            force_destroy=not settings.protect,  # a protected (prod) stack keeps its artifacts on destroy
        ),
        opts=opts,
    )
    endpoints_out: dict[str, Any] = {}
    monitored: list[MonitoredEndpoint] = []
    for ep in settings.endpoints:
        stored = store.objects[ep.name]
        image = aws.sagemaker.get_prebuilt_ecr_image_output(
            repository_name=ep.image.repository,
            image_tag=ep.image.tag,
            region=settings.region,
            opts=pulumi.InvokeOutputOptions(provider=provider),
        )
        role = ExecutionRole(
            f"{ep.name}-exec",
            ExecutionRoleArgs(
                context=ctx,
                endpoint_name=ep.endpoint_name,
                artifact_object_arn=stored.object_arn,
                image_repository=ep.image.repository,
                image_registry_id=image.registry_id,
                kms_key_arn=key_arn,
            ),
            opts=opts,
        )
        endpoint = InferenceEndpoint(
            ep.name,
            InferenceEndpointArgs(
                endpoint=ep,
                role_arn=role.arn,
                role_policy=role.policy,
                image_uri=image.registry_path,
                model_data_url=stored.uri,
                kms_key_arn=key_arn,
                protect=settings.protect,
            ),
            opts=opts,
        )
        access = InvokeAccess(
            f"{ep.name}-invoke",
            InvokeAccessArgs(
                context=ctx,
                endpoint_name=ep.endpoint_name,
                endpoint_arn=endpoint.endpoint_arn,
                lambda_role=ep.lambda_role,
            ),
            opts=opts,
        )
        if ep.scaling is not None:
            Scaling(
                f"{ep.name}-scaling",
                ScalingArgs(
                    endpoint_name=endpoint.endpoint_name,
                    variant_name=endpoint.variant_name,
                    scaling=ep.scaling,
                    serverless=ep.serverless is not None,
                ),
                opts=opts,
            )
        monitored.append(MonitoredEndpoint(settings=ep, endpoint_name=endpoint.endpoint_name))
        out: dict[str, Any] = {
            "name": endpoint.endpoint_name,
            "arn": endpoint.endpoint_arn,
            "invoke_policy_arn": access.policy_arn,
            "image_uri": image.registry_path,
            "artifact_uri": stored.uri,
            "artifact_sha256": stored.sha256,
            "region": ctx.region,
            "invoke_example": invoke_example(ep, endpoint.endpoint_name, ctx.region),
        }
        if access.lambda_role_arn is not None:
            out["lambda_role_arn"] = access.lambda_role_arn
        endpoints_out[ep.name] = out
    outputs: dict[str, Any] = {"endpoints": endpoints_out, "artifact_bucket": store.bucket_name}
    if settings.monitoring is not None or any(ep.alarms for ep in settings.endpoints):
        monitoring = Monitoring(
            "monitoring",
            MonitoringArgs(
                endpoints=monitored,
                settings=settings.monitoring,
                region=ctx.region,
                dashboard_name=f"{settings.project}-{settings.stack}",
            ),
            opts=opts,
        )
        if monitoring.dashboard_name is not None:
            outputs["dashboard"] = monitoring.dashboard_name
        if monitoring.topic_arn is not None:
            outputs["alarm_topic_arn"] = monitoring.topic_arn
    return outputs
