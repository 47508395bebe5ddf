"""releasing/flow.py, stage by stage, against the fake SageMaker and the fake Automation API: what each stage says,
what it passes on (message, confirmation, the build flag), how a failure in one endpoint leaves the others
checked, which exit code wins, and what the summary and the final report say."""

from __future__ import annotations

import boto3
import pytest
import yaml
from fake_artifacts import FakeBuilders, use_fake_builds
from fake_sagemaker import FAILED_REASON, error
from release_helpers import release_argv, run_release

import release
from releasing import failures, flow, retention
from releasing.live import sagemaker_client
from releasing.preflight import aws_session
from releasing.smoke import smoke_test


def stage_lines(lines: list[str]) -> list[str]:
    return [line[3:] for line in lines if line.startswith("== ")]


def run_with_prompts(argv: list[str], answer: str) -> tuple[int, list[str], list[str]]:
    lines: list[str] = []
    prompts: list[str] = []

    def confirm(prompt: str) -> str:
        prompts.append(prompt)
        return answer

    code = release.main(argv, confirm=confirm, out=lambda *a: lines.append(" ".join(map(str, a))))
    return code, lines, prompts


def summary_rows(lines: list[str]) -> dict[str, list[str]]:
    header = next(i for i, line in enumerate(lines) if line.startswith("endpoint "))
    return {line.split()[0]: line.split() for line in lines[header + 2:header + 4]}


def test_validate_and_artifacts_say_what_the_stack_holds(work_dir, world, deployed, pulumi_cli):
    code, lines = run_release(release_argv(work_dir))
    assert code == 0
    assert lines[1] == "dev: config valid (2 endpoint(s), us-east-1)"
    i = lines.index("dev: artifacts:")
    assert lines[i + 1].startswith("  embeddings: sha256 ") and lines[i + 1].endswith(f"at {work_dir / 'e.tar.gz'}")
    assert lines[i + 2].startswith("  call-time: sha256 ") and lines[i + 2].endswith(f"at {work_dir / 'c.tar.gz'}")


def test_build_only_says_where_pulumi_up_finds_the_artifacts(work_dir, world, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, lines = run_release(["dev", "--build-only", "--work-dir", str(work_dir)])
    assert code == 0 and world.calls == []
    assert lines[-1] == "dev: built; `pulumi up` (or `python release.py dev`) finds these in the artifact cache"


@pytest.mark.parametrize(("extra", "what"), [([], "deploy"), (["--destroy"], "destroy")])
def test_without_yes_or_a_tty_it_refuses_saying_what_it_would_have_done(work_dir, world, aws_env, pulumi_cli,
                                                                        monkeypatch, extra, what):
    from types import SimpleNamespace

    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    code, lines = run_release(["dev", "--work-dir", str(work_dir), *extra])
    assert code == failures.EXIT_USAGE and world.calls == []
    assert lines[-1] == f"error: refusing to {what} without confirmation; pass --yes (or --preview)"


def test_a_preview_needs_no_confirmation_even_without_a_tty(work_dir, world, deployed, pulumi_cli, monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    code, _ = run_release(["dev", "--preview", "--work-dir", str(work_dir)])
    assert code == 0 and [op for op, _ in world.calls] == ["select", "preview"]


@pytest.mark.parametrize("answer", ["y", " YES\n", "Yes"])
def test_a_confirmed_deploy_asks_once_naming_stack_and_region(work_dir, world, deployed, pulumi_cli, monkeypatch,
                                                              answer):
    from types import SimpleNamespace

    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: True))
    code, lines, prompts = run_with_prompts(["dev", "--work-dir", str(work_dir), "--wait-delay", "0", "--warm", "1"],
                                            answer)
    assert code == 0, "\n".join(lines)
    assert prompts == ["deploy stack dev to us-east-1? [y/N] "]
    assert [op for op, _ in world.calls] == ["select", "preview", "up"]


def test_the_message_goes_with_the_preview_and_the_up_and_each_streams_its_output(work_dir, world, deployed,
                                                                                  pulumi_cli):
    code, lines = run_release(release_argv(work_dir, "--refresh", "-m", "release 7"))
    assert code == 0
    kw = dict(world.calls)
    assert kw["preview"]["message"] == "release 7" and kw["up"]["message"] == "release 7"
    for op in ("refresh", "preview", "up"):
        assert f"[fake pulumi {op}]" in lines


