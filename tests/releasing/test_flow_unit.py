"""releasing/flow.py's helpers on plain values: the wait options, the live state recorded before `up`, what `up`
must declare, retention's call and report, the summary's status column, and the closing failure report with the
exit code it picks (the whole flow runs in test_flow.py and test_flow_details.py)."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest
from pulumi import automation as auto
from stub_sagemaker import StubSageMaker, client_error, endpoint, not_found

from releasing import flow, retention
from releasing.failures import (
    EXIT_ENDPOINT_FAILED,
    EXIT_FAILED,
    EXIT_LIVE_MISMATCH,
    EXIT_ROLLBACK_FAILED,
    ReleaseFailure,
)
from releasing.live import Declared, LiveState, WaitOptions
from releasing.rollback import Outcome


def test_the_wait_options_come_from_the_arguments():
    assert flow.wait_options(argparse.Namespace(wait_delay=2.5, wait_attempts=7)) == WaitOptions(2.5, 7)


def test_release_prints_a_stage_failure_and_exits_with_its_code(monkeypatch):
    def fail(*a):
        raise ReleaseFailure(EXIT_LIVE_MISMATCH, "what went wrong")

    monkeypatch.setattr(flow, "_release", fail)
    lines: list[str] = []
    assert flow.release(argparse.Namespace(), lines.append, input) == EXIT_LIVE_MISMATCH
    assert lines == ["error: what went wrong"]


def test_release_returns_what_the_release_returns(monkeypatch):
    seen = []
    monkeypatch.setattr(flow, "_release", lambda args, stages, out, confirm: seen.append(stages.out is out) or 0)
    assert flow.release(argparse.Namespace(), print, input) == 0 and seen == [True]


def test_interactive_means_stdin_is_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: True))
    assert flow._interactive() is True
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    assert flow._interactive() is False


def test_the_live_state_is_recorded_per_endpoint():
    sm = StubSageMaker(states={"a": [endpoint("InService", "a-1")], "b": [not_found("b")]})
    lines: list[str] = []
    before = flow._record(sm, ["a", "b"], lines.append)
    assert before == {"a": LiveState("a", "InService", "a-1"), "b": LiveState("b", missing=True)}
    assert lines == ["  a: InService on config a-1", "  b: does not exist"]


def test_an_unreadable_live_state_stops_the_release_before_up():
    sm = StubSageMaker(states={"a": [client_error("AccessDeniedException", "no")], "b": [endpoint("InService", "b")],
                               "c": [client_error("ThrottlingException", "slow down")]})
    lines: list[str] = []
    with pytest.raises(ReleaseFailure) as f:
        flow._record(sm, ["a", "b", "c"], lines.append)
    assert f.value.code == EXIT_FAILED
    assert f.value.message == (
        "cannot read the live state of a (AccessDeniedException: no); c (ThrottlingException: slow down): without it "
        "a failed release could not be rolled back, so nothing was deployed; the caller needs "
        "sagemaker:DescribeEndpoint")
    assert len(lines) == 3  # every state is shown first


class Stack:
    def __init__(self, result="succeeded", endpoints=None, **more):
        outputs = {"endpoints": auto.OutputValue(endpoints or {}, False),
                   **{k: auto.OutputValue(v, False) for k, v in more.items()}}
        self.result = SimpleNamespace(summary=SimpleNamespace(result=result), outputs=outputs)
        self.kw = None

    def up(self, **kw):
        self.kw = kw
        return self.result


ARGS = argparse.Namespace(message="m-1")
EP = {"name": "a-dev", "config_name": "a-config-2", "artifact_sha256": "ab" * 32}


def test_up_returns_the_endpoints_its_outputs_declare_and_keeps_every_output():
    stack = Stack(endpoints={"a": EP}, artifact_bucket="b-1")
    outputs: dict = {}
    lines: list[str] = []
    declared = flow._up(ARGS, stack, ["a-dev"], lines.append, outputs)
    assert declared == [Declared("a", "a-dev", "a-config-2", "ab" * 32, None)]
    assert outputs == {"endpoints": {"a": EP}, "artifact_bucket": "b-1"}
    assert stack.kw["message"] == "m-1" and stack.kw["on_output"] == lines.append
    assert flow._up(ARGS, stack, ["a-dev"], print) == declared  # outputs are optional


def test_an_up_that_ends_otherwise_than_succeeded_fails():
    with pytest.raises(ReleaseFailure) as f:
        flow._up(ARGS, Stack("failed", endpoints={"a": EP}), ["a-dev"], print, {})
    assert f.value.code == EXIT_FAILED and f.value.message == "pulumi up ended 'failed'"


def test_every_endpoint_of_the_stack_must_be_declared_by_up():
    with pytest.raises(ReleaseFailure) as f:
        flow._up(ARGS, Stack(endpoints={"a": EP}), ["c-dev", "a-dev", "b-dev"], print, {})
    assert f.value.code == EXIT_FAILED
    assert f.value.message == ("the stack's `endpoints` output does not name b-dev, c-dev: the release cannot verify "
                               "what it does not know")


SETTINGS = SimpleNamespace(project="sls-endpoints", stack="dev", releases_kept=3)


class Session:
    def client(self, name):
        return f"{name}-client"


def test_retention_prunes_each_declared_endpoint_with_the_stacks_tags(monkeypatch):
    calls = []

    def prune(sm, s3, ep, **kw):
        calls.append((sm, s3, ep, kw))
        return retention.Pruned(kept_configs=["x", "y"], configs=["o"], models=["m1", "m2"], artifacts=[])

    monkeypatch.setattr(retention, "prune", prune)
    lines: list[str] = []
    declared = [Declared("a", "a-dev", "a-config-2"), Declared("b", "b-dev", "b-config-2")]
    flow._prune(SETTINGS, declared, {"artifact_bucket": "b-1"}, Session(), "sm", lines.append)
    assert [c[2] for c in calls] == [retention.Endpoint("a", "a-dev", "a-config-2", "b-1"),
                                     retention.Endpoint("b", "b-dev", "b-config-2", "b-1")]
    sm, s3, _, kw = calls[0]
    assert (sm, s3) == ("sm", "s3-client")
    assert kw == {"keep": 3, "tags": {"project": "sls-endpoints", "stack": "dev"}, "log": lines.append}
    assert lines == ["  a-dev: keeps 2 release(s); pruned 1 config(s), 2 model(s), 0 artifact(s)",
                     "  b-dev: keeps 2 release(s); pruned 1 config(s), 2 model(s), 0 artifact(s)"]


def test_retention_skips_an_endpoint_without_a_bucket_or_config_and_survives_a_failure(monkeypatch):
    def prune(sm, s3, ep, **kw):
        raise RuntimeError(f"cannot list {ep.endpoint_name}")

    monkeypatch.setattr(retention, "prune", prune)
    lines: list[str] = []
    declared = [Declared("a", "a-dev", None), Declared("b", "b-dev", "b-config-2"), Declared("c", "c-dev", "c-c")]
    flow._prune(SETTINGS, declared, {"artifact_bucket": "b-1"}, Session(), "sm", lines.append)
    assert lines == ["  a-dev: not pruned (the stack's outputs name no bucket or config)",
                     "  b-dev: not pruned (RuntimeError: cannot list b-dev); the next release tries again",
                     "  c-dev: not pruned (RuntimeError: cannot list c-dev); the next release tries again"]
    lines.clear()
    flow._prune(SETTINGS, declared[1:2], {}, Session(), "sm", lines.append)
    assert lines == ["  b-dev: not pruned (the stack's outputs name no bucket or config)"]


def smoke(ok: bool, cold=None, warm=None):
    return SimpleNamespace(ok=ok, cold_ms=cold, warm_ms=warm)


@pytest.mark.parametrize(("state", "result", "said"), [
    (LiveState("a", missing=True), None, "missing"),
    (LiveState("a", error="AccessDenied"), None, "unknown"),
    (LiveState("a", "Updating", "c"), None, "Updating"),
    (LiveState("a", "InService", "c"), smoke(True), "InService, smoke ok"),
    (LiveState("a", "InService", "c"), smoke(False), "InService, smoke FAILED"),
    (LiveState("a", missing=True), smoke(False), "missing, smoke FAILED"),
])
def test_the_status_column_is_the_live_status_and_the_smoke_result(state, result, said):
    assert flow._status(state, result) == said


def test_the_summary_has_a_row_per_endpoint_with_what_is_live_now():
    sm = StubSageMaker(states={"a-dev": [endpoint("InService", "a-config-2")], "b-dev": [not_found("b-dev")],
                               "c-dev": [endpoint("InService", "c-config-1")]})
    lines: list[str] = []
    flow._summary(sm, ["a-dev", "b-dev", "c-dev"],
                  [Declared("a", "a-dev", "a-config-2", "cd" * 32), Declared("c", "c-dev", "c-config-2", "ef" * 32)],
                  {"a-dev": smoke(True, 812.04, 41.5)}, lines.append)
    assert [line.split() for line in lines[2:]] == [
        ["a-dev", "InService,", "smoke", "ok", "cdcdcdcdcdcd...", "a-config-2", "812.0", "41.5"],
        ["b-dev", "missing", "-", "-", "-", "-"],
        # back on its previous config: the declared artifact is not the one it serves, so none is named
        ["c-dev", "InService", "-", "c-config-1", "-", "-"]]


def outcome(name: str, ok: bool, detail: str, status="InService", config="c-1") -> Outcome:
    return Outcome(name, ok, detail, LiveState(name, status, config))


def test_a_rolled_back_release_exits_with_its_first_failures_code():
    lines: list[str] = []
    code = flow._report_failure(
        [ReleaseFailure(EXIT_ENDPOINT_FAILED, "a failed"), ReleaseFailure(EXIT_LIVE_MISMATCH, "b mismatched")],
        {"a": outcome("a", True, "rolled back to a-1, InService (verified live)", config="a-1"),
         "b": outcome("b", True, "already serves its previous config b-1 (the release did not change it)",
                      config="b-1")}, lines.append)
    assert code == EXIT_ENDPOINT_FAILED
    assert lines == ["error: a failed", "error: b mismatched",
                     "now: a InService on config a-1; b InService on config b-1",
                     "note: the stack's state still names the new configs; the next release (or --refresh) "
                     "reconciles it"]


def test_a_release_that_changed_nothing_needs_no_note():
    lines: list[str] = []
    code = flow._report_failure([ReleaseFailure(EXIT_FAILED, "up failed")],
                                {"a": outcome("a", True, "already serves its previous config a-1 (...)")},
                                lines.append)
    assert code == EXIT_FAILED and lines == ["error: up failed", "now: a InService on config c-1"]


def test_a_rollback_that_failed_anywhere_exits_14_naming_what_failed():
    lines: list[str] = []
    code = flow._report_failure(
        [ReleaseFailure(EXIT_LIVE_MISMATCH, "b mismatched")],
        {"a": outcome("a", True, "rolled back to a-1, InService (verified live)"),
         "b": outcome("b", False, "cannot roll back: gone", "Failed", "b-2"),
         "c": outcome("c", False, "refused", "Failed", "c-2")}, lines.append)
    assert code == EXIT_ROLLBACK_FAILED
    assert lines[:3] == ["error: b mismatched",
                         "error: the rollback did not put every endpoint back: b: cannot roll back: gone; c: refused",
                         "now: a InService on config c-1; b Failed on config b-2; c Failed on config c-2"]
    assert lines[3].startswith("note: ")  # a was updated back


def test_a_rollback_marked_ok_that_did_not_update_back_gets_no_note_even_if_another_failed():
    lines: list[str] = []
    flow._report_failure([ReleaseFailure(EXIT_FAILED, "x")],
                         {"a": outcome("a", False, "rolled back to a-1 ... but"),
                          "b": outcome("b", True, "created by this release, nothing to return to; now x")},
                         lines.append)
    assert not any(line.startswith("note: ") for line in lines)
