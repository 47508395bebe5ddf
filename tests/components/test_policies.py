"""components.policies.document: Allow statements handed to aws.iam.get_policy_document as written (exact actions,
exact resources, one principal, one condition), run with the parent's provider or the one given."""

from __future__ import annotations

import json

import pulumi
from pulumi_mocks import run_declarations

from components.policies import Statement, document

TOKEN = "aws:iam/getPolicyDocument:getPolicyDocument"


def test_each_kind_of_statement_goes_to_the_provider_as_written(invokes):
    def run(provider):
        return {
            "trust": document([Statement("Assume", ["sts:AssumeRole"], service="sagemaker.amazonaws.com")],
                              provider=provider),
            "key": document([Statement("Admin", ["kms:*"], ["*"], principal_arn="arn:aws:iam::1:root")],
                            provider=provider),
            "scoped": document(
                [Statement("Scoped", ("s:B", "s:A"), ("r2", "r1"), condition=("StringLike", "s:ns", ("a*", "b*")))],
                provider=provider,
            ),
        }

    run = run_declarations(run)
    sent = sorted((i.args["statements"] for i in invokes if i.token == TOKEN), key=lambda st: st[0]["sid"])
    assert sent == [
        [{"sid": "Admin", "effect": "Allow", "actions": ["kms:*"], "resources": ["*"],
          "principals": [{"type": "AWS", "identifiers": ["arn:aws:iam::1:root"]}]}],
        [{"sid": "Assume", "effect": "Allow", "actions": ["sts:AssumeRole"],
          "principals": [{"type": "Service", "identifiers": ["sagemaker.amazonaws.com"]}]}],
        [{"sid": "Scoped", "effect": "Allow", "actions": ["s:B", "s:A"], "resources": ["r2", "r1"],
          "conditions": [{"test": "StringLike", "variable": "s:ns", "values": ["a*", "b*"]}]}],
    ]
    (provider,) = run.of_type("pulumi:providers:aws")
    assert all(i.provider.startswith(provider.urn + "::") for i in invokes if i.token == TOKEN)
    # the document is the provider's rendering (the JSON string), not the statements
    assert json.loads(run.outputs["key"])["Statement"] == [
        {"Sid": "Admin", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
         "Principal": {"AWS": "arn:aws:iam::1:root"}}
    ]


class Holder(pulumi.ComponentResource):
    def __init__(self, name, opts):
        super().__init__("test:index:Holder", name, None, opts)
        self.doc = document([Statement("Read", ["s3:GetObject"], ["arn:aws:s3:::b/*"])], self)


def test_a_document_declared_in_a_component_runs_with_the_components_provider(invokes):
    run = run_declarations(lambda provider: {"doc": Holder("h", pulumi.ResourceOptions(providers=[provider])).doc})
    (provider,) = run.of_type("pulumi:providers:aws")
    (invoke,) = [i for i in invokes if i.token == TOKEN]
    assert invoke.provider.startswith(provider.urn + "::")
    assert json.loads(run.outputs["doc"])["Statement"] == [
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    ]