def test_a_destroy_builds_nothing(world, aws_env, pulumi_cli, monkeypatch, tmp_path):
    builders = use_fake_builds(monkeypatch, tmp_path, FakeBuilders())
    code, lines = run_release(["dev", "--destroy", "--yes"])
    assert code == 0 and builders.built == []
    assert "  embeddings: not built yet (pulumi up builds it)" in lines


def test_destroy_says_what_goes_and_reports_the_result(work_dir, world, aws_env, pulumi_cli):
    code, lines = run_release(["dev", "--destroy", "--yes", "--work-dir", str(work_dir), "-m", "bye"])
    assert code == 0
    assert "destroy stack dev (us-east-1): every endpoint, model, config, role and the artifacts." in lines
    assert ("  protection: none (sls-endpoints:protect is false); the artifact bucket is emptied and deleted."
            in lines)
    assert lines[-1] == "dev: destroy succeeded" and dict(world.calls)["destroy"]["message"] == "bye"
    assert "[fake pulumi destroy]" in lines and any(line.startswith("-- destroy: ok (") for line in lines)


def test_a_destroy_that_does_not_succeed_exits_1(work_dir, world, aws_env, pulumi_cli):
    world.destroy_result = "failed"
    code, lines = run_release(["dev", "--destroy", "--yes", "--work-dir", str(work_dir)])
    assert code == failures.EXIT_FAILED and lines[-1] == "dev: destroy failed"


def test_destroying_a_protected_stack_asks_for_its_name_and_says_what_protection_stops(work_dir, world, aws_env,
                                                                                     pulumi_cli, monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: True))
    world.stack = "guarded"
    code, lines, prompts = run_with_prompts(["guarded", "--destroy", "--work-dir", str(work_dir)], " guarded \n")
    assert code == 0 and prompts == ["type the stack name (guarded) to destroy it: "]
    assert ("  protection: this stack sets sls-endpoints:protect: true, so its endpoints and KMS key are protected "
            "and the destroy stops at them; unprotect on purpose first (`pulumi state unprotect -s guarded <urn>`). "
            "The artifact bucket is not force-emptied, so it stays while artifacts remain.") in lines


def test_a_destroy_that_fails_for_another_reason_gets_no_protection_advice(work_dir, world, aws_env, pulumi_cli):
    from pulumi import automation as auto

    world.errors["destroy"] = auto.CommandError(auto.CommandResult("", "error: AccessDenied on DeleteBucket", 255))
    code, lines = run_release(["dev", "--destroy", "--yes", "--work-dir", str(work_dir)])
    assert code == failures.EXIT_FAILED
    assert "AccessDenied on DeleteBucket" in lines[-1] and "protected resources" not in lines[-1]
    assert any(line.startswith("-- destroy: failed (") for line in lines)


def test_a_protected_destroy_failure_says_what_is_gone_and_how_to_remove_the_rest(work_dir, world, aws_env,
                                                                                  pulumi_cli):
    from pulumi import automation as auto

    world.stack = "guarded"
    world.errors["destroy"] = auto.CommandError(auto.CommandResult("", "error: it is protected", 255))
    code, lines = run_release(["guarded", "--destroy", "--yes", "--work-dir", str(work_dir)])
    assert code == failures.EXIT_FAILED
    assert lines[-1].endswith(
        "error: it is protected -- the destroy stopped at protected resources (sls-endpoints:protect); what was not "
        "protected is gone. To remove the rest on purpose: `pulumi state unprotect -s guarded <urn>` for each, then "
        "run --destroy again")


def autoscale_embeddings(work_dir) -> None:
    cfg = yaml.safe_load((work_dir / "Pulumi.dev.yaml").read_text())
    ep = cfg["config"]["sls-endpoints:endpoints"][0]
    ep["serverless"].update(provisioned_concurrency=2)
    ep["scaling"] = {"min_capacity": 1, "max_capacity": 5}
    (work_dir / "Pulumi.dev.yaml").write_text(yaml.safe_dump(cfg))


def test_the_live_provisioned_concurrency_is_recorded_before_up(work_dir, world, deployed, pulumi_cli):
    autoscale_embeddings(work_dir)
    deployed.provisioned["embeddings-dev"] = 4
    code, lines = run_release(release_argv(work_dir))
    assert code == 0
    i = lines.index("== record live state")
    assert "  embeddings-dev: provisioned concurrency {'AllTraffic': 4} (autoscaled; restored after the update)" in \
        lines[i:lines.index("== up")]


