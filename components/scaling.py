"""Application Auto Scaling for one endpoint variant: provisioned concurrency (serverless) or instance count.

Serverless endpoints scale on demand by themselves; what can be autoscaled is only their provisioned
concurrency (dimension sagemaker:variant:DesiredProvisionedConcurrency, predefined metric
SageMakerVariantProvisionedConcurrencyUtilization, a 0-1 ratio; developer guide "serverless-endpoints-autoscale").
The instance-based mode, for high steady traffic, scales sagemaker:variant:DesiredInstanceCount on
SageMakerVariantInvocationsPerInstance (invocations per instance per minute).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

PROVISIONED = ("sagemaker:variant:DesiredProvisionedConcurrency", "SageMakerVariantProvisionedConcurrencyUtilization")
INSTANCES = ("sagemaker:variant:DesiredInstanceCount", "SageMakerVariantInvocationsPerInstance")


@dataclass(frozen=True)
class TargetTracking:
    """Keep the scaled capacity between min and max, near target_value of the metric."""

    min_capacity: int
    max_capacity: int
    target_value: float  # serverless: provisioned-concurrency utilization 0-1; instances: invocations/instance/min
    scale_in_cooldown_s: int = 300
    scale_out_cooldown_s: int = 60


@dataclass
class ScalingArgs:
    endpoint_name: pulumi.Input[str]
    variant_name: str
    policy: TargetTracking
    serverless: bool  # True: provisioned concurrency; False: instance count


class Scaling(pulumi.ComponentResource):
    resource_id: pulumi.Output[str]
    policy_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ScalingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("sls:index:Scaling", name, None, opts)
        dimension, metric = PROVISIONED if args.serverless else INSTANCES
        s = args.policy
        target = aws.appautoscaling.Target(
            f"{name}-target",
            service_namespace="sagemaker",
            resource_id=pulumi.Output.concat("endpoint/", args.endpoint_name, "/variant/", args.variant_name),
            scalable_dimension=dimension,
            min_capacity=s.min_capacity,
            max_capacity=s.max_capacity,
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.appautoscaling.Policy(
            f"{name}-policy",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=s.target_value,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type=metric
                ),
                scale_in_cooldown=s.scale_in_cooldown_s,
                scale_out_cooldown=s.scale_out_cooldown_s,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.resource_id = target.resource_id
        self.policy_arn = policy.arn
        self.register_outputs({"resource_id": self.resource_id, "policy_arn": self.policy_arn})
