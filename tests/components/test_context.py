"""components.context: the account, partition and region of the stack's provider, from its invokes, and the
regional ARNs built from them."""

from __future__ import annotations

import pulumi_aws as aws
from pulumi_mocks import ACCOUNT, PARTITION, run_declarations

from components.context import aws_context


def test_the_context_is_the_providers_account_partition_and_region(invokes):
    def run(provider):
        ctx = aws_context(provider)
        return {"account": ctx.account_id, "partition": ctx.partition, "region": ctx.region,
                "arn": ctx.arn("logs", "log-group:/x")}

    run = run_declarations(run, region="ap-southeast-2")
    assert run.outputs == {
        "account": ACCOUNT,
        "partition": PARTITION,
        "region": "ap-southeast-2",
        "arn": f"arn:{PARTITION}:logs:ap-southeast-2:{ACCOUNT}:log-group:/x",
    }
    (provider,) = run.of_type("pulumi:providers:aws")
    tokens = sorted(i.token for i in invokes)
    assert tokens == ["aws:index/getCallerIdentity:getCallerIdentity", "aws:index/getPartition:getPartition",
                      "aws:index/getRegion:getRegion"]
    assert all(i.provider.startswith(provider.urn + "::") for i in invokes)


def test_an_arn_takes_an_output_as_its_resource():
    def run(provider):
        ctx = aws_context(provider)
        other = aws.Provider("other", region="us-west-2")  # the ARN is of the context's region, not another's
        return {"arn": ctx.arn("sagemaker", aws_context(other).account_id.apply(lambda a: f"endpoint/{a}"))}

    run = run_declarations(run, region="eu-central-1")
    assert run.outputs["arn"] == f"arn:aws:sagemaker:eu-central-1:{ACCOUNT}:endpoint/{ACCOUNT}"
