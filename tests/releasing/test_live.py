"""releasing/live.py: what SageMaker serves, read through boto3's calls (describe, the endpoint_in_service waiter)
and compared with what the stack declared; each way of not being InService on the declared config is its own
exit code with a message naming the endpoint, its state and its log group."""

from __future__ import annotations

import json

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

from releasing import live
from releasing.failures import EXIT_ENDPOINT_FAILED, EXIT_LIVE_MISMATCH, EXIT_TIMEOUT, ReleaseFailure
from releasing.live import Declared, LiveState, WaitOptions

FAST = WaitOptions(delay=0.5, max_attempts=3)


def test_the_log_group_is_sagemakers_per_endpoint_group():
    assert live.log_group("scorer-prod") == "/aws/sagemaker/Endpoints/scorer-prod"


def test_wait_options_default_to_polling_every_30_s_for_30_minutes():
    w = WaitOptions()
    assert (w.delay, w.max_attempts) == (30, 60)
    assert w.waiter_config == {"Delay": 30, "MaxAttempts": 60}
    assert w.seconds == 1800
    assert WaitOptions(delay=2.5, max_attempts=4).seconds == 10.0


def test_declared_endpoints_read_the_stacks_endpoints_output():
    manifest = {"framework": "sklearn", "handler": {"max_batch": 4}}
    outputs = {"endpoints": {
        "scorer": {"name": "scorer-prod", "config_name": "scorer-config-1", "artifact_sha256": "ab" * 32,
                   "artifact_manifest": json.dumps(manifest)},
        "embedder": {"name": "embedder-prod", "artifact_manifest": manifest},
    }}
    scorer, embedder = live.declared_endpoints(outputs)
    assert scorer == Declared("scorer", "scorer-prod", "scorer-config-1", "ab" * 32, manifest)
    assert embedder == Declared("embedder", "embedder-prod", None, None, manifest)  # a dict is taken as is
    assert live.declared_endpoints({}) == [] and live.declared_endpoints({"endpoints": None}) == []


@pytest.mark.parametrize("text", ["", "{not json"], ids=["empty", "not json"])
def test_a_manifest_output_that_is_not_json_leaves_the_smoke_test_to_probe(text):
    d = Declared.from_output("scorer", {"name": "scorer-prod", "config_name": "c", "artifact_manifest": text})
    assert d.manifest is None and d.config_name == "c"


@pytest.mark.parametrize(("state", "said"), [
    (LiveState("e", missing=True), "does not exist"),
    (LiveState("e", error="AccessDeniedException: no"), "unknown (AccessDeniedException: no)"),
    (LiveState("e", "InService", "c-2"), "InService on config c-2"),
    (LiveState("e", "Failed", "c-2", "no capacity"), "Failed on config c-2; FailureReason: no capacity"),
])
def test_a_live_state_renders_what_is_known(state, said):
    assert state.render() == said


def test_the_sagemaker_client_uses_standard_retries():
    class Session:
        def client(self, service, **kw):
            self.args = (service, kw)
            return "client"

    s = Session()
    assert live.sagemaker_client(s) == "client"
    assert s.args == ("sagemaker", {"config": live.SAGEMAKER_CONFIG})
    assert live.SAGEMAKER_CONFIG.retries["mode"] == "standard"


def test_describe_reads_status_config_and_failure_reason():
    sm = StubSageMaker(states={"e": [endpoint("Failed", "c-2", "no capacity")], "f": [endpoint("InService", "c-1")]})
    assert live.describe(sm, "e") == LiveState("e", "Failed", "c-2", "no capacity")
    assert live.describe(sm, "f") == LiveState("f", "InService", "c-1", None)
    assert sm.calls[0] == ("describe_endpoint", {"EndpointName": "e"})
    assert live.snapshot(sm, ["e", "f"]) == {"e": LiveState("e", "Failed", "c-2", "no capacity"),
                                              "f": LiveState("f", "InService", "c-1", None)}


def test_an_endpoint_sagemaker_cannot_find_is_missing_not_an_error():
    assert live.describe(StubSageMaker(states={"e": [not_found("e")]}), "e") == LiveState("e", missing=True)


@pytest.mark.parametrize(("error", "said"), [
    (client_error("AccessDeniedException", "not authorized"), "AccessDeniedException: not authorized"),
    (client_error("ValidationException", "bad name"), "ValidationException: bad name"),
    (client_error("ThrottlingException", "Could not find endpoint"), "ThrottlingException: Could not find endpoint"),
    (connection_error(), "EndpointConnectionError: Could not connect to the endpoint URL: "
                         '"https://api.sagemaker.us-east-1.amazonaws.com/"'),
])
def test_any_other_describe_error_is_an_unknown_state_naming_the_error(error, said):
    state = live.describe(StubSageMaker(states={"e": [error]}), "e")
    assert state == LiveState("e", error=said) and not state.missing