def test_an_autoscaled_endpoint_without_provisioned_concurrency_yet_has_nothing_recorded_or_restored(
        work_dir, world, deployed, pulumi_cli):
    autoscale_embeddings(work_dir)
    code, lines = run_release(release_argv(work_dir))
    assert code == 0
    assert not any("(autoscaled; restored after the update)" in line for line in lines)
    assert "  embeddings-dev: nothing to restore (no provisioned concurrency before the release)" in lines
    assert deployed.ops("UpdateEndpointWeightsAndCapacities") == []


def test_a_provisioned_concurrency_that_cannot_be_restored_leaves_the_release_standing(work_dir, world, deployed,
                                                                                      pulumi_cli, monkeypatch):
    autoscale_embeddings(work_dir)
    deployed.provisioned["embeddings-dev"] = 4
    monkeypatch.setattr(deployed, "_UpdateEndpointWeightsAndCapacities",
                        lambda params: error("ValidationException", "Cannot update in-progress endpoint"))
    code, lines = run_release(release_argv(work_dir))
    assert code == 0 and lines[-1] == "dev: released"
    line = next(line for line in lines if "provisioned concurrency not restored" in line)
    assert line.startswith("  embeddings-dev: provisioned concurrency not restored (An error occurred "
                           "(ValidationException)")
    assert line.endswith("Cannot update in-progress endpoint); autoscaling will adjust it")
    assert any(line.startswith("-- capacity: failed (") for line in lines)
    assert "retention" in stage_lines(lines)


def test_no_capacity_stage_without_autoscaled_endpoints(work_dir, world, deployed, pulumi_cli):
    code, lines = run_release(release_argv(work_dir))
    assert code == 0 and "capacity" not in stage_lines(lines) and "scaling" not in stage_lines(lines)


def test_a_verified_release_says_what_retention_kept_and_pruned(work_dir, world, deployed, pulumi_cli):
    cfg = yaml.safe_load((work_dir / "Pulumi.dev.yaml").read_text())
    cfg["config"]["sls-endpoints:releases_kept"] = 1
    (work_dir / "Pulumi.dev.yaml").write_text(yaml.safe_dump(cfg))
    code, lines = run_release(release_argv(work_dir))
    assert code == 0
    assert "  embeddings-dev: keeps 1 release(s); pruned 1 config(s), 1 model(s), 0 artifact(s)" in lines
    assert "  call-time-dev: keeps 1 release(s); pruned 1 config(s), 1 model(s), 0 artifact(s)" in lines


def test_retention_prunes_with_the_stacks_tags_keep_and_bucket(work_dir, world, deployed, pulumi_cli, monkeypatch):
    calls = []

    def prune(sm, s3, ep, **kw):
        calls.append((ep, kw, s3.meta.service_model.service_name))
        return retention.Pruned(kept_configs=["x"])

    monkeypatch.setattr(retention, "prune", prune)
    cfg = yaml.safe_load((work_dir / "Pulumi.dev.yaml").read_text())
    cfg["config"]["sls-endpoints:releases_kept"] = 4
    (work_dir / "Pulumi.dev.yaml").write_text(yaml.safe_dump(cfg))
    code, lines = run_release(release_argv(work_dir))
    assert code == 0
    ep, kw, service = calls[0]
    assert ep == retention.Endpoint("embeddings", "embeddings-dev", "embeddings-config-r2", "b-1")
    assert kw["keep"] == 4 and kw["tags"] == {"project": "sls-endpoints", "stack": "dev"} and service == "s3"
    assert kw["log"] is not None and "dry_run" not in kw
    assert "  embeddings-dev: keeps 1 release(s); pruned 0 config(s), 0 model(s), 0 artifact(s)" in lines


def test_a_retention_failure_is_reported_and_the_release_stands(work_dir, world, deployed, pulumi_cli):
    boto3.client("s3").delete_bucket(Bucket="b-1")
    code, lines = run_release(release_argv(work_dir))
    assert code == 0 and lines[-1] == "dev: released"
    line = next(line for line in lines if line.startswith("  embeddings-dev: not pruned ("))
    assert "NoSuchBucket" in line and line.endswith("; the next release tries again")
    assert any(line.startswith("  call-time-dev: not pruned (") for line in lines)  # the next one is still tried


