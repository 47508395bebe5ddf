"""Each failure before a deployment has its own exit code and a message saying what to do, and touches nothing:
no Pulumi CLI, not logged in, no AWS credentials, another region, a locked stack."""

from __future__ import annotations

import pytest
from pulumi import automation as auto
from release_helpers import release_argv, run_release

from releasing import failures


def test_no_pulumi_cli_exits_3_saying_how_to_install_it(work_dir, world, aws_env, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_PULUMI == 3
    assert "the Pulumi CLI is not installed" in lines[-1] and "get.pulumi.com" in lines[-1]
    assert world.calls == []


@pytest.mark.parametrize("where", ["select", "whoami"])
def test_not_logged_in_exits_5_saying_how_to_log_in(work_dir, world, aws_env, pulumi_cli, where):
    error = auto.CommandError(auto.CommandResult(
        "", "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions", 255))
    if where == "select":
        world.select_error = error
    else:
        world.whoami_error = error
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_NOT_LOGGED_IN == 5
    assert "not logged in to a Pulumi backend" in lines[-1] and "pulumi login --local" in lines[-1]
    assert [op for op, _ in world.calls] == ["select"]


def test_a_missing_stack_exits_3_saying_how_to_create_it(work_dir, world, aws_env, pulumi_cli):
    world.select_error = auto.StackNotFoundError(auto.CommandResult("", "no stack named 'dev' found", 255))
    code, lines = run_release(release_argv(work_dir))
    assert code == 3 and "pulumi stack init dev" in lines[-1]


def test_no_aws_credentials_exits_6_before_building_or_touching_pulumi(work_dir, world, aws_env, pulumi_cli,
                                                                       monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_NO_AWS_CREDENTIALS == 6
    assert "no AWS credentials found" in lines[-1] and "AWS_PROFILE" in lines[-1]
    assert "== artifacts" not in lines and world.calls == []


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_a_region_that_is_not_the_stacks_exits_7(work_dir, world, aws_env, pulumi_cli, monkeypatch, variable):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv(variable, "eu-west-1")
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_WRONG_REGION == 7
    assert "eu-west-1" in lines[-1] and "the stack's aws:region is us-east-1" in lines[-1]
    assert world.calls == []


LOCKED = auto.ConcurrentUpdateError(auto.CommandResult(
    "", "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete "
        "the lock file with `pulumi cancel`.", 255))


@pytest.mark.parametrize("operation", ["preview", "up"])
def test_a_stack_locked_by_another_update_exits_8_and_changes_nothing(work_dir, world, deployed, pulumi_cli,
                                                                      operation):
    world.errors[operation] = LOCKED
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_LOCKED == 8
    assert f"pulumi {operation}: the stack is locked by another update" in lines[-1]
    assert "rollback" not in "\n".join(lines) and deployed.ops("UpdateEndpoint") == []


def test_an_aws_authorization_error_during_up_is_a_failed_deployment_not_a_login_problem(work_dir, world, deployed,
                                                                                         pulumi_cli):
    world.errors["up"] = auto.CommandError(auto.CommandResult("", (
        "error: sdk-v2/provider2.go:520: creating SageMaker Endpoint: UnauthorizedOperation: 401 Unauthorized"), 255))
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_FAILED and any("pulumi up failed" in line for line in lines)


def test_the_pulumi_cli_found_is_the_one_on_path(pulumi_cli):
    from releasing.preflight import require_pulumi_cli

    assert require_pulumi_cli() == str(pulumi_cli)


def test_without_the_cli_the_failure_says_how_to_install_it(monkeypatch, tmp_path):
    from releasing.preflight import INSTALL_PULUMI, require_pulumi_cli

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(failures.ReleaseFailure) as f:
        require_pulumi_cli()
    assert f.value.code == failures.EXIT_PULUMI
    assert f.value.message == f"the Pulumi CLI is not installed (no `pulumi` on PATH): {INSTALL_PULUMI}"


@pytest.mark.parametrize(("region", "default"), [("us-east-1", "eu-west-1"), (None, None), (None, "us-east-1")],
                         ids=["AWS_REGION wins over the default", "no region configured", "the default agrees"])
def test_the_session_is_for_the_stacks_region(aws_env, monkeypatch, region, default):
    from releasing.preflight import aws_session

    for var, value in (("AWS_REGION", region), ("AWS_DEFAULT_REGION", default)):
        if value is None:
            monkeypatch.delenv(var)
        else:
            monkeypatch.setenv(var, value)
    session = aws_session("us-east-1")
    assert session.region_name == "us-east-1" and session.get_credentials().access_key == "testing"


def test_another_region_is_refused_naming_both(aws_env, monkeypatch):
    from releasing.preflight import aws_session

    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with pytest.raises(failures.ReleaseFailure) as f:
        aws_session("us-east-1")
    assert f.value.code == failures.EXIT_WRONG_REGION
    assert f.value.message == (
        "the AWS region configured here is eu-west-1 (AWS_REGION, AWS_DEFAULT_REGION or the profile's region), but "
        "the stack's aws:region is us-east-1; set AWS_REGION=us-east-1 (or unset it) so the release checks the "
        "endpoints the stack deploys")


def test_no_credentials_is_refused_saying_where_they_come_from(aws_env, monkeypatch):
    from releasing.preflight import aws_session

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(failures.ReleaseFailure) as f:
        aws_session("us-east-1")
    assert f.value.code == failures.EXIT_NO_AWS_CREDENTIALS
    assert f.value.message == (
        "no AWS credentials found (environment, ~/.aws/credentials, SSO, container or instance role); set "
        "AWS_PROFILE, run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