def test_a_client_error_without_an_error_body_is_still_named():
    from botocore.exceptions import ClientError

    state = live.describe(StubSageMaker(states={"e": [ClientError({}, "DescribeEndpoint")]}), "e")
    assert state == LiveState("e", error="None: ")


def test_config_exists_asks_describe_endpoint_config():
    sm = StubSageMaker(configs={"c-1"})
    assert live.config_exists(sm, "c-1") is True
    assert live.config_exists(sm, "c-2") is False
    assert sm.calls == [("describe_endpoint_config", {"EndpointConfigName": "c-1"}),
                        ("describe_endpoint_config", {"EndpointConfigName": "c-2"})]


def test_wait_in_service_uses_boto3s_waiter_with_the_options_then_describes():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-2")]})
    assert live.wait_in_service(sm, "e", FAST) == LiveState("e", "InService", "c-2")
    assert sm.calls == [("wait:endpoint_in_service", {"EndpointName": "e",
                                                      "WaiterConfig": {"Delay": 0.5, "MaxAttempts": 3}}),
                        ("describe_endpoint", {"EndpointName": "e"})]


def test_an_endpoint_that_ends_failed_exits_10_with_its_reason_and_log_group():
    sm = StubSageMaker(states={"e": [endpoint("Failed", "c-2", "no capacity")]}, waits={"e": [waiter_failed()]})
    with pytest.raises(ReleaseFailure) as f:
        live.wait_in_service(sm, "e", FAST)
    assert f.value.code == EXIT_ENDPOINT_FAILED
    assert f.value.message == ("endpoint e is Failed: no capacity; its logs are in the CloudWatch log group "
                               "/aws/sagemaker/Endpoints/e")


def test_a_failed_endpoint_without_a_reason_says_so():
    assert live.failed_message(LiveState("e", "Failed", "c")) == (
        "endpoint e is Failed: (no FailureReason given); its logs are in the CloudWatch log group "
        "/aws/sagemaker/Endpoints/e")


def test_an_endpoint_that_disappears_while_waited_for_exits_10():
    sm = StubSageMaker(states={"e": [not_found("e")]}, waits={"e": [waiter_failed()]})
    with pytest.raises(ReleaseFailure) as f:
        live.wait_in_service(sm, "e", FAST)
    assert f.value.code == EXIT_ENDPOINT_FAILED
    assert f.value.message == "endpoint e does not exist (it was never created, or was deleted)"


def test_an_endpoint_still_updating_after_every_poll_exits_11_saying_how_long_was_waited():
    sm = StubSageMaker(states={"e": [endpoint("Updating", "c-1")]}, waits={"e": [max_attempts()]})
    with pytest.raises(ReleaseFailure) as f:
        live.wait_in_service(sm, "e", FAST)
    assert f.value.code == EXIT_TIMEOUT
    assert f.value.message == ("endpoint e is still Updating after 1.5 s (3 polls every 0.5 s); raise "
                               "--wait-attempts if it needs longer, and look at its log group "
                               "/aws/sagemaker/Endpoints/e")


def test_any_other_waiter_failure_exits_10_naming_it_and_the_state_now():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-1")]}, waits={"e": [waiter_failed("AccessDenied")]})
    with pytest.raises(ReleaseFailure) as f:
        live.wait_in_service(sm, "e", FAST)
    assert f.value.code == EXIT_ENDPOINT_FAILED
    assert f.value.message == ("waiting for endpoint e failed: Waiter EndpointInService failed: AccessDenied; now "
                               "InService on config c-1")


def test_verify_accepts_the_declared_config_and_returns_the_live_state():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-2")]})
    assert live.verify(sm, Declared("k", "e", "c-2"), FAST) == LiveState("e", "InService", "c-2")


def test_verify_without_a_declared_config_only_waits_for_in_service():
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-9")]})
    assert live.verify(sm, Declared("k", "e", None), FAST).config_name == "c-9"


@pytest.mark.parametrize(("reason", "said"), [
    ("ping failed", " SageMaker's FailureReason: ping failed."),
    (None, ""),
])
def test_a_live_config_other_than_the_declared_one_exits_12_naming_both(reason, said):
    sm = StubSageMaker(states={"e": [endpoint("InService", "c-1", reason)]})
    with pytest.raises(ReleaseFailure) as f:
        live.verify(sm, Declared("k", "e", "c-2"), FAST)
    assert f.value.code == EXIT_LIVE_MISMATCH
    assert f.value.message == (
        "endpoint e serves config c-1, but the stack declared c-2: the update failed and SageMaker rolled it back "
        f"while Pulumi recorded success (terraform-provider-aws #46663).{said} Logs: /aws/sagemaker/Endpoints/e")
