"""--preview, --refresh, --destroy and confirmation: what each runs through the Automation API, and what not."""

from __future__ import annotations

from types import SimpleNamespace

from fake_artifacts import FakeBuilders, use_fake_builds
from release_helpers import release_argv, run_release

import release


def ops(world) -> list[str]:
    return [op for op, _ in world.calls]


def test_a_preview_builds_nothing_shows_the_plan_and_never_calls_up(world, aws_env, pulumi_cli, monkeypatch,
                                                                     tmp_path):
    builders = use_fake_builds(monkeypatch, tmp_path, FakeBuilders())
    code, lines = run_release(["dev", "--preview", "--refresh"])
    assert code == 0 and builders.built == [] and ops(world) == ["select", "refresh", "preview"]
    assert "  embeddings: not built yet (pulumi up builds it)" in lines
    assert world.calls[0][1]["work_dir"] == str(release.ROOT)
    assert "plan: create 4, update 2 (1 unchanged)" in lines
    step = next(line for line in lines if line.endswith(" embeddings-endpoint"))
    assert step.split() == ["update", "aws:sagemaker/endpoint:Endpoint", "embeddings-endpoint"]
    preview_kw = world.calls[2][1]
    assert callable(preview_kw["on_event"]) and callable(preview_kw["on_output"])


def test_refresh_runs_before_the_preview_and_up(work_dir, world, deployed, pulumi_cli):
    code, _ = run_release(release_argv(work_dir, "--refresh", "-m", "release 7"))
    assert code == 0 and ops(world) == ["select", "refresh", "preview", "up"]
    assert world.calls[-1][1]["message"] == "release 7"


def test_without_yes_and_without_a_tty_nothing_is_touched(work_dir, world, aws_env, pulumi_cli, monkeypatch):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    code, lines = run_release(["dev", "--work-dir", str(work_dir)])
    assert code == 2 and "pass --yes" in lines[-1] and world.calls == []


def test_a_declined_confirmation_deploys_nothing_after_showing_the_plan(work_dir, world, deployed, pulumi_cli,
                                                                         monkeypatch):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: True))
    code, lines = run_release(["dev", "--work-dir", str(work_dir)], answer="n")
    assert code == 2 and lines[-1] == "cancelled" and ops(world) == ["select", "preview"]


def test_destroy_asks_for_the_stack_name_and_explains_protection(work_dir, world, aws_env, pulumi_cli, monkeypatch):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: True))
    world.stack = "guarded"
    code, lines = run_release(["guarded", "--destroy", "--work-dir", str(work_dir)], answer="yes")
    text = "\n".join(lines)
    assert code == 2 and lines[-1] == "cancelled" and "destroy" not in ops(world)
    assert "endpoints and KMS key are protected" in text and "pulumi state unprotect -s guarded" in text
    assert "not force-emptied" in text
    code, lines = run_release(["guarded", "--destroy", "--work-dir", str(work_dir)], answer="guarded")
    assert code == 0 and ops(world)[-1] == "destroy" and lines[-1] == "guarded: destroy succeeded"


def test_destroy_of_an_unprotected_stack_with_yes_does_not_ask(work_dir, world, aws_env, pulumi_cli):
    code, lines = run_release(["dev", "--destroy", "--yes", "--work-dir", str(work_dir)])
    assert code == 0 and ops(world) == ["select", "destroy"]
    assert "protection: none" in "\n".join(lines)


def test_build_only_touches_neither_pulumi_nor_aws(world, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no CLI, no credentials needed
    builders = use_fake_builds(monkeypatch, tmp_path, FakeBuilders())
    code, lines = run_release(["dev", "--build-only"])
    assert code == 0 and [r["kind"] for r in builders.built] == ["embeddings", "sklearn"] and world.calls == []
    building = [line for line in lines if line.startswith("building the ")]  # each build says so, in its stage
    assert [line.split()[2] for line in building] == ["embeddings", "sklearn"]
    assert lines.index(building[0]) > lines.index("== artifacts")


def test_a_destroy_stopped_by_protection_says_what_to_do(work_dir, world, aws_env, pulumi_cli):
    from pulumi import automation as auto

    world.stack = "guarded"
    world.errors["destroy"] = auto.CommandError(auto.CommandResult("", (
        "error: resource urn:pulumi:guarded::sls-endpoints::aws:sagemaker/endpoint:Endpoint::embeddings-endpoint "
        "cannot be deleted because it is protected"), 255))
    code, lines = run_release(["guarded", "--destroy", "--yes", "--work-dir", str(work_dir)])
    assert code == 1 and "cannot be deleted because it is protected" in lines[-1]
    assert "`pulumi state unprotect -s guarded <urn>`" in lines[-1]
