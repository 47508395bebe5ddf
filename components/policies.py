"""IAM policy documents, rendered by the provider's `get_policy_document` (never hand-built JSON).

Why a module: the execution role, the invoke policy and the Lambda role all need a trust or permission
document; declaring statements here keeps every action list in one readable place for review.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class Statement:
    """One Allow statement: exact actions on exact resources (or a service principal for trust policies)."""

    sid: str
    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]] | None = None
    service: str | None = None  # trust policies: the service principal allowed to assume the role
    condition: tuple[str, str, Sequence[pulumi.Input[str]]] | None = None  # (test, variable, values)
    principal_arn: pulumi.Input[str] | None = None  # resource policies (a key policy): an AWS principal


def document(
    statements: Sequence[Statement],
    parent: pulumi.Resource | None = None,
    provider: pulumi.ProviderResource | None = None,
) -> pulumi.Output[str]:
    """The JSON policy document for these statements, rendered by aws.iam.get_policy_document (the invoke runs
    with the parent's provider, or with `provider` for a document declared outside a component)."""
    iam = aws.iam
    rendered = [
        iam.GetPolicyDocumentStatementArgs(
            sid=s.sid,
            effect="Allow",
            actions=list(s.actions),
            resources=list(s.resources) if s.resources is not None else None,
            principals=[iam.GetPolicyDocumentStatementPrincipalArgs(type="Service", identifiers=[s.service])]
            if s.service
            else [iam.GetPolicyDocumentStatementPrincipalArgs(type="AWS", identifiers=[s.principal_arn])]
            if s.principal_arn is not None
            else None,
            conditions=[
                iam.GetPolicyDocumentStatementConditionArgs(
                    test=s.condition[0], variable=s.condition[1], values=list(s.condition[2])
                )
            ]
            if s.condition
            else None,
        )
        for s in statements
    ]
    opts = pulumi.InvokeOutputOptions(parent=parent, provider=provider)
    return iam.get_policy_document_output(statements=rendered, opts=opts).json
