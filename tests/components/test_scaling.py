"""components.scaling.Scaling on its own: target tracking on provisioned concurrency (serverless) or on the
instance count (Application Auto Scaling's SageMaker dimensions and predefined metrics)."""

from __future__ import annotations

import pulumi
import pytest
from pulumi_mocks import run_declarations

from components.scaling import Scaling, ScalingArgs, TargetTracking


def declare(serverless: bool, policy: TargetTracking):
    def run(provider):
        s = Scaling(
            "scorer-scaling",
            ScalingArgs(endpoint_name="scorer-qa", variant_name="AllTraffic", policy=policy, serverless=serverless),
            pulumi.ResourceOptions(providers=[provider]),
        )
        return {"resource_id": s.resource_id, "policy_arn": s.policy_arn}

    return run_declarations(run, region="eu-west-1")


@pytest.mark.parametrize(
    ("serverless", "dimension", "metric"),
    [
        (True, "sagemaker:variant:DesiredProvisionedConcurrency", "SageMakerVariantProvisionedConcurrencyUtilization"),
        (False, "sagemaker:variant:DesiredInstanceCount", "SageMakerVariantInvocationsPerInstance"),
    ],
)
def test_target_tracking_of_the_variants_capacity(serverless, dimension, metric, component_outputs):
    run = declare(serverless, TargetTracking(min_capacity=1, max_capacity=4, target_value=0.7,
                                             scale_in_cooldown_s=600, scale_out_cooldown_s=30))
    target = run.get("scorer-scaling-target")
    assert target.inputs == {
        "serviceNamespace": "sagemaker",
        "resourceId": "endpoint/scorer-qa/variant/AllTraffic",
        "scalableDimension": dimension,
        "minCapacity": 1,
        "maxCapacity": 4,
    }
    policy = run.get("scorer-scaling-policy")
    assert policy.inputs == {
        "policyType": "TargetTrackingScaling",
        "serviceNamespace": "sagemaker",
        "resourceId": "endpoint/scorer-qa/variant/AllTraffic",
        "scalableDimension": dimension,
        "targetTrackingScalingPolicyConfiguration": {
            "targetValue": 0.7,
            "predefinedMetricSpecification": {"predefinedMetricType": metric},
            "scaleInCooldown": 600,
            "scaleOutCooldown": 30,
        },
    }
    # the policy is declared for the target: it waits for the registered scalable target
    assert target.urn in policy.dependencies
    component = next(r for r in run.resources if r.typ == "sls:index:Scaling")
    assert target.parent == component.urn and policy.parent == component.urn
    assert run.outputs == {"resource_id": "endpoint/scorer-qa/variant/AllTraffic", "policy_arn": policy.state["arn"]}
    assert component_outputs["scorer-scaling"] == run.outputs


def test_cooldowns_default_to_slow_scale_in_and_quick_scale_out():
    run = declare(True, TargetTracking(min_capacity=1, max_capacity=2, target_value=0.5))
    tracking = run.get("scorer-scaling-policy").inputs["targetTrackingScalingPolicyConfiguration"]
    assert (tracking["scaleInCooldown"], tracking["scaleOutCooldown"]) == (300, 60)
