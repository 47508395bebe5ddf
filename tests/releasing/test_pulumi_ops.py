"""releasing/pulumi_ops.py: selecting the stack through the Automation API and running an operation, with each
Pulumi error (no stack, not logged in, CLI unusable, locked, failed) its own exit code and message."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from releasing import pulumi_ops
from releasing.failures import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_NOT_LOGGED_IN,
    EXIT_PULUMI,
    ReleaseFailure,
)
from releasing.preflight import INSTALL_PULUMI


def command_error(stderr: str, cls=auto.CommandError) -> auto.CommandError:
    return cls(auto.CommandResult("", stderr, 255))


class Who:
    def __init__(self, user="ci", url=None):
        self.user, self.url = user, url


class Stack:
    def __init__(self, who=None, error=None):
        self.workspace = self
        self.who, self.error = who or Who(), error

    def who_am_i(self):
        if self.error:
            raise self.error
        return self.who


@pytest.fixture
def select(monkeypatch):
    """auto.select_stack answering `answer[0]` (a stack, or an exception to raise); records its arguments."""
    answer: list = [Stack()]
    calls: list = []

    def select_stack(**kw):
        calls.append(kw)
        if isinstance(answer[0], BaseException):
            raise answer[0]
        return answer[0]

    monkeypatch.setattr(auto, "select_stack", select_stack)
    return answer, calls


def failure(call) -> ReleaseFailure:
    with pytest.raises(ReleaseFailure) as f:
        call()
    return f.value


def test_select_returns_the_stack_and_says_who_is_logged_in_where(select, tmp_path):
    answer, calls = select
    answer[0] = stack = Stack(Who("alice", "https://app.pulumi.com/alice"))
    lines: list[str] = []
    assert pulumi_ops.select("prod", tmp_path, lines.append) is stack
    assert calls == [{"stack_name": "prod", "work_dir": str(tmp_path)}]
    assert lines == ["pulumi: stack prod as alice at https://app.pulumi.com/alice"]


def test_a_backend_without_a_url_is_not_named(select, tmp_path):
    answer, _ = select
    answer[0] = Stack(Who("ci", None))
    lines: list[str] = []
    pulumi_ops.select("dev", tmp_path, lines.append)
    assert lines == ["pulumi: stack dev as ci"]


def test_a_missing_stack_exits_3_saying_how_to_create_it(select, tmp_path):
    answer, _ = select
    answer[0] = command_error("no stack named 'dev' found", auto.StackNotFoundError)
    f = failure(lambda: pulumi_ops.select("dev", tmp_path, print))
    assert f.code == EXIT_PULUMI
    assert f.message == ("stack 'dev' does not exist in this backend; create it with `pulumi stack init dev` "
                         "(README.md, Deploying)")


@pytest.mark.parametrize("stderr", [
    "error: run `pulumi login` first",
    "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions",
    "error: you are Not Logged In",
    "error: getting user info: 401",
    "error: Invalid access token",
    "error: No credentials provided",
])
def test_each_way_pulumi_says_not_logged_in_exits_5(select, tmp_path, stderr):
    answer, _ = select
    answer[0] = command_error(stderr)
    f = failure(lambda: pulumi_ops.select("dev", tmp_path, print))
    assert f.code == EXIT_NOT_LOGGED_IN
    assert f.message == f"not logged in to a Pulumi backend: {pulumi_ops.LOGIN_HELP}"


def test_any_other_cli_error_exits_3_with_the_error_shortened(select, tmp_path):
    answer, _ = select
    answer[0] = command_error("error: failed to load plugin\n   " + "x" * 1000)
    f = failure(lambda: pulumi_ops.select("dev", tmp_path, print))
    assert f.code == EXIT_PULUMI
    short = pulumi_ops._short(answer[0])
    assert len(short) == 400 and short.endswith("...") and "\n" not in short
    assert f.message == f"cannot use the Pulumi CLI: {short}; {INSTALL_PULUMI}"


def test_a_cli_that_cannot_run_exits_3(select, tmp_path):
    answer, _ = select
    answer[0] = PermissionError(13, "Permission denied", "pulumi")
    f = failure(lambda: pulumi_ops.select("dev", tmp_path, print))
    assert f.code == EXIT_PULUMI
    assert f.message == f"cannot run the Pulumi CLI ([Errno 13] Permission denied: 'pulumi'); {INSTALL_PULUMI}"


def test_whoami_failing_means_not_logged_in(select, tmp_path):
    answer, _ = select
    answer[0] = Stack(error=command_error("error: 401 token expired"))
    f = failure(lambda: pulumi_ops.select("dev", tmp_path, print))
    assert f.code == EXIT_NOT_LOGGED_IN
    assert f.message == ("not logged in to a Pulumi backend (code: 255 stdout: stderr: error: 401 token expired): "
                         f"{pulumi_ops.LOGIN_HELP}")


def test_run_returns_what_the_operation_returns():
    assert pulumi_ops.run("up", lambda: "result") == "result"


def raising(error):
    def call():
        raise error

    return call


def test_a_locked_stack_exits_8_naming_the_operation():
    f = failure(lambda: pulumi_ops.run("preview", raising(command_error(
        "error: the stack is currently locked by 1 lock(s)", auto.ConcurrentUpdateError))))
    assert f.code == EXIT_LOCKED
    assert f.message == ("pulumi preview: the stack is locked by another update; wait for it to finish, or if it "
                         "crashed, `pulumi cancel` (Pulumi Cloud) or remove the backend's lock file (file/S3 backend)")


def test_an_operation_that_finds_no_login_exits_5():
    f = failure(lambda: pulumi_ops.run("refresh", raising(command_error("error: getting user info"))))
    assert f.code == EXIT_NOT_LOGGED_IN
    assert f.message == f"pulumi refresh: not logged in: {pulumi_ops.LOGIN_HELP}"


def test_a_failed_operation_exits_1_with_up_to_2000_characters_of_its_error():
    error = command_error("error: " + "y" * 3000)
    f = failure(lambda: pulumi_ops.run("up", raising(error)))
    assert f.code == EXIT_FAILED
    assert f.message == f"pulumi up failed: {' '.join(str(error).split())[:1997]}..."
    short = command_error("error: AccessDenied")
    assert failure(lambda: pulumi_ops.run("destroy", raising(short))).message == (
        "pulumi destroy failed: code: 255 stdout: stderr: error: AccessDenied")


def test_short_keeps_a_text_of_exactly_n_characters_whole():
    assert pulumi_ops._short(Exception("a" * 400)) == "a" * 400
    assert pulumi_ops._short(Exception("a" * 401)) == "a" * 397 + "..."
    assert pulumi_ops._short(Exception(" a \n b ")) == "a b"


def test_outputs_are_the_plain_values():
    class Result:
        outputs = {"endpoints": auto.OutputValue({"e": 1}, False), "plain": 3}

    assert pulumi_ops.outputs(Result()) == {"endpoints": {"e": 1}, "plain": 3}

    class Empty:
        outputs = None

    assert pulumi_ops.outputs(Empty()) == {}
