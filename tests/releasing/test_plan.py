"""The preview's plan from real engine event objects: counted per op, and which endpoints it would lose."""

from __future__ import annotations

from types import SimpleNamespace

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


SCALING_TYPE = "aws:appautoscaling/target:Target"


def test_events_other_than_a_resource_step_are_not_steps():
    plan = Plan()
    plan.on_event(auto.EngineEvent(sequence=0, timestamp=0, resource_pre_event=auto.ResourcePreEvent(None)))
    plan.on_event(auto.EngineEvent(sequence=1, timestamp=0))
    assert plan.steps == [] and plan.counts == {}


def test_a_step_is_recorded_as_op_type_and_urn():
    plan = plan_of(("update", ENDPOINT_TYPE, "emb-endpoint"))
    assert plan.steps == [("update", ENDPOINT_TYPE, f"urn:pulumi:dev::sls-endpoints::x${ENDPOINT_TYPE}::emb-endpoint")]
    assert type(plan.steps[0][0]) is str


def test_the_counts_come_from_the_steps_when_there_are_any():
    plan = plan_of(("create", CONFIG_TYPE, "a"), ("create", CONFIG_TYPE, "b"), ("same", CONFIG_TYPE, "c"))
    plan.record(auto.PreviewResult("", "", {auto.OpType.UPDATE: 7}))
    assert plan.counts == {"create": 2, "same": 1}
    assert plan.change_summary == {"update": 7}


def test_a_result_without_a_change_summary_counts_nothing():
    plan = Plan()
    plan.record(auto.PreviewResult("", "", None))
    assert plan.change_summary == {} and plan.counts == {} and plan.render() == ["plan: no changes"]


def test_the_plan_lists_each_change_aligned_by_type_and_named_by_resource():
    plan = plan_of(("same", CONFIG_TYPE, "kept"), ("create", CONFIG_TYPE, "emb-config"),
                   ("update", ENDPOINT_TYPE, "emb-endpoint"), ("read", CONFIG_TYPE, "looked-up"),
                   ("refresh", CONFIG_TYPE, "refreshed"), ("delete", CONFIG_TYPE, "old-config"))
    width = len(CONFIG_TYPE)
    assert plan.render() == [
        "plan: create 1, delete 1, read 1, refresh 1, update 1 (1 unchanged)",
        f"  {'create':<18} {CONFIG_TYPE:<{width}} emb-config",
        f"  {'update':<18} {ENDPOINT_TYPE:<{width}} emb-endpoint",
        f"  {'delete':<18} {CONFIG_TYPE:<{width}} old-config",
    ]


def test_a_plan_that_changes_nothing_says_so():
    plan = plan_of(("same", CONFIG_TYPE, "a"), ("same", ENDPOINT_TYPE, "b"))
    assert plan.render() == ["plan: no changes (2 unchanged)"]


def test_each_lost_endpoint_is_named_once_sorted_and_other_types_do_not_count():
    plan = plan_of(("delete-replaced", ENDPOINT_TYPE, "b-endpoint"), ("delete", ENDPOINT_TYPE, "b-endpoint"),
                   ("delete", ENDPOINT_TYPE, "a-endpoint"), ("replace", CONFIG_TYPE, "a-config"),
                   ("create-replacement", ENDPOINT_TYPE, "c-endpoint"), ("update", ENDPOINT_TYPE, "d-endpoint"),
                   ("create", ENDPOINT_TYPE, "e-endpoint"))
    assert plan.endpoint_losses == [("delete", "a-endpoint"), ("replace", "b-endpoint"), ("replace", "c-endpoint")]
    with pytest.raises(ReleaseFailure) as e:
        plan.refuse_endpoint_losses(allow_replace=False)
    assert e.value.message == (
        "the plan deletes a-endpoint, replaces b-endpoint, replaces c-endpoint: callers would lose the endpoint while "
        "it is recreated (or for good). Nothing was deployed. If that is intended, run again with --allow-replace; "
        "if not, check for a renamed endpoint or a resource moved without an alias (docs/ARCHITECTURE.md, Update "
        "paths)")


def test_the_scaling_targets_the_plan_replaces_or_deletes_are_named():
    plan = plan_of(("replace", SCALING_TYPE, "emb-scaling-target"), ("delete", SCALING_TYPE, "a-scaling-target"),
                   ("create-replacement", SCALING_TYPE, "emb-scaling-target"), ("update", SCALING_TYPE, "x-target"),
                   ("replace", ENDPOINT_TYPE, "emb-endpoint"))
    assert plan.scaling_targets_going == ["a-scaling-target", "emb-scaling-target"]
    assert plan_of(("update", ENDPOINT_TYPE, "e")).scaling_targets_going == []


def test_an_op_is_read_from_the_enum_or_taken_as_a_plain_string():
    from releasing.plan import _op

    assert _op(auto.OpType.CREATE_REPLACEMENT) == "create-replacement" and _op("delete") == "delete"
    plan = Plan()
    plan.record(SimpleNamespace(change_summary={"update": 2, auto.OpType.SAME: 3}))
    assert plan.change_summary == {"update": 2, "same": 3}
    assert Plan().counts == {} and Plan().change_summary == {}
    plan.record(object())  # a result without a change summary
    assert plan.change_summary == {}
