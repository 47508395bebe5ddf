"""The role SageMaker assumes to run one endpoint's model: least privilege, never AmazonSageMakerFullAccess.

It may read the endpoint's own artifact prefix (artifacts/<endpoint>/*: the object of every retained release,
so the model still serving keeps cold-starting from its artifact while an update or a rollback switches to
another), pull exactly its image's ECR repository (plus
ecr:GetAuthorizationToken, which AWS only grants on "*"), write the endpoint's own CloudWatch log group
(/aws/sagemaker/Endpoints/<name>, SageMaker developer guide "serverless-endpoints-monitoring"), and decrypt
with the stack's KMS key when there is one, and publish metrics to the endpoint namespaces only
(cloudwatch:PutMetricData, which AWS lists among the execution role's permissions, is granted on "*" only and
scoped here by the cloudwatch:namespace condition). The trust policy is limited to this account (aws:SourceAccount)
against the confused-deputy problem. Permissions sit in an iam.RolePolicy (Role.inline_policies is deprecated
in pulumi-aws 7) that the Model depends on, so they exist before CreateModel checks them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import AwsContext
from components.policies import Statement, document

ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
LOG_GROUP_ACTIONS = ("logs:CreateLogGroup", "logs:DescribeLogStreams")
LOG_STREAM_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
METRIC_NAMESPACES = ("/aws/sagemaker/Endpoints*", "/aws/sagemaker/Endpoint/*")  # endpoint and data metrics


@dataclass
class ExecutionRoleArgs:
    context: AwsContext
    endpoint_name: str
    artifact_prefix_arn: pulumi.Input[str]  # arn:aws:s3:::<bucket>/artifacts/<endpoint>/*
    image_repository: str
    image_registry_id: pulumi.Input[str]  # the AWS account that hosts the prebuilt image in this region
    kms_key_arn: pulumi.Input[str] | None = None


class ExecutionRole(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    policy: aws.iam.RolePolicy  # Models depend on it: the permissions must exist before CreateModel

    def __init__(self, name: str, args: ExecutionRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("sls:index:ExecutionRole", name, None, opts)
        ctx = args.context
        trust = document(
            [
                Statement(
                    sid="SageMakerAssume",
                    actions=["sts:AssumeRole"],
                    service="sagemaker.amazonaws.com",
                    condition=("StringEquals", "aws:SourceAccount", [ctx.account_id]),
                )
            ],
            self,
        )
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=trust,
            description=f"SageMaker execution role of endpoint {args.endpoint_name}",
            opts=pulumi.ResourceOptions(parent=self),
        )
        log_group = ctx.arn("logs", f"log-group:/aws/sagemaker/Endpoints/{args.endpoint_name}")
        statements = [
            Statement("ReadModelArtifacts", ["s3:GetObject"], [args.artifact_prefix_arn]),
            Statement(
                "PullImage",
                list(ECR_PULL_ACTIONS),
                [
                    pulumi.Output.concat(
                        "arn:",
                        ctx.partition,
                        ":ecr:",
                        ctx.region,
                        ":",
                        args.image_registry_id,
                        ":repository/",
                        args.image_repository,
                    )
                ],
            ),
            Statement("EcrLogin", ["ecr:GetAuthorizationToken"], ["*"]),  # AWS grants this action only on "*"
            Statement("EndpointLogGroup", list(LOG_GROUP_ACTIONS), [log_group]),
            Statement(
                "EndpointLogStreams", list(LOG_STREAM_ACTIONS), [pulumi.Output.concat(log_group, ":log-stream:*")]
            ),
            Statement(
                "PublishEndpointMetrics",
                ["cloudwatch:PutMetricData"],
                ["*"],  # PutMetricData has no resource-level permissions
                condition=("StringLike", "cloudwatch:namespace", list(METRIC_NAMESPACES)),
            ),
        ]
        if args.kms_key_arn is not None:  # only as S3 reads the artifact for it (the key policy defers to IAM)
            statements.append(
                Statement(
                    "DecryptWithStackKey",
                    ["kms:Decrypt"],
                    [args.kms_key_arn],
                    condition=(
                        "StringEquals", "kms:ViaService", [pulumi.Output.concat("s3.", ctx.region, ".amazonaws.com")]
                    ),
                )
            )
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=document(statements, self),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = role.arn
        self.role_name = role.name
        self.register_outputs({"arn": self.arn, "role_name": self.role_name})