def test_without_a_bucket_output_nothing_is_pruned(work_dir, world, deployed, pulumi_cli):
    world.left_out = {"artifact_bucket"}
    code, lines = run_release(release_argv(work_dir))
    assert code == 0
    assert "  embeddings-dev: not pruned (the stack's outputs name no bucket or config)" in lines
    assert "  call-time-dev: not pruned (the stack's outputs name no bucket or config)" in lines


def test_an_up_that_does_not_succeed_exits_1_and_rolls_back(work_dir, world, deployed, pulumi_cli):
    world.up_result = "failed"
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_FAILED
    assert "error: pulumi up ended 'failed'" in lines
    assert stage_lines(lines)[-2:] == ["rollback", "summary"]


def test_an_endpoint_missing_from_the_outputs_cannot_be_verified_and_is_rolled_back(work_dir, world, deployed,
                                                                                     pulumi_cli):
    world.left_out = {"call-time"}
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_FAILED
    assert ("error: the stack's `endpoints` output does not name call-time-dev: the release cannot verify what it "
            "does not know") in lines
    assert "  call-time-dev: ok: rolled back to call-time-config-r1, InService (verified live)" in lines
    assert "verify" not in stage_lines(lines)


def test_every_endpoint_is_verified_and_the_first_failures_code_wins(work_dir, world, deployed, pulumi_cli):
    deployed.next_outcome["embeddings-dev"] = "fail"
    deployed.next_outcome["call-time-dev"] = "rollback"
    code, lines = run_release(release_argv(work_dir))
    text = "\n".join(lines)
    assert code == failures.EXIT_ENDPOINT_FAILED, text  # embeddings is declared first
    assert (f"  embeddings-dev: endpoint embeddings-dev is Failed: {FAILED_REASON}; its logs are in the CloudWatch "
            "log group /aws/sagemaker/Endpoints/embeddings-dev") in lines
    assert any(line.startswith("  call-time-dev: endpoint call-time-dev serves config call-time-config-r1, but")
               for line in lines)
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors[0].startswith("error: endpoint embeddings-dev is Failed") and "call-time-dev serves" in errors[1]
    assert "  embeddings-dev: ok: rolled back to embeddings-config-r1, InService (verified live)" in lines
    assert lines[-1] == ("note: the stack's state still names the new configs; the next release (or --refresh) "
                         "reconciles it")
    rows = summary_rows(lines)
    # not smoke-tested; the live (rolled back) config, and no artifact: the declared one is not what it serves
    assert rows["embeddings-dev"][1:] == ["InService", "-", "embeddings-config-r1", "-", "-"]


def test_no_note_about_the_stack_state_when_nothing_was_updated_back(work_dir, world, deployed, pulumi_cli):
    from pulumi import automation as auto

    world.errors["up"] = auto.CommandError(auto.CommandResult("", "error: boom", 255))
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_FAILED and deployed.ops("UpdateEndpoint") == []
    assert lines[-1] == ("now: embeddings-dev InService on config embeddings-config-r1; call-time-dev InService on "
                         "config call-time-config-r1")
    assert not any(line.startswith(("note: ", "error: the rollback")) for line in lines)


def test_a_release_whose_rollback_fails_names_every_endpoint_left_behind(work_dir, world, deployed, pulumi_cli):
    deployed.next_outcome["embeddings-dev"] = "rollback"
    world.delete_previous_configs = True
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_ROLLBACK_FAILED
    bad = next(line for line in lines if line.startswith("error: the rollback did not put every endpoint back: "))
    assert "embeddings-dev: serves embeddings-config-r1, which no longer exists" in bad
    assert "; call-time-dev: cannot roll back: its previous config call-time-config-r1 no longer exists" in bad
    assert any(line.startswith("  embeddings-dev: FAILED: serves embeddings-config-r1") for line in lines)
    assert any(line.startswith("-- rollback: failed (") for line in lines)
    assert not any(line.startswith("note: ") for line in lines)
    assert lines[-1].startswith("now: embeddings-dev InService on config embeddings-config-r1; FailureReason: ")
    assert lines[-1].endswith("; call-time-dev InService on config call-time-config-r2")


