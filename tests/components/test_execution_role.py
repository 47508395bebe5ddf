"""components.execution_role.ExecutionRole on its own: the role SageMaker assumes to run one endpoint's model,
trusted by SageMaker in this account only, and its exact, least-privilege permissions (IAM reference: the actions
and resource ARN formats of S3, ECR, CloudWatch Logs, CloudWatch and KMS)."""

from __future__ import annotations

import json

import pulumi
from pulumi_mocks import ACCOUNT, run_declarations

from components.context import aws_context
from components.execution_role import ExecutionRole, ExecutionRoleArgs

REGION = "eu-west-1"
REGISTRY = "141502667606"  # the account hosting the scikit-learn image in eu-west-1
PREFIX = "arn:aws:s3:::bucket/artifacts/scorer/*"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/scorer-qa"


def declare(kms_key_arn: str | None = None):
    def run(provider):
        role = ExecutionRole(
            "scorer-exec",
            ExecutionRoleArgs(
                context=aws_context(provider),
                endpoint_name="scorer-qa",
                artifact_prefix_arn=PREFIX,
                image_repository="sagemaker-scikit-learn",
                image_registry_id=REGISTRY,
                kms_key_arn=kms_key_arn,
            ),
            pulumi.ResourceOptions(providers=[provider]),
        )
        return {"arn": role.arn, "role_name": role.role_name, "policy_urn": role.policy.urn}

    return run_declarations(run, region=REGION)


def allow(sid, actions, resource, condition=None):
    """A statement as get_policy_document renders it (one action or resource: a string)."""
    s = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


PERMISSIONS = [
    allow("ReadModelArtifacts", "s3:GetObject", PREFIX),
    allow(
        "PullImage",
        ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        f"arn:aws:ecr:{REGION}:{REGISTRY}:repository/sagemaker-scikit-learn",
    ),
    allow("EcrLogin", "ecr:GetAuthorizationToken", "*"),
    allow("EndpointLogGroup", ["logs:CreateLogGroup", "logs:DescribeLogStreams"], LOG_GROUP),
    allow("EndpointLogStreams", ["logs:CreateLogStream", "logs:PutLogEvents"], f"{LOG_GROUP}:log-stream:*"),
    allow(
        "PublishEndpointMetrics",
        "cloudwatch:PutMetricData",
        "*",
        {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints*", "/aws/sagemaker/Endpoint/*"]}},
    ),
]


def test_the_role_may_do_exactly_what_serving_one_endpoint_needs():
    run = declare()
    policy = run.get("scorer-exec-policy")
    assert json.loads(policy.inputs["policy"])["Statement"] == PERMISSIONS
    role = run.get("scorer-exec-role")
    assert policy.inputs["role"] == role.state["name"]
    assert policy.urn == run.outputs["policy_urn"]  # what the Model depends on


def test_with_the_stacks_key_it_may_decrypt_only_through_s3_in_its_region():
    run = declare(kms_key_arn=KEY)
    statements = json.loads(run.get("scorer-exec-policy").inputs["policy"])["Statement"]
    assert statements == [
        *PERMISSIONS,
        allow("DecryptWithStackKey", "kms:Decrypt", KEY,
              {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}),
    ]


def test_only_sagemaker_in_this_account_may_assume_it():
    role = declare().get("scorer-exec-role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
        {
            "Sid": "SageMakerAssume",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]
    assert role.inputs["description"] == "SageMaker execution role of endpoint scorer-qa"
    assert "name" not in role.inputs  # auto-named
    assert "managedPolicyArns" not in role.inputs and "inlinePolicies" not in role.inputs


def test_role_and_policy_are_the_components_children_and_its_outputs_are_the_roles(component_outputs, invokes):
    run = declare()
    component = next(r for r in run.resources if r.typ == "sls:index:ExecutionRole")
    (provider,) = run.of_type("pulumi:providers:aws")
    for name in ("scorer-exec-role", "scorer-exec-policy"):
        assert run.get(name).parent == component.urn
        assert run.get(name).provider.startswith(provider.urn + "::")
    role = run.get("scorer-exec-role")
    assert (run.outputs["arn"], run.outputs["role_name"]) == (role.state["arn"], role.state["name"])
    assert role.state["arn"] == f"arn:aws:iam::{ACCOUNT}:role/{role.state['name']}"
    assert component_outputs["scorer-exec"] == {"arn": role.state["arn"], "role_name": role.state["name"]}
    documents = [i for i in invokes if i.token == "aws:iam/getPolicyDocument:getPolicyDocument"]
    assert len(documents) == 2 and all(i.provider.startswith(provider.urn + "::") for i in documents)
