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


# ------------------------------------------------------------------------------------------------ exact inputs
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/k"


def declare_all(**overrides):
    """As declare(), returning every output of the component (and the component's registered outputs)."""

    def run(provider):
        fields = {"capacity": Serverless(memory_mb=2048, max_concurrency=4), **overrides}
        ep = InferenceEndpoint(
            "scorer",
            InferenceEndpointArgs(
                context=aws_context(provider),
                endpoint_name="scorer-qa",
                framework="sklearn",
                image_repository="sagemaker-scikit-learn",
                image_tag="1.4-2-cpu-py3",
                region="eu-west-1",
                model_data_url="s3://bucket/artifacts/scorer/abc/model.tar.gz",
                artifact_prefix_arn=ARTIFACTS,
                **fields,
            ),
            pulumi.ResourceOptions(providers=[provider]),
        )
        return {"endpoint_name": ep.endpoint_name, "endpoint_arn": ep.endpoint_arn, "model_name": ep.model_name,
                "config_name": ep.config_name, "image_uri": ep.image_uri, "role_arn": ep.role_arn,
                "invoke_policy_arn": ep.invoke_policy_arn, "lambda_role_arn": ep.lambda_role_arn,
                "variant_name": ep.variant_name}

    return run_declarations(run, region="eu-west-1")


IMAGE = (f"{REGISTRY_ACCOUNTS['sagemaker-scikit-learn']['eu-west-1']}.dkr.ecr.eu-west-1.amazonaws.com/"
         "sagemaker-scikit-learn:1.4-2-cpu-py3")


def test_model_config_and_endpoint_inputs_and_the_components_outputs(component_outputs, invokes):
    run = declare_all(program="serve.py", environment={"X": "1"})
    role, model = run.get("scorer-exec-role"), run.get("scorer-model")
    assert model.inputs == {
        "executionRoleArn": role.state["arn"],
        "primaryContainer": {
            "image": IMAGE,
            "modelDataUrl": "s3://bucket/artifacts/scorer/abc/model.tar.gz",
            "environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code", "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_PROGRAM": "serve.py", "X": "1"},
            "mode": "SingleModel",
        },
    }
    config = run.get("scorer-config")
    assert config.inputs == {
        "productionVariants": [{"modelName": model.state["name"], "variantName": "AllTraffic",
                                "serverlessConfig": {"memorySizeInMb": 2048, "maxConcurrency": 4}}]
    }  # no key: SageMaker's own encryption
    endpoint = run.get("scorer-endpoint")
    assert endpoint.inputs == {"name": "scorer-qa", "endpointConfigName": config.state["name"]}
    invoke = run.get("scorer-invoke-policy")
    assert run.outputs == {
        "endpoint_name": "scorer-qa",
        "endpoint_arn": endpoint.state["arn"],
        "model_name": model.state["name"],
        "config_name": config.state["name"],
        "image_uri": IMAGE,
        "role_arn": role.state["arn"],
        "invoke_policy_arn": invoke.state["arn"],
        "lambda_role_arn": None,
        "variant_name": "AllTraffic",
    }
    assert json.loads(invoke.inputs["policy"])["Statement"][0]["Resource"] == endpoint.state["arn"]
    assert invoke.inputs["description"] == "Invoke SageMaker endpoint scorer-qa"  # names the endpoint it opens
    assert component_outputs["scorer"] == {"endpoint_name": "scorer-qa", "endpoint_arn": endpoint.state["arn"],
                                           "model_name": model.state["name"],
                                           "invoke_policy_arn": invoke.state["arn"]}
    component = next(r for r in run.resources if r.typ == "sls:index:InferenceEndpoint")
    for name in ("scorer-model", "scorer-config", "scorer-endpoint", "scorer-exec", "scorer-invoke"):
        assert run.get(name).parent == component.urn, name
    # the Model waits for its role's permissions: CreateModel checks them
    assert run.get("scorer-exec-policy").urn in model.dependencies
    (provider,) = run.of_type("pulumi:providers:aws")
    (image,) = [i for i in invokes if i.token == "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage"]
    assert image.args == {"repositoryName": "sagemaker-scikit-learn", "imageTag": "1.4-2-cpu-py3",
                          "region": "eu-west-1"}
    assert image.provider.startswith(provider.urn + "::")


