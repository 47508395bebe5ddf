"""The whole stack, declared from validated Settings and resolved artifacts: what `__main__.py` runs, and what
the tests run under mocks.

Provider (region from config, default tags on every resource), optional KMS key, one artifact store, one
InferenceEndpoint per endpoint, monitoring; returns the stack outputs. Settings are translated here into each
component's own Args, so the components know nothing of this program's config.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from artifacts import Artifact, PendingArtifact, PromotedArtifact, ResolvedArtifact
from components.artifact_store import ArtifactFile, ArtifactStore, ArtifactStoreArgs, CopiedObject
from components.context import AwsContext, aws_context
from components.inference_endpoint import Deployment, InferenceEndpoint, InferenceEndpointArgs, Instances, Serverless
from components.monitoring import AlarmThresholds, MonitoredEndpoint, Monitoring, MonitoringArgs
from components.policies import Statement, document
from components.scaling import TargetTracking
from inference.manifest import Manifest
from promotion import Promoted, gate, read_promotions
from settings import EndpointSettings, Settings

DEFAULT_EXAMPLES = {  # used when an artifact's manifest carries no example request
    "huggingface": {"inputs": ["How long does a cold start take?"]},
    "sklearn": {"instances": [[0.0]]},
}


def default_tags(settings: Settings) -> dict[str, str]:
    """Tags every resource gets through the provider's default_tags (config `tags` may add or override)."""
    return {"project": settings.project, "stack": settings.stack, "managed-by": "pulumi", **settings.tags}


def unknown() -> pulumi.Output[Any]:
    """An Output whose value is not known until `up` (what a preview shows for an artifact not built yet)."""
    loop = asyncio.get_event_loop()
    value, known = loop.create_future(), loop.create_future()
    value.set_result(None)
    known.set_result(False)
    return pulumi.Output(set(), value, known)


@dataclass(frozen=True)
class EndpointArtifact:
    """One endpoint's artifact as the stack consumes it, whatever its source: what the store holds, and the
    manifest and measured peak RSS (Outputs: known now for a local file, after `up` for a pending build, once
    the source stack is read for a promotion)."""

    stored: ArtifactFile | CopiedObject
    manifest: pulumi.Output[Manifest]
    peak_rss_mb: pulumi.Output[float | None]


def endpoint_artifact(artifact: Artifact, promoted: pulumi.Output[Promoted] | None) -> EndpointArtifact:
    if isinstance(artifact, ResolvedArtifact):
        return EndpointArtifact(ArtifactFile(str(artifact.path), artifact.sha256),
                                pulumi.Output.from_input(artifact.manifest),
                                pulumi.Output.from_input(artifact.peak_rss_mb))
    if isinstance(artifact, PendingArtifact):
        return EndpointArtifact(ArtifactFile(unknown(), unknown()), unknown(), unknown())
    assert isinstance(artifact, PromotedArtifact) and promoted is not None
    return EndpointArtifact(
        CopiedObject(promoted.apply(lambda p: p.bucket), promoted.apply(lambda p: p.key),
                     promoted.apply(lambda p: p.sha256), promoted.apply(lambda p: p.version_id)),
        promoted.apply(lambda p: p.manifest),
        promoted.apply(lambda p: p.peak_rss_mb),
    )


def invoke_example(
    ep: EndpointSettings, manifest: pulumi.Output[Manifest], endpoint_name: pulumi.Input[str],
    region: pulumi.Input[str]
) -> pulumi.Output[str]:
    """A ready-to-run AWS CLI call of the endpoint (needs the invoke policy)."""
    def cli(args: list[Any]) -> str:
        m, name, reg = args
        example = m.handler.example_request
        body = json.dumps(example if example is not None else DEFAULT_EXAMPLES[ep.framework])
        return (f"aws sagemaker-runtime invoke-endpoint --region {reg} --endpoint-name {name} --content-type "
                f"{m.handler.content_type} --accept application/json --cli-binary-format raw-in-base64-out --body "
                f"{shlex.quote(body)} /dev/stdout")

    return pulumi.Output.all(manifest, endpoint_name, region).apply(cli)


def endpoint_args(
    ep: EndpointSettings,
    artifact: EndpointArtifact,
    *,
    settings: Settings,
    context: AwsContext,
    model_data_url: pulumi.Input[str],
    artifact_prefix_arn: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str] | None,
    deployment: Deployment | None = None,
) -> InferenceEndpointArgs:
    """An endpoint's config and artifact as the InferenceEndpoint component's inputs."""
    capacity: Serverless | Instances
    if ep.serverless is not None:
        s = ep.serverless
        capacity = Serverless(s.memory_mb, s.max_concurrency, s.provisioned_concurrency)
    else:
        assert ep.instance is not None
        capacity = Instances(ep.instance.instance_type, ep.instance.count)
    scaling = None
    if ep.scaling is not None:
        sc = ep.scaling
        scaling = TargetTracking(
            sc.min_capacity, sc.max_capacity, sc.target_value, sc.scale_in_cooldown_s, sc.scale_out_cooldown_s
        )
    return InferenceEndpointArgs(
        context=context,
        endpoint_name=ep.endpoint_name,
        framework=ep.framework,
        image_repository=ep.image.repository,
        image_tag=ep.image.tag,
        region=settings.region,
        model_data_url=model_data_url,
        artifact_prefix_arn=artifact_prefix_arn,
        capacity=capacity,
        program=artifact.manifest.apply(lambda m: m.handler.program),
        environment=artifact.manifest.apply(lambda m: {**m.handler.environment, **ep.environment}),
        scaling=scaling,
        lambda_role=ep.lambda_role,
        kms_key_arn=kms_key_arn,
        protect=settings.protect,
        deployment=deployment,
    )


