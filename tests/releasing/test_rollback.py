"""releasing/rollback.py: after a failure, each endpoint goes back to the config it served before the release
(UpdateEndpoint to exactly that config, then boto3's waiter, then the live config checked), and every way that
cannot happen is a failed Outcome saying why and what the endpoint is in now."""

from __future__ import annotations

import pytest
from stub_sagemaker import (
    StubSageMaker,
    client_error,
    connection_error,
    endpoint,
    max_attempts,
    not_found,
    waiter_failed,
)

from releasing.live import LiveState, WaitOptions
from releasing.rollback import IN_PROGRESS, rollback

WAIT = WaitOptions(delay=0, max_attempts=2)
BEFORE = LiveState("e", "InService", "c-1")


def run(sm: StubSageMaker, before: LiveState | None = BEFORE) -> tuple[object, list[str]]:
    lines: list[str] = []
    outcome = rollback(sm, "e", before, WAIT, lines.append)
    assert outcome.endpoint == "e" and outcome.state.name == "e"
    return outcome, lines


def updates(sm: StubSageMaker) -> list[dict]:
    return [kw for _, kw in sm.ops("update_endpoint")]


@pytest.mark.parametrize("before", [None, LiveState("e", missing=True)], ids=["not recorded", "did not exist"])
def test_an_endpoint_this_release_created_has_nothing_to_return_to(before):
    sm = StubSageMaker(states={"e": [endpoint("Failed", "c-2", "no capacity")]})
    o, lines = run(sm, before)
    assert o.ok is True
    assert o.detail == "created by this release, nothing to return to; now Failed on config c-2; FailureReason: " \
                       "no capacity"
    assert o.state == LiveState("e", "Failed", "c-2", "no capacity")
    assert updates(sm) == [] and lines == []


def test_an_endpoint_whose_previous_config_is_unknown_is_not_touched_and_fails():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-2")]})
    o, _ = run(sm, LiveState("e", error="AccessDeniedException: no"))
    assert o.ok is False
    assert o.detail == ("its config before the release is unknown (unknown (AccessDeniedException: no)); now "
                        "InService on config c-2")
    assert o.state.config_name == "c-2" and updates(sm) == []


def test_a_changed_endpoint_is_updated_back_to_its_previous_config_and_verified_live():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-2"), endpoint("InService", "c-1")]},
                       configs={"c-1", "c-2"})
    o, lines = run(sm)
    assert o.ok is True and o.detail == "rolled back to c-1, InService (verified live)"
    assert o.state == LiveState("e", "InService", "c-1")
    assert updates(sm) == [{"EndpointName": "e", "EndpointConfigName": "c-1"}]
    assert sm.ops("wait:endpoint_in_service") == [("wait:endpoint_in_service", {
        "EndpointName": "e", "WaiterConfig": {"Delay": 0, "MaxAttempts": 2}})]
    assert lines == ["  e: UpdateEndpoint back to c-1"]


def test_a_failed_endpoint_on_its_previous_config_is_still_updated():
    """The config matches but the endpoint is Failed: only an update brings it back."""
    sm = StubSageMaker(states={"e": [endpoint("Failed", "c-1", "boom"), endpoint("InService", "c-1")]},
                       configs={"c-1"})
    o, _ = run(sm)
    assert o.ok is True and o.detail == "rolled back to c-1, InService (verified live)"
    assert updates(sm) == [{"EndpointName": "e", "EndpointConfigName": "c-1"}]


@pytest.mark.parametrize(("reason", "how"), [(None, "the release did not change it"),
                                             ("ping failed", "SageMaker rolled the update back")])
def test_an_endpoint_already_on_its_previous_config_is_left_alone(reason, how):
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-1", reason)]}, configs={"c-1"})
    o, lines = run(sm)
    assert o.ok is True and o.detail == f"already serves its previous config c-1 ({how})"
    assert o.state == LiveState("e", "InService", "c-1", reason)
    assert updates(sm) == [] and lines == []


def test_serving_a_previous_config_that_was_deleted_is_a_failure_saying_the_next_deploy_will_fail():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-1")]}, configs={"c-2"})
    o, _ = run(sm)
    assert o.ok is False and updates(sm) == []
    assert o.detail == ("serves c-1, which no longer exists: the next deploy will fail with 'Could not find endpoint "
                        "configuration' until the stack recreates it")
    assert o.state.config_name == "c-1"


def test_a_previous_config_that_no_longer_exists_cannot_be_rolled_back_to():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-2")]}, configs={"c-2"})
    o, _ = run(sm)
    assert o.ok is False and updates(sm) == []
    assert o.detail == ("cannot roll back: its previous config c-1 no longer exists (deleted after the update); it "
                        "stays InService on config c-2")
    assert o.state.config_name == "c-2"


