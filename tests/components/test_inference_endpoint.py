"""components.inference_endpoint.InferenceEndpoint on its own: plain Args in, one endpoint with its role,
invoke access and scaling out; nothing of the program's settings is needed to use it.
"""

from __future__ import annotations

import json

import pulumi
import pytest
from pulumi_mocks import ACCOUNT, REGISTRY_ACCOUNTS, run_declarations

from components.context import aws_context
from components.inference_endpoint import (
    BASE_ENVIRONMENT,
    Deployment,
    InferenceEndpoint,
    InferenceEndpointArgs,
    Instances,
    Serverless,
    container_environment,
)
from components.scaling import TargetTracking

ARTIFACTS = "arn:aws:s3:::bucket/artifacts/scorer/*"


def declare(**overrides):
    """A scikit-learn endpoint in eu-west-1 declared from plain values (overrides replace Args fields)."""

    def run(provider):
        fields = {
            "capacity": Serverless(memory_mb=2048, max_concurrency=4, provisioned_concurrency=1),
            **overrides,
        }
        args = InferenceEndpointArgs(
            context=aws_context(provider),
            endpoint_name="scorer-qa",
            framework="sklearn",
            image_repository="sagemaker-scikit-learn",
            image_tag="1.4-2-cpu-py3",
            region="eu-west-1",
            model_data_url="s3://bucket/artifacts/scorer/abc/model.tar.gz",
            artifact_prefix_arn=ARTIFACTS,
            **fields,
        )
        ep = InferenceEndpoint("scorer", args, pulumi.ResourceOptions(providers=[provider]))
        return {"name": ep.endpoint_name, "image": ep.image_uri, "invoke": ep.invoke_policy_arn}

    return run_declarations(run, region="eu-west-1")


def test_serverless_endpoint_with_its_model_config_role_and_invoke_policy():
    run = declare()
    variant = run.get("scorer-config").inputs["productionVariants"][0]
    assert variant["serverlessConfig"] == {"memorySizeInMb": 2048, "maxConcurrency": 4, "provisionedConcurrency": 1}
    assert variant["variantName"] == "AllTraffic" and variant["modelName"] == run.get("scorer-model").state["name"]
    account = REGISTRY_ACCOUNTS["sagemaker-scikit-learn"]["eu-west-1"]
    image = f"{account}.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    assert run.get("scorer-model").inputs["primaryContainer"]["image"] == run.outputs["image"] == image
    assert run.outputs["name"] == "scorer-qa" and run.get("scorer-endpoint").protect is False
    assert run.outputs["invoke"].startswith(f"arn:aws:iam::{ACCOUNT}:policy/scorer-invoke-policy-")
    statements = json.loads(run.get("scorer-exec-policy").inputs["policy"])["Statement"]
    reads = [s for s in statements if s.get("Sid") == "ReadModelArtifacts"]
    assert reads == [{"Sid": "ReadModelArtifacts", "Effect": "Allow", "Action": "s3:GetObject", "Resource": ARTIFACTS}]
    assert not run.of_type("aws:appautoscaling/target:Target")  # no scaling asked for
    # the previous releases stay for rollback: Pulumi never deletes a replaced model or config
    assert run.get("scorer-model").retain_on_delete and run.get("scorer-config").retain_on_delete
    assert "deploymentConfig" not in run.get("scorer-endpoint").inputs  # none asked for: SageMaker's default


def test_a_deployment_is_blue_green_all_at_once_with_a_bake_and_rollback_alarms():
    run = declare(deployment=Deployment(bake_s=600, rollback_alarms=["scorer-qa-5xx", "scorer-qa-latency"],
                                        max_execution_s=3600))
    d = run.get("scorer-endpoint").inputs["deploymentConfig"]
    assert d["blueGreenUpdatePolicy"] == {
        "trafficRoutingConfiguration": {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 600},
        "terminationWaitInSeconds": 0, "maximumExecutionTimeoutInSeconds": 3600}
    assert d["autoRollbackConfiguration"] == {"alarms": [{"alarmName": "scorer-qa-5xx"},
                                                         {"alarmName": "scorer-qa-latency"}]}


def test_role_invoke_access_and_scaling_are_children_that_answer_to_their_old_root_urns():
    run = declare(scaling=TargetTracking(min_capacity=1, max_capacity=3, target_value=0.5), lambda_role=True)
    endpoint = next(r for r in run.resources if r.typ == "sls:index:InferenceEndpoint")
    moved = [("scorer-exec", "ExecutionRole"), ("scorer-invoke", "InvokeAccess"), ("scorer-scaling", "Scaling")]
    for name, typ in moved:
        child = run.get(name)
        assert child.parent == endpoint.urn
        assert f"urn:pulumi:test::sls-endpoints::sls:index:{typ}::{name}" in child.aliases
    target = run.get("scorer-scaling-target").inputs
    assert target["resourceId"] == "endpoint/scorer-qa/variant/AllTraffic"
    assert target["scalableDimension"] == "sagemaker:variant:DesiredProvisionedConcurrency"
    assert run.get("scorer-invoke-lambda-role")


def test_instance_capacity_and_protection():
    run = declare(capacity=Instances(instance_type="ml.m5.large", count=2), protect=True)
    variant = run.get("scorer-config").inputs["productionVariants"][0]
    assert (variant["instanceType"], variant["initialInstanceCount"]) == ("ml.m5.large", 2)
    assert "serverlessConfig" not in variant and run.get("scorer-endpoint").protect is True


@pytest.mark.parametrize("framework", sorted(BASE_ENVIRONMENT))
def test_container_environment_layers_framework_defaults_then_the_callers_values(framework):
    env = container_environment(framework, "serve.py", {"SAGEMAKER_CONTAINER_LOG_LEVEL": "10", "X": "1"})
    assert env["SAGEMAKER_CONTAINER_LOG_LEVEL"] == "10" and env["X"] == "1"
    assert env["SAGEMAKER_MODEL_SERVER_WORKERS"] == "1"
    assert env.get("SAGEMAKER_PROGRAM") == ("serve.py" if framework == "sklearn" else None)
