"""The preview's plan from real engine event objects: counted per op, and which endpoints it would lose."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from releasing.failures import EXIT_REFUSED, ReleaseFailure
from releasing.plan import ENDPOINT_TYPE, Plan

CONFIG_TYPE = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


def event(op: str, typ: str, name: str) -> auto.EngineEvent:
    meta = auto.StepEventMetadata(op=auto.OpType(op), urn=f"urn:pulumi:dev::sls-endpoints::x${typ}::{name}", type=typ,
                                  provider="")
    return auto.EngineEvent(sequence=0, timestamp=0, resource_pre_event=auto.ResourcePreEvent(meta))


def plan_of(*steps: tuple[str, str, str]) -> Plan:
    plan = Plan()
    for step in steps:
        plan.on_event(event(*step))
    plan.on_event(auto.EngineEvent(sequence=1, timestamp=0, stdout_event=auto.StdoutEngineEvent("text", "")))
    return plan


def test_a_new_config_rolled_onto_the_same_endpoint_is_allowed():
    plan = plan_of(("create", CONFIG_TYPE, "emb-config"), ("update", ENDPOINT_TYPE, "emb-endpoint"),
                   ("delete", CONFIG_TYPE, "old-config"))
    assert plan.counts == {"create": 1, "update": 1, "delete": 1}
    assert plan.endpoint_losses == []
    plan.refuse_endpoint_losses(allow_replace=False)


@pytest.mark.parametrize(("ops", "said"), [
    (["replace"], "replaces emb-endpoint"),
    (["create-replacement", "delete-replaced"], "replaces emb-endpoint"),  # the engine's two halves of a replace
    (["delete"], "deletes emb-endpoint"),
])
def test_a_replaced_or_deleted_endpoint_is_refused_unless_allowed(ops, said):
    plan = plan_of(*[(op, ENDPOINT_TYPE, "emb-endpoint") for op in ops])
    with pytest.raises(ReleaseFailure) as e:
        plan.refuse_endpoint_losses(allow_replace=False)
    assert e.value.code == EXIT_REFUSED and said in e.value.message and "--allow-replace" in e.value.message
    plan.refuse_endpoint_losses(allow_replace=True)


def test_without_events_the_change_summary_is_shown():
    plan = Plan()
    plan.record(auto.PreviewResult("", "", {auto.OpType.SAME: 12, auto.OpType.UPDATE: 1}))
    assert plan.render() == ["plan: update 1 (12 unchanged)"]
