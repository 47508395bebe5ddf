"""One endpoint and everything it needs: execution role, Model -> EndpointConfiguration -> Endpoint, invoke
access and optional autoscaling.

SageMaker Models and EndpointConfigurations are immutable: every argument change replaces them. They are left
to Pulumi's auto-naming, so a change creates the new model and config first, then UpdateEndpoint switches the
endpoint in place (no downtime, no "already existing" name clash). The old ones are not deleted by Pulumi
(retain_on_delete): they are the previous releases, kept so that a rollback is one UpdateEndpoint to a config
that still exists, and so that a failed update SageMaker rolled back (while the provider recorded success:
terraform-provider-aws #46663, #48997) never leaves the endpoint on a deleted config. The release script
prunes releases beyond the last N once a release is verified (releasing/retention.py). Only the Endpoint carries
a stable name (`endpoint_name`), which clients and the log group use.

Updates are blue/green with all traffic shifted at once (canary and linear shift fractions of instances; a
serverless variant has none), a baking period, and auto-rollback on the endpoint's own alarms when it has
them. terraform-provider-aws declares deployment_config.auto_rollback_configuration ForceNew: a change to the
alarm list replaces the endpoint, so the alarms have fixed names (components/monitoring.py) and adding
auto-rollback to a deployed endpoint is a replacement the release refuses without --allow-replace.

Role, invoke access and scaling carry an alias to their URN at the stack's root, where stacks deployed by
earlier versions of this program hold them: such a stack updates in place, replacing nothing
(tests/test_urn_compat.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import AwsContext
from components.execution_role import ExecutionRole, ExecutionRoleArgs
from components.invoke_access import InvokeAccess, InvokeAccessArgs
from components.scaling import Scaling, ScalingArgs, TargetTracking
from inference.limits import VARIANT_NAME

MODEL_DIR_CODE = "/opt/ml/model/code"  # where SageMaker unpacks the artifact's code/ directory

# Per framework, what the container needs to find and size our handler (docs/aws-facts.md, toolkit sources):
# - scikit-learn image: the entry script is named by SAGEMAKER_PROGRAM inside SAGEMAKER_SUBMIT_DIRECTORY.
# - HF image: code/inference.py is found by convention. One model-server worker, because the memory tier was
#   sized for one handler's peak RSS (inference/build/sizing.py). SAGEMAKER_MODEL_SERVER_WORKERS becomes MMS's
#   default_workers_per_model (sagemaker-inference-toolkit model_server._generate_mms_config_properties);
#   MMS_DEFAULT_WORKERS_PER_MODEL is the same setting read by MMS itself, for the HF toolkit's own MMS start.
#   SAGEMAKER_MODEL_SERVER_TIMEOUT is left at the toolkit default (60 s), which equals serverless's invocation limit.
BASE_ENVIRONMENT: dict[str, dict[str, str]] = {
    "huggingface": {
        "MMS_DEFAULT_WORKERS_PER_MODEL": "1",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    },
    "sklearn": {
        "SAGEMAKER_SUBMIT_DIRECTORY": MODEL_DIR_CODE,
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    },
}
MOVED_FROM_ROOT = [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]


def container_environment(framework: str, program: str, environment: Mapping[str, str]) -> dict[str, str]:
    """The Model's environment: the framework's defaults, then `environment` (the artifact's, then config's)."""
    env = dict(BASE_ENVIRONMENT[framework])
    if framework == "sklearn":
        env["SAGEMAKER_PROGRAM"] = program
    env.update(environment)
    return env


@dataclass(frozen=True)
class Serverless:
    memory_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None = None


@dataclass(frozen=True)
class Instances:
    instance_type: str
    count: int


@dataclass(frozen=True)
class Deployment:
    """Blue/green, all at once: `bake_s` of watching (and rolling back on `rollback_alarms`) before the old fleet
    goes."""

    bake_s: int = 0
    rollback_alarms: Sequence[pulumi.Input[str]] = ()  # CloudWatch alarm names; empty: no auto-rollback
    max_execution_s: int | None = None
    termination_wait_s: int = 0


@dataclass
class InferenceEndpointArgs:
    context: AwsContext
    endpoint_name: str  # the SageMaker endpoint's name
    framework: str  # "huggingface" | "sklearn": how the image finds the handler
    image_repository: str  # a prebuilt SageMaker image, resolved per region with get_prebuilt_ecr_image
    image_tag: str
    region: str
    model_data_url: pulumi.Input[str]  # s3://bucket/key of the model.tar.gz
    artifact_prefix_arn: pulumi.Input[str]  # what the execution role may read: every release of this endpoint
    capacity: Serverless | Instances
    program: pulumi.Input[str] = "inference.py"  # the handler's file in the artifact's code/
    # the artifact's environment, then the config's (an Output when the artifact is promoted or not built yet)
    environment: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    scaling: TargetTracking | None = None
    lambda_role: bool = False  # also create a Lambda execution role that may invoke the endpoint
    kms_key_arn: pulumi.Input[str] | None = None
    protect: bool = False  # `pulumi destroy` refuses to delete the endpoint
    deployment: Deployment | None = None  # how updates roll out; None: SageMaker's default (blue/green, no bake)


class InferenceEndpoint(pulumi.ComponentResource):
    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    model_name: pulumi.Output[str]
    config_name: pulumi.Output[str]
    image_uri: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    invoke_policy_arn: pulumi.Output[str]
    lambda_role_arn: pulumi.Output[str] | None
    variant_name: str

    def __init__(self, name: str, args: InferenceEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("sls:index:InferenceEndpoint", name, None, opts)
        sm = aws.sagemaker
        image = sm.get_prebuilt_ecr_image_output(
            repository_name=args.image_repository,
            image_tag=args.image_tag,
            region=args.region,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        role = ExecutionRole(
            f"{name}-exec",
            ExecutionRoleArgs(
                context=args.context,
                endpoint_name=args.endpoint_name,
                artifact_prefix_arn=args.artifact_prefix_arn,
                image_repository=args.image_repository,
                image_registry_id=image.registry_id,
                kms_key_arn=args.kms_key_arn,
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=MOVED_FROM_ROOT),
        )
        # No sleep for IAM propagation: the provider retries CreateModel while the new role propagates.
        model = sm.Model(
            f"{name}-model",
            execution_role_arn=role.arn,
            primary_container=sm.ModelPrimaryContainerArgs(
                image=image.registry_path,
                model_data_url=args.model_data_url,
                environment=pulumi.Output.all(args.program, args.environment).apply(
                    lambda pe: container_environment(args.framework, pe[0], pe[1])
                ),
                mode="SingleModel",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role.policy], retain_on_delete=True),
        )
        config = sm.EndpointConfiguration(
            f"{name}-config",
            production_variants=[
                sm.EndpointConfigurationProductionVariantArgs(
                    model_name=model.name, variant_name=VARIANT_NAME, **_capacity(args.capacity)
                )
            ],
            kms_key_arn=args.kms_key_arn,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        endpoint = sm.Endpoint(
            f"{name}-endpoint",
            name=args.endpoint_name,
            endpoint_config_name=config.name,
            deployment_config=_deployment_config(args.deployment),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        access = InvokeAccess(
            f"{name}-invoke",
            InvokeAccessArgs(
                context=args.context,
                endpoint_name=args.endpoint_name,
                endpoint_arn=endpoint.arn,
                lambda_role=args.lambda_role,
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=MOVED_FROM_ROOT),
        )
        if args.scaling is not None:
            Scaling(
                f"{name}-scaling",
                ScalingArgs(
                    endpoint_name=endpoint.name,
                    variant_name=VARIANT_NAME,
                    policy=args.scaling,
                    serverless=isinstance(args.capacity, Serverless),
                ),
                opts=pulumi.ResourceOptions(parent=self, aliases=MOVED_FROM_ROOT),
            )
        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.model_name = model.name
        self.config_name = config.name
        self.image_uri = image.registry_path
        self.role_arn = role.arn
        self.invoke_policy_arn = access.policy_arn
        self.lambda_role_arn = access.lambda_role_arn
        self.variant_name = VARIANT_NAME
        self.register_outputs(
            {
                "endpoint_name": self.endpoint_name,
                "endpoint_arn": self.endpoint_arn,
                "model_name": self.model_name,
                "invoke_policy_arn": self.invoke_policy_arn,
            }
        )


def _deployment_config(d: Deployment | None) -> aws.sagemaker.EndpointDeploymentConfigArgs | None:
    if d is None:
        return None
    sm = aws.sagemaker
    return sm.EndpointDeploymentConfigArgs(
        blue_green_update_policy=sm.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
            traffic_routing_configuration=(
                sm.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs(
                    type="ALL_AT_ONCE", wait_interval_in_seconds=d.bake_s
                )
            ),
            termination_wait_in_seconds=d.termination_wait_s,
            maximum_execution_timeout_in_seconds=d.max_execution_s,
        ),
        auto_rollback_configuration=sm.EndpointDeploymentConfigAutoRollbackConfigurationArgs(
            alarms=[sm.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(alarm_name=a)
                    for a in d.rollback_alarms]
        )
        if d.rollback_alarms
        else None,
    )


def _capacity(capacity: Serverless | Instances) -> Mapping[str, object]:
    if isinstance(capacity, Serverless):
        return {
            "serverless_config": aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                memory_size_in_mb=capacity.memory_mb,
                max_concurrency=capacity.max_concurrency,
                provisioned_concurrency=capacity.provisioned_concurrency,
            )
        }
    return {
        "instance_type": capacity.instance_type,
        "initial_instance_count": capacity.count,
        "initial_variant_weight": 1.0,
    }
