"""Account, partition and region of the stack's provider, looked up once with the provider's invokes.

Why: ARNs in least-privilege policies need them, and hard-coding "aws" or an account id breaks other
partitions and accounts; the same program must serve any region.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsContext:
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]
    region: pulumi.Output[str]

    def arn(self, service: str, resource: pulumi.Input[str]) -> pulumi.Output[str]:
        """arn:<partition>:<service>:<region>:<account>:<resource> for a regional resource of this account."""
        return pulumi.Output.concat(
            "arn:", self.partition, ":", service, ":", self.region, ":", self.account_id, ":", resource
        )


def aws_context(provider: aws.Provider) -> AwsContext:
    opts = pulumi.InvokeOutputOptions(provider=provider)
    return AwsContext(
        account_id=aws.get_caller_identity_output(opts=opts).account_id,
        partition=aws.get_partition_output(opts=opts).partition,
        region=aws.get_region_output(opts=opts).region,
    )