def test_the_role_reads_this_endpoints_artifacts_pulls_its_image_and_logs_under_its_name():
    policy = declare_all().get("scorer-exec-policy").inputs["policy"]
    statements = {s["Sid"]: s for s in json.loads(policy)["Statement"]}
    assert statements["ReadModelArtifacts"]["Resource"] == ARTIFACTS
    registry = REGISTRY_ACCOUNTS["sagemaker-scikit-learn"]["eu-west-1"]
    assert statements["PullImage"]["Resource"] == f"arn:aws:ecr:eu-west-1:{registry}:repository/sagemaker-scikit-learn"
    assert statements["EndpointLogGroup"]["Resource"] == (
        f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/scorer-qa")
    assert "DecryptWithStackKey" not in statements


def test_with_a_key_the_config_is_encrypted_and_the_role_decrypts_through_s3():
    run = declare_all(kms_key_arn=KEY)
    assert run.get("scorer-config").inputs["kmsKeyArn"] == KEY
    statements = {s["Sid"]: s for s in json.loads(run.get("scorer-exec-policy").inputs["policy"])["Statement"]}
    assert statements["DecryptWithStackKey"]["Resource"] == KEY


def test_the_lambda_role_is_the_invoke_access_one():
    run = declare_all(lambda_role=True)
    role = run.get("scorer-invoke-lambda-role")
    assert run.outputs["lambda_role_arn"] == role.state["arn"]
    assert role.inputs["description"] == "Lambda functions that call endpoint scorer-qa"


def test_instances_are_one_weighted_variant_scaled_on_the_instance_count():
    run = declare_all(capacity=Instances(instance_type="ml.m5.large", count=2),
                      scaling=TargetTracking(min_capacity=2, max_capacity=6, target_value=600))
    (variant,) = run.get("scorer-config").inputs["productionVariants"]
    assert variant == {"modelName": run.get("scorer-model").state["name"], "variantName": "AllTraffic",
                       "instanceType": "ml.m5.large", "initialInstanceCount": 2, "initialVariantWeight": 1.0}
    target = run.get("scorer-scaling-target").inputs
    assert target["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (target["resourceId"], target["minCapacity"], target["maxCapacity"]) == (
        "endpoint/scorer-qa/variant/AllTraffic", 2, 6)
    policy = run.get("scorer-scaling-policy").inputs["targetTrackingScalingPolicyConfiguration"]
    assert policy["targetValue"] == 600


def test_a_deployment_without_alarms_or_time_limit_bakes_and_waits_as_asked():
    run = declare_all(deployment=Deployment(bake_s=120, termination_wait_s=30))
    assert run.get("scorer-endpoint").inputs["deploymentConfig"] == {
        "blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 120},
                                  "terminationWaitInSeconds": 30}}
    default = declare_all(deployment=Deployment())
    assert default.get("scorer-endpoint").inputs["deploymentConfig"] == {
        "blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 0},
                                  "terminationWaitInSeconds": 0}}


def test_the_containers_environment_per_framework_exactly():
    assert container_environment("sklearn", "serve.py", {}) == {
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code", "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_PROGRAM": "serve.py"}
    assert container_environment("huggingface", "serve.py", {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}) == {
        "MMS_DEFAULT_WORKERS_PER_MODEL": "1", "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20"}
    assert container_environment("sklearn", "serve.py", {"SAGEMAKER_PROGRAM": "other.py"})["SAGEMAKER_PROGRAM"] == (
        "other.py")  # the caller's environment comes last
