"""releasing/capacity.py: which endpoints are autoscaled, their live provisioned concurrency, setting it back
(within the scaling bounds) with UpdateEndpointWeightsAndCapacities after a verified update, and deregistering a
scalable target the plan replaces before `up`."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from stub_sagemaker import StubSageMaker, client_error, connection_error, endpoint, not_found

from releasing import capacity
from releasing.capacity import Autoscaled
from releasing.live import WaitOptions

WAIT = WaitOptions(delay=0, max_attempts=2)


def ep(name: str, *, pc: int | None = None, scaling: tuple[int, int] | None = None, serverless: bool = True):
    return SimpleNamespace(
        name=name, endpoint_name=f"{name}-prod",
        serverless=SimpleNamespace(provisioned_concurrency=pc) if serverless else None,
        scaling=SimpleNamespace(min_capacity=scaling[0], max_capacity=scaling[1]) if scaling else None)


def test_only_serverless_endpoints_with_provisioned_concurrency_and_scaling_are_autoscaled():
    settings = SimpleNamespace(endpoints=[
        ep("a", pc=2, scaling=(1, 5)),
        ep("b", pc=None, scaling=(1, 5)),  # on demand: nothing to keep
        ep("c", pc=2),  # provisioned, not autoscaled
        ep("d", serverless=False, scaling=(1, 3)),  # instances
        ep("e", pc=1, scaling=(0, 8)),
    ])
    assert capacity.autoscaled(settings) == [Autoscaled("a-prod", 1, 5), Autoscaled("e-prod", 0, 8)]


def variants(*pcs):
    return [{"VariantName": f"v{i}", **({"CurrentServerlessConfig": {"ProvisionedConcurrency": pc}} if pc is not None
                                         else {})} for i, pc in enumerate(pcs)]


def test_provisioned_reads_each_variants_live_provisioned_concurrency():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c", ProductionVariants=variants(4, None, 0, 3.0))]})
    assert capacity.provisioned(sm, "e") == {"v0": 4, "v3": 3}
    assert type(capacity.provisioned(sm, "e")["v3"]) is int
    assert sm.calls[0] == ("describe_endpoint", {"EndpointName": "e"})


def test_a_variant_whose_serverless_config_is_null_has_none():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c", ProductionVariants=[
        {"VariantName": "AllTraffic", "CurrentServerlessConfig": None}])]})
    assert capacity.provisioned(sm, "e") == {}


@pytest.mark.parametrize("answer", [not_found("e"), client_error("AccessDeniedException", "no"), connection_error(),
                                    endpoint("Creating", "c")], ids=["missing", "denied", "unreachable", "no variants"])
def test_an_endpoint_that_cannot_be_read_or_has_no_variants_has_no_provisioned_concurrency(answer):
    assert capacity.provisioned(StubSageMaker(states={"e": [answer]}), "e") == {}


def autoscaled_sm(now: dict[str, int]) -> StubSageMaker:
    return StubSageMaker(states={"e": [endpoint("InService", "c", ProductionVariants=[
        {"VariantName": v, "CurrentServerlessConfig": {"ProvisionedConcurrency": pc}} for v, pc in now.items()])]})


def test_nothing_is_restored_when_there_was_no_provisioned_concurrency_before():
    sm = StubSageMaker()
    said = capacity.restore(sm, Autoscaled("e", 1, 5), {}, WAIT)
    assert said == "nothing to restore (no provisioned concurrency before the release)" and sm.calls == []


@pytest.mark.parametrize(("before", "wanted"), [(4, 4), (9, 5), (0, 1), (1, 1), (5, 5)],
                         ids=["as it was", "held to max", "raised to min", "at min", "at max"])
def test_the_provisioned_concurrency_from_before_the_update_is_set_back_within_the_bounds(before, wanted):
    sm = StubSageMaker(states={"e": [endpoint("InService", "c")]})  # the update reset it: none now
    said = capacity.restore(sm, Autoscaled("e", 1, 5), {"AllTraffic": before}, WAIT)
    assert sm.ops("update_endpoint_weights_and_capacities") == [("update_endpoint_weights_and_capacities", {
        "EndpointName": "e", "DesiredWeightsAndCapacities": [
            {"VariantName": "AllTraffic", "ServerlessUpdateConfig": {"ProvisionedConcurrency": wanted}}]})]
    assert said == f"provisioned concurrency back to {{'AllTraffic': {wanted}}} (the update had reset it to none)"
    assert sm.ops("wait:endpoint_in_service") == [("wait:endpoint_in_service", {
        "EndpointName": "e", "WaiterConfig": {"Delay": 0, "MaxAttempts": 2}})]


def test_only_the_variants_the_update_changed_are_set_back():
    sm = autoscaled_sm({"a": 3, "b": 2})
    said = capacity.restore(sm, Autoscaled("e", 1, 5), {"a": 3, "b": 4}, WAIT)
    (call,) = sm.ops("update_endpoint_weights_and_capacities")
    assert call[1]["DesiredWeightsAndCapacities"] == [
        {"VariantName": "b", "ServerlessUpdateConfig": {"ProvisionedConcurrency": 4}}]
    assert said == "provisioned concurrency back to {'a': 3, 'b': 4} (the update had reset it to {'a': 3, 'b': 2})"


def test_a_provisioned_concurrency_the_update_kept_is_not_touched():
    sm = autoscaled_sm({"AllTraffic": 5})
    said = capacity.restore(sm, Autoscaled("e", 1, 5), {"AllTraffic": 7}, WAIT)
    assert said == "provisioned concurrency {'AllTraffic': 5} kept"
    assert sm.ops("update_endpoint_weights_and_capacities", "wait:endpoint_in_service") == []


class StubAutoscaling:
    def __init__(self, targets: dict[str, list[str]]):
        self.targets, self.calls = targets, []

    def describe_scalable_targets(self, **kw):
        self.calls.append(("describe", kw))
        return {"ScalableTargets": [{"ResourceId": r, "ScalableDimension": d} for r in kw["ResourceIds"]
                                    for d in self.targets.get(r, [])]}

    def deregister_scalable_target(self, **kw):
        self.calls.append(("deregister", kw))


def test_a_scalable_target_the_plan_replaces_is_deregistered_first():
    settings = SimpleNamespace(endpoints=[ep("emb"), ep("scorer")])
    rid = "endpoint/emb-prod/variant/AllTraffic"
    aas = StubAutoscaling({rid: ["sagemaker:variant:DesiredProvisionedConcurrency"]})
    lines: list[str] = []
    done = capacity.deregister_going(aas, settings, ["emb-scaling-target", "gone-scaling-target"], lines.append)
    assert done == [rid]
    assert aas.calls == [
        ("describe", {"ServiceNamespace": "sagemaker", "ResourceIds": [rid]}),
        ("deregister", {"ServiceNamespace": "sagemaker", "ResourceId": rid,
                        "ScalableDimension": "sagemaker:variant:DesiredProvisionedConcurrency"})]
    assert lines == ["  emb-prod: deregistered its scalable target (sagemaker:variant:DesiredProvisionedConcurrency) "
                     "before the update changes its capacity; `up` registers the new one"]


def test_a_target_that_is_not_registered_live_is_left_alone():
    settings = SimpleNamespace(endpoints=[ep("emb")])
    aas = StubAutoscaling({})
    assert capacity.deregister_going(aas, settings, ["emb-scaling-target"], print) == []
    assert [op for op, _ in aas.calls] == ["describe"]


def test_a_target_of_an_endpoint_the_stack_does_not_have_is_skipped_and_the_rest_still_deregistered():
    settings = SimpleNamespace(endpoints=[ep("emb")])
    rid = "endpoint/emb-prod/variant/AllTraffic"
    aas = StubAutoscaling({rid: ["sagemaker:variant:DesiredInstanceCount"]})
    done = capacity.deregister_going(aas, settings, ["gone-scaling-target", "emb-scaling-target"], print)
    assert done == [rid] and [op for op, _ in aas.calls] == ["describe", "deregister"]


def test_an_answer_without_scalable_targets_deregisters_nothing():
    class Bare(StubAutoscaling):
        def describe_scalable_targets(self, **kw):
            self.calls.append(("describe", kw))
            return {}

    aas = Bare({})
    assert capacity.deregister_going(aas, SimpleNamespace(endpoints=[ep("emb")]), ["emb-scaling-target"], print) == []