def test_a_first_release_that_fails_in_up_shows_the_endpoints_missing(work_dir, world, sagemaker, pulumi_cli):
    from pulumi import automation as auto

    world.errors["up"] = auto.CommandError(auto.CommandResult("", "error: boom", 255))
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_FAILED
    rows = summary_rows(lines)
    assert rows["embeddings-dev"] == ["embeddings-dev", "missing", "-", "-", "-", "-"]
    assert "  embeddings-dev: ok: created by this release, nothing to return to; now does not exist" in lines
    assert lines[-1] == "now: embeddings-dev does not exist; call-time-dev does not exist"


def test_a_smoke_failure_names_the_endpoint_and_the_failed_checks_and_the_other_is_still_tested(
        work_dir, world, deployed, pulumi_cli, tmp_path):
    deployed.serve("embeddings-dev", tmp_path / "broken", "embedder", normalize=False)
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_SMOKE_FAILED
    rows = summary_rows(lines)
    assert rows["embeddings-dev"][1:4] == ["InService,", "smoke", "FAILED"]
    assert rows["call-time-dev"][1:4] == ["InService,", "smoke", "ok"]
    assert rows["embeddings-dev"][5] == "embeddings-config-r1"  # rolled back before the summary


@pytest.mark.parametrize("operation", ["refresh", "preview"])
def test_a_failed_refresh_or_preview_exits_1_naming_it_and_deploys_nothing(work_dir, world, deployed, pulumi_cli,
                                                                           operation):
    from pulumi import automation as auto

    world.errors[operation] = auto.CommandError(auto.CommandResult("", "error: boom", 255))
    code, lines = run_release(release_argv(work_dir, "--refresh"))
    assert code == failures.EXIT_FAILED
    assert lines[-1] == f"error: pulumi {operation} failed: code: 255 stdout: stderr: error: boom"
    assert stage_lines(lines)[-1] == operation and "up" not in [op for op, _ in world.calls]


def test_the_stages_of_a_release_with_refresh_and_a_destroy(work_dir, world, deployed, pulumi_cli):
    code, lines = run_release(release_argv(work_dir, "--refresh"))
    assert code == 0
    assert stage_lines(lines)[:5] == ["validate", "artifacts", "pulumi", "refresh", "preview"]
    code, lines = run_release(["dev", "--destroy", "--yes", "--work-dir", str(work_dir)])
    assert code == 0 and stage_lines(lines) == ["validate", "artifacts", "pulumi", "destroy"]


def test_a_failed_destroy_is_named(work_dir, world, aws_env, pulumi_cli):
    from pulumi import automation as auto

    world.errors["destroy"] = auto.CommandError(auto.CommandResult("", "error: AccessDenied", 255))
    code, lines = run_release(["dev", "--destroy", "--yes", "--work-dir", str(work_dir)])
    assert code == failures.EXIT_FAILED
    assert lines[-1] == "error: pulumi destroy failed: code: 255 stdout: stderr: error: AccessDenied"


def test_the_smoke_test_reuses_the_releases_session_and_client_and_sends_the_warm_requests_asked(
        work_dir, world, deployed, pulumi_cli, monkeypatch):
    """One session per release: a profile that assumes a role with MFA asks once, not again for the smoke test."""
    sessions, clients, calls = [], [], []
    monkeypatch.setattr(flow, "aws_session", lambda region: sessions.append(aws_session(region)) or sessions[-1])
    monkeypatch.setattr(flow, "sagemaker_client", lambda s: clients.append(sagemaker_client(s)) or clients[-1])
    monkeypatch.setattr(flow, "smoke_test", lambda target, **kw: calls.append(kw) or smoke_test(target, **kw))
    code, _ = run_release(release_argv(work_dir, "--warm", "2"))
    assert code == 0 and len(sessions) == 1 and len(clients) == 1 and len(calls) == 2
    assert all(kw["session"] is sessions[0] and kw["sagemaker_client"] is clients[0] for kw in calls)
    assert [kw["warm"] for kw in calls] == [2, 2]


def test_a_preview_without_step_events_shows_its_change_summary(work_dir, world, deployed, pulumi_cli):
    world.preview_events = False
    code, lines = run_release(release_argv(work_dir, "--preview"))
    assert code == 0 and "plan: create 4, update 2 (1 unchanged)" in lines
