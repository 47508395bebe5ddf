"""What a client needs to call one endpoint: a managed policy allowing sagemaker:InvokeEndpoint on exactly its
ARN, and optionally a Lambda execution role carrying it (plus AWSLambdaVPCAccessExecutionRole, since the
call-time Lambda runs in a VPC). Clients attach the policy; nothing else is granted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import AwsContext
from components.policies import Statement, document

INVOKE_ACTIONS = ("sagemaker:InvokeEndpoint",)
LAMBDA_VPC_POLICY = "policy/service-role/AWSLambdaVPCAccessExecutionRole"  # AWS managed policy (CloudWatch Logs + ENIs)


@dataclass
class InvokeAccessArgs:
    context: AwsContext
    endpoint_name: str
    endpoint_arn: pulumi.Input[str]
    lambda_role: bool = False


class InvokeAccess(pulumi.ComponentResource):
    policy_arn: pulumi.Output[str]
    lambda_role_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: InvokeAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("sls:index:InvokeAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        policy = aws.iam.Policy(
            f"{name}-policy",
            description=f"Invoke SageMaker endpoint {args.endpoint_name}",
            policy=document([Statement("InvokeEndpoint", list(INVOKE_ACTIONS), [args.endpoint_arn])], self),
            opts=child,
        )
        self.policy_arn = policy.arn
        self.lambda_role_arn = None
        if args.lambda_role:
            trust = document([Statement("LambdaAssume", ["sts:AssumeRole"], service="lambda.amazonaws.com")], self)
            role = aws.iam.Role(
                f"{name}-lambda-role",
                assume_role_policy=trust,
                description=f"Lambda functions that call endpoint {args.endpoint_name}",
                opts=child,
            )
            aws.iam.RolePolicyAttachment(f"{name}-lambda-invoke", role=role.name, policy_arn=policy.arn, opts=child)
            vpc_policy = pulumi.Output.concat("arn:", args.context.partition, ":iam::aws:", LAMBDA_VPC_POLICY)
            aws.iam.RolePolicyAttachment(f"{name}-lambda-vpc", role=role.name, policy_arn=vpc_policy, opts=child)
            self.lambda_role_arn = role.arn
        self.register_outputs({"policy_arn": self.policy_arn, "lambda_role_arn": self.lambda_role_arn})