@pytest.mark.parametrize("status", sorted(IN_PROGRESS))
def test_an_endpoint_still_in_progress_is_waited_for_before_rolling_back(status):
    assert IN_PROGRESS == {"Creating", "Updating", "SystemUpdating", "RollingBack"}
    sm = StubSageMaker(states={"e": [endpoint(status, "c-2"), endpoint("InService", "c-2"),
                                     endpoint("InService", "c-1")]}, configs={"c-1", "c-2"})
    o, lines = run(sm)
    assert lines == [f"  e: {status}; waiting before rolling back", "  e: UpdateEndpoint back to c-1"]
    assert o.ok is True and updates(sm) == [{"EndpointName": "e", "EndpointConfigName": "c-1"}]
    assert len(sm.ops("wait:endpoint_in_service")) == 2  # settled first, then rolled back


def test_an_in_progress_endpoint_that_rolls_itself_back_is_not_updated_again():
    sm = StubSageMaker(states={"e": [endpoint("RollingBack", "c-1"), endpoint("InService", "c-1", "ping failed")]},
                       configs={"c-1"})
    o, _ = run(sm)
    assert o.ok is True and o.detail == "already serves its previous config c-1 (SageMaker rolled the update back)"
    assert updates(sm) == []


def test_an_endpoint_that_never_settles_is_not_rolled_back():
    sm = StubSageMaker(states={"e": [endpoint("Updating", "c-2"), endpoint("Updating", "c-2"),
                                     endpoint("Updating", "c-3")]},
                       configs={"c-1"}, waits={"e": [max_attempts()]})
    o, _ = run(sm)
    assert o.ok is False and updates(sm) == []
    assert o.detail.startswith("cannot roll back an endpoint that is not settled: endpoint e is still Updating after ")
    assert o.state.config_name == "c-3"  # described again for the report


@pytest.mark.parametrize(("status", "hint"), [("Failed", True), ("InService", False)])
def test_an_update_sagemaker_refuses_is_a_failure_naming_the_error(status, hint):
    sm = StubSageMaker(states={"e": [endpoint(status, "c-2"), endpoint(status, "c-2", "after")]},
                       configs={"c-1"},
                       update_error=client_error("ValidationException", "Cannot update", "UpdateEndpoint"))
    o, _ = run(sm)
    assert o.ok is False and updates(sm) == [{"EndpointName": "e", "EndpointConfigName": "c-1"}]
    assert o.detail.startswith("UpdateEndpoint to c-1 was refused: An error occurred (ValidationException) when "
                               f"calling the UpdateEndpoint operation: Cannot update; now {status} on config c-2")
    delete = ("; a Failed endpoint that SageMaker will not update must be deleted (`aws sagemaker delete-endpoint "
              "--endpoint-name e`) and the stack released again")
    assert o.detail.endswith(f"Cannot update; now {status} on config c-2{delete if hint else ''}")
    assert o.state.failure_reason == "after"  # described again after the refusal


def test_an_update_that_cannot_reach_sagemaker_is_a_failure_too():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-2")]}, configs={"c-1"},
                       update_error=connection_error())
    o, _ = run(sm)
    assert o.ok is False and o.detail.startswith("UpdateEndpoint to c-1 was refused: Could not connect")


def test_a_rollback_that_does_not_finish_is_a_failure():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-2"), endpoint("Failed", "c-1", "boom")]},
                       configs={"c-1"}, waits={"e": [waiter_failed()]})
    o, _ = run(sm)
    assert o.ok is False
    assert o.detail == ("rollback to c-1 did not finish: endpoint e is Failed: boom; its logs are in the CloudWatch "
                        "log group /aws/sagemaker/Endpoints/e")
    assert o.state == LiveState("e", "Failed", "c-1", "boom")


def test_a_rollback_that_ends_on_another_config_is_a_failure_naming_it():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-2"), endpoint("InService", "c-3")]}, configs={"c-1"})
    o, _ = run(sm)
    assert o.ok is False
    assert o.detail == "after the rollback it serves c-3, not c-1; logs: /aws/sagemaker/Endpoints/e"
    assert o.state == LiveState("e", "InService", "c-3")


def test_a_missing_endpoint_that_existed_before_is_not_recreated():
    """It existed before the release and is gone now: UpdateEndpoint cannot recreate it, the failure says so."""
    sm = StubSageMaker(states={"e": [not_found("e")]}, configs={"c-1"},
                       update_error=client_error("ValidationException", "Could not find endpoint", "UpdateEndpoint"))
    o, _ = run(sm)
    assert o.ok is False and "now does not exist" in o.detail
