"""components.invoke_access.InvokeAccess on its own: a managed policy allowing sagemaker:InvokeEndpoint on exactly
one endpoint, and, when asked, a Lambda execution role carrying it and AWS's VPC-access policy."""

from __future__ import annotations

import json

import pulumi
from pulumi_mocks import ACCOUNT, run_declarations

from components.context import aws_context
from components.invoke_access import InvokeAccess, InvokeAccessArgs

ENDPOINT_ARN = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:endpoint/scorer-qa"


def declare(lambda_role: bool):
    def run(provider):
        access = InvokeAccess(
            "scorer-invoke",
            InvokeAccessArgs(context=aws_context(provider), endpoint_name="scorer-qa", endpoint_arn=ENDPOINT_ARN,
                             lambda_role=lambda_role),
            pulumi.ResourceOptions(providers=[provider]),
        )
        return {"policy": access.policy_arn, "lambda_role": access.lambda_role_arn}

    return run_declarations(run, region="eu-west-1")


def test_the_policy_allows_invoke_endpoint_on_exactly_that_endpoint_and_nothing_else(component_outputs, invokes):
    run = declare(lambda_role=False)
    policy = run.get("scorer-invoke-policy")
    assert json.loads(policy.inputs["policy"])["Statement"] == [
        {"Sid": "InvokeEndpoint", "Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": ENDPOINT_ARN}
    ]
    assert policy.inputs["description"] == "Invoke SageMaker endpoint scorer-qa"
    assert run.outputs == {"policy": policy.state["arn"], "lambda_role": None}
    assert [r.typ for r in run.resources if r.typ.startswith("aws:")] == ["aws:iam/policy:Policy"]
    component = next(r for r in run.resources if r.typ == "sls:index:InvokeAccess")
    assert policy.parent == component.urn
    assert component_outputs["scorer-invoke"] == {"policy_arn": policy.state["arn"]}  # no Lambda role
    (provider,) = run.of_type("pulumi:providers:aws")
    (document,) = [i for i in invokes if i.token == "aws:iam/getPolicyDocument:getPolicyDocument"]
    assert document.provider.startswith(provider.urn + "::")


def test_the_lambda_role_is_assumed_by_lambda_and_carries_the_invoke_and_vpc_policies(component_outputs, invokes):
    run = declare(lambda_role=True)
    role = run.get("scorer-invoke-lambda-role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
        {"Sid": "LambdaAssume", "Effect": "Allow", "Action": "sts:AssumeRole",
         "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert role.inputs["description"] == "Lambda functions that call endpoint scorer-qa"
    invoke = run.get("scorer-invoke-lambda-invoke").inputs
    vpc = run.get("scorer-invoke-lambda-vpc").inputs
    policy_arn = run.get("scorer-invoke-policy").state["arn"]
    assert invoke == {"role": role.state["name"], "policyArn": policy_arn}
    assert vpc == {"role": role.state["name"],
                   "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"}
    assert run.outputs["lambda_role"] == role.state["arn"]
    component = next(r for r in run.resources if r.typ == "sls:index:InvokeAccess")
    for name in ("scorer-invoke-lambda-role", "scorer-invoke-lambda-invoke", "scorer-invoke-lambda-vpc"):
        assert run.get(name).parent == component.urn
    assert component_outputs["scorer-invoke"] == {"policy_arn": policy_arn, "lambda_role_arn": role.state["arn"]}
    (provider,) = run.of_type("pulumi:providers:aws")
    documents = [i for i in invokes if i.token == "aws:iam/getPolicyDocument:getPolicyDocument"]
    assert len(documents) == 2 and all(i.provider.startswith(provider.urn + "::") for i in documents)