def alarm_thresholds(ep: EndpointSettings) -> AlarmThresholds | None:
    a = ep.alarms
    if a is None:
        return None
    return AlarmThresholds(
        errors_5xx=a.errors_5xx,
        errors_4xx=a.errors_4xx,
        latency_p90_ms=a.latency_p90_ms,
        cold_start_ms=a.cold_start_ms,
        period_s=a.period_s,
        evaluation_periods=a.evaluation_periods,
    )


def key_policy(ctx: AwsContext, provider: aws.Provider) -> pulumi.Output[str]:
    """The stack key's policy, written out rather than left to AWS's default: the account administers the key and
    IAM policies decide who uses it. What uses it: each execution role, kms:Decrypt only through S3
    (components/execution_role.py); SageMaker, through grants that CreateEndpointConfig makes with the deployer's
    kms:CreateGrant (endpoint storage and the image copy); S3, for the bucket's default encryption with a bucket
    key. No other account and no service outside this account can use it."""
    return document(
        [
            Statement(
                "EnableIamPoliciesOfThisAccount",
                ["kms:*"],
                ["*"],
                principal_arn=pulumi.Output.concat("arn:", ctx.partition, ":iam::", ctx.account_id, ":root"),
            )
        ],
        provider=provider,
    )


def build(settings: Settings, artifacts: Mapping[str, Artifact]) -> dict[str, Any]:
    """Declare every resource of the stack; returns {output name: value} for `pulumi.export`."""
    promotions = read_promotions(list(settings.endpoints), artifacts)
    arts = {ep.name: endpoint_artifact(artifacts[ep.name], promotions.get(ep.name)) for ep in settings.endpoints}
    provider = aws.Provider(
        "aws",
        region=gate(promotions, settings.region),  # a promotion that fails its checks stops every AWS resource
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
            policy=key_policy(ctx, provider),
            opts=pulumi.ResourceOptions(provider=provider, protect=settings.protect),
        )
        key_arn = key.arn
    store = ArtifactStore(
        "artifacts",
        ArtifactStoreArgs(
            artifacts={name: a.stored for name, a in arts.items()},
            kms_key_arn=key_arn,
            force_destroy=not settings.protect,  # a protected (prod) stack keeps its artifacts on destroy
        ),
        opts=opts,
    )
    outputs: dict[str, Any] = {}
    monitoring = None
    m = settings.monitoring
    if m is not None or any(ep.alarms for ep in settings.endpoints):
        # Before the endpoints: each endpoint's blue/green update rolls back on its own alarms.
        monitoring = Monitoring(
            "monitoring",
            MonitoringArgs(
                endpoints=[
                    MonitoredEndpoint(ep.name, ep.endpoint_name, ep.variant_name, alarm_thresholds(ep),
                                      serverless=ep.serverless is not None,
                                      provisioned=bool(ep.serverless and ep.serverless.provisioned_concurrency))
                    for ep in settings.endpoints
                ],
                region=ctx.region,
                dashboard_name=f"{settings.project}-{settings.stack}",
                dashboard=m is not None and m.dashboard,
                sns_topic=m is not None and m.sns_topic,
                emails=m.email if m is not None else (),
                topic_arn=m.topic_arn if m is not None else None,
            ),
            opts=opts,
        )
        if monitoring.dashboard_name is not None:
            outputs["dashboard"] = monitoring.dashboard_name
        if monitoring.topic_arn is not None:
            outputs["alarm_topic_arn"] = monitoring.topic_arn
    endpoints_out: dict[str, Any] = {}
    for ep in settings.endpoints:
        artifact, stored = arts[ep.name], store.objects[ep.name]
        d = ep.deployment
        rollback = monitoring.alarm_names.get(ep.name, []) if monitoring is not None and d.auto_rollback else []
        endpoint = InferenceEndpoint(
            ep.name,
            endpoint_args(
                ep,
                artifact,
                settings=settings,
                context=ctx,
                model_data_url=stored.uri,
                artifact_prefix_arn=stored.prefix_arn,
                kms_key_arn=key_arn,
                deployment=Deployment(d.bake_s, rollback, d.max_execution_s, d.termination_wait_s),
            ),
            opts=opts,
        )
        out: dict[str, Any] = {
            "name": endpoint.endpoint_name,
            "arn": endpoint.endpoint_arn,
            "invoke_policy_arn": endpoint.invoke_policy_arn,
            # what the release script checks the live endpoint against (a silent rollback leaves another one)
            "config_name": endpoint.config_name,
            "model_name": endpoint.model_name,
            "variant_name": endpoint.variant_name,
            "image_uri": endpoint.image_uri,
            "artifact_uri": stored.uri,
            "artifact_sha256": stored.sha256,
            # what a stack that promotes from this one reads (promotion.py): the exact version and the manifest
            # (as JSON text: stack outputs carry every number as a float, and the manifest's ints must stay ints)
            "artifact_version_id": stored.version_id,
            "artifact_manifest": artifact.manifest.apply(lambda m: m.to_json()),
            "artifact_peak_rss_mb": artifact.peak_rss_mb,
            "region": ctx.region,
            "invoke_example": invoke_example(ep, artifact.manifest, endpoint.endpoint_name, ctx.region),
        }
        if endpoint.lambda_role_arn is not None:
            out["lambda_role_arn"] = endpoint.lambda_role_arn
        endpoints_out[ep.name] = out
    outputs.update(endpoints=endpoints_out, artifact_bucket=store.bucket_name, releases_kept=settings.releases_kept)
    return outputs
