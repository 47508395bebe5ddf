"""The whole release against the fake SageMaker (moto + recorded front, real HTTP) and the fake Automation API:
what runs in which order, what is verified live, when it rolls back, and what it exits with."""

from __future__ import annotations

import boto3
import pytest
import yaml
from fake_sagemaker import FAILED_REASON, ROLLED_BACK_REASON
from release_helpers import release_argv, run_release

from releasing import failures


def live_configs(sagemaker) -> dict[str, str]:
    sm = boto3.client("sagemaker")
    return {n: sm.describe_endpoint(EndpointName=n)["EndpointConfigName"] for n in ("embeddings-dev", "call-time-dev")}


def stage_lines(lines: list[str]) -> list[str]:
    return [line[3:] for line in lines if line.startswith("== ")]


def test_happy_path_deploys_verifies_smoke_tests_and_summarises(work_dir, world, deployed, pulumi_cli):
    code, lines = run_release(release_argv(work_dir))
    text = "\n".join(lines)
    assert code == failures.EXIT_OK, text
    assert stage_lines(lines) == ["validate", "artifacts", "pulumi", "preview", "record live state", "up", "verify",
                                  "smoke test", "retention", "summary"]  # pruning only after a verified release
    assert all(any(line.startswith(f"-- {s}: ok (") for line in lines) for s in stage_lines(lines))
    assert [op for op, _ in world.calls] == ["select", "preview", "up"]
    assert live_configs(deployed) == {"embeddings-dev": "embeddings-config-r2",
                                      "call-time-dev": "call-time-config-r2"}
    assert "  embeddings-dev: InService on config embeddings-config-r1" in lines  # recorded before up
    assert "  embeddings-dev: InService on config embeddings-config-r2 (as declared)" in lines
    header = next(i for i, line in enumerate(lines) if line.startswith("endpoint "))
    assert lines[header].split() == ["endpoint", "status", "artifact", "sha256", "config", "cold", "ms", "warm", "ms"]
    row = lines[header + 2].split()
    assert row[:4] == ["embeddings-dev", "InService,", "smoke", "ok"] and row[5] == "embeddings-config-r2"
    assert row[4] == "02ababababab..." and all(float(x) >= 0 for x in row[6:8])
    assert lines[-1] == "dev: released" and "UpdateEndpoint back" not in text
    assert any(line.startswith("  embeddings-dev: keeps ") for line in lines), text  # retention ran, and held



def test_a_verified_release_prunes_what_lies_beyond_the_releases_kept(work_dir, world, deployed, pulumi_cli):
    cfg = yaml.safe_load((work_dir / "Pulumi.dev.yaml").read_text())
    cfg["config"]["sls-endpoints:releases_kept"] = 1
    (work_dir / "Pulumi.dev.yaml").write_text(yaml.safe_dump(cfg))
    sm = boto3.client("sagemaker")
    assert run_release(release_argv(work_dir))[0] == failures.EXIT_OK  # release 2: keeps r2 (live); r1 goes
    configs = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
    assert configs == {"embeddings-config-r2", "call-time-config-r2"}
    assert {m["ModelName"] for m in sm.list_models()["Models"]} == {"embeddings-model-r2", "call-time-model-r2"}


@pytest.mark.parametrize(("live", "restored"), [(4, 4), (9, 5)], ids=["as it was", "held to max_capacity"])
def test_autoscaled_provisioned_concurrency_survives_the_update(work_dir, world, deployed, pulumi_cli, live,
                                                                 restored):
    """The provider never sets RetainAllVariantProperties: the update resets what autoscaling set; the release
    puts it back (within the scaling bounds) once the new version is verified."""
    cfg = yaml.safe_load((work_dir / "Pulumi.dev.yaml").read_text())
    ep = cfg["config"]["sls-endpoints:endpoints"][0]
    ep["serverless"].update(provisioned_concurrency=2)
    ep["scaling"] = {"min_capacity": 1, "max_capacity": 5}
    (work_dir / "Pulumi.dev.yaml").write_text(yaml.safe_dump(cfg))
    deployed.provisioned["embeddings-dev"] = live  # autoscaling had scaled out under load
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_OK, "\n".join(lines)
    assert "capacity" in stage_lines(lines)
    (call,) = deployed.ops("UpdateEndpointWeightsAndCapacities")
    assert call[1]["DesiredWeightsAndCapacities"] == [
        {"VariantName": "AllTraffic", "ServerlessUpdateConfig": {"ProvisionedConcurrency": restored}}]
    assert deployed.provisioned["embeddings-dev"] == restored
    assert any(f"provisioned concurrency back to {{'AllTraffic': {restored}}}" in line for line in lines)


def test_a_scalable_target_the_plan_replaces_is_deregistered_before_up(work_dir, world, deployed, pulumi_cli):
    """SageMaker refuses to change an autoscaled variant's capacity while its target is registered, and Pulumi
    would replace the target only after updating the endpoint: the release deregisters it first."""
    aas = boto3.client("application-autoscaling")
    rid = "endpoint/embeddings-dev/variant/AllTraffic"
    # an instance endpoint moving to serverless (moto knows the instance-count dimension only)
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, MinCapacity=1, MaxCapacity=5,
                                 ScalableDimension="sagemaker:variant:DesiredInstanceCount")
    world.extra_steps = [("replace", "aws:appautoscaling/target:Target", "embeddings-scaling-target")]
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_OK, "\n".join(lines)
    assert stage_lines(lines).index("scaling") < stage_lines(lines).index("up")
    assert aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])["ScalableTargets"] == []
    assert any("embeddings-dev: deregistered its scalable target" in line for line in lines)


def test_a_failed_release_prunes_nothing(work_dir, world, deployed, pulumi_cli, tmp_path):
    cfg = yaml.safe_load((work_dir / "Pulumi.dev.yaml").read_text())
    cfg["config"]["sls-endpoints:releases_kept"] = 1
    (work_dir / "Pulumi.dev.yaml").write_text(yaml.safe_dump(cfg))
    deployed.serve("embeddings-dev", tmp_path / "broken", "embedder", normalize=False)
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_SMOKE_FAILED and "retention" not in stage_lines(lines)
    configs = {c["EndpointConfigName"] for c in boto3.client("sagemaker").list_endpoint_configs()["EndpointConfigs"]}
    assert {"embeddings-config-r1", "embeddings-config-r2"} <= configs  # the rollback target and the new one


def test_a_failed_smoke_test_rolls_every_endpoint_back_and_exits_13(work_dir, world, deployed, pulumi_cli, tmp_path):
    deployed.serve("embeddings-dev", tmp_path / "broken", "embedder", normalize=False)  # the new model is wrong
    code, lines = run_release(release_argv(work_dir))
    text = "\n".join(lines)
    assert code == failures.EXIT_SMOKE_FAILED == 13, text
    assert stage_lines(lines)[-3:] == ["smoke test", "rollback", "summary"]
    assert "-- smoke test: failed (" in text and "  endpoint call-time-dev (region us-east-1): kind sklearn" in lines
    # the stage ran to the end: every endpoint was tested
    assert "error: endpoint embeddings-dev failed its smoke test: unit norm: norm " in text
    assert [p for _, p in deployed.ops("UpdateEndpoint")][-2:] == [
        {"EndpointName": "embeddings-dev", "EndpointConfigName": "embeddings-config-r1"},
        {"EndpointName": "call-time-dev", "EndpointConfigName": "call-time-config-r1"}]
    assert live_configs(deployed) == {"embeddings-dev": "embeddings-config-r1",
                                      "call-time-dev": "call-time-config-r1"}
    assert "  embeddings-dev: ok: rolled back to embeddings-config-r1, InService (verified live)" in lines
    assert lines[-2].startswith("now: embeddings-dev InService on config embeddings-config-r1; call-time-dev "
                                "InService on config call-time-config-r1")


def test_the_providers_silent_rollback_is_detected_and_exits_12(work_dir, world, deployed, pulumi_cli):
    deployed.next_outcome["embeddings-dev"] = "rollback"  # SageMaker rolls the update back; `up` says succeeded
    code, lines = run_release(release_argv(work_dir))
    text = "\n".join(lines)
    assert code == failures.EXIT_LIVE_MISMATCH == 12, text
    assert ("endpoint embeddings-dev serves config embeddings-config-r1, but the stack declared "
            "embeddings-config-r2") in text
    assert ROLLED_BACK_REASON in text and "/aws/sagemaker/Endpoints/embeddings-dev" in text
    assert "smoke test" not in stage_lines(lines) and any(line.startswith("-- verify: failed (") for line in lines)
    assert "  embeddings-dev: ok: already serves its previous config embeddings-config-r1" in text
    assert live_configs(deployed)["call-time-dev"] == "call-time-config-r1"  # the release is undone as a whole


def test_a_silent_rollback_onto_a_deleted_config_is_a_failed_rollback_named_as_such(work_dir, world, deployed,
                                                                                  pulumi_cli):
    deployed.next_outcome["embeddings-dev"] = "rollback"
    world.delete_previous_configs = True  # what the provider does without the stack's config retention
    code, lines = run_release(release_argv(work_dir))
    text = "\n".join(lines)
    assert code == failures.EXIT_ROLLBACK_FAILED == 14, text
    assert ("embeddings-dev: FAILED: serves embeddings-config-r1, which no longer exists: the next deploy will "
            "fail with 'Could not find endpoint configuration'") in text
    assert "cannot roll back: its previous config call-time-config-r1 no longer exists" in text


def test_an_endpoint_that_ends_failed_gives_its_reason_and_log_group_and_exits_10(work_dir, world, deployed,
                                                                                  pulumi_cli):
    deployed.next_outcome["call-time-dev"] = "fail"
    code, lines = run_release(release_argv(work_dir))
    text = "\n".join(lines)
    assert code == failures.EXIT_ENDPOINT_FAILED == 10, text
    assert (f"error: endpoint call-time-dev is Failed: {FAILED_REASON}; its logs are in the CloudWatch log group "
            "/aws/sagemaker/Endpoints/call-time-dev") in lines
    assert live_configs(deployed)["call-time-dev"] == "call-time-config-r1"
    assert "  call-time-dev: ok: rolled back to call-time-config-r1, InService (verified live)" in lines


def test_a_creation_that_times_out_exits_11_and_says_there_is_nothing_to_roll_back_to(work_dir, world, sagemaker,
                                                                                       pulumi_cli):
    sagemaker.next_outcome["embeddings-dev"] = "stuck"  # a first release: the endpoints do not exist yet
    code, lines = run_release(release_argv(work_dir) + ["--wait-attempts", "3"])
    text = "\n".join(lines)
    assert code == failures.EXIT_TIMEOUT == 11, text
    assert "endpoint embeddings-dev is still Creating after 0 s (3 polls every 0 s); raise --wait-attempts" in text
    assert "  embeddings-dev: does not exist" in lines  # recorded before up
    assert "embeddings-dev: ok: created by this release, nothing to return to; now Creating" in text
    assert sagemaker.ops("UpdateEndpoint") == []


def test_a_plan_that_replaces_an_endpoint_is_refused_unless_allowed(work_dir, world, deployed, pulumi_cli):
    world.plan_ops["embeddings"] = "replace"
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_REFUSED == 9
    assert "the plan replaces embeddings-endpoint" in lines[-1] and "--allow-replace" in lines[-1]
    assert [op for op, _ in world.calls] == ["select", "preview"] and deployed.ops("UpdateEndpoint") == []
    code, lines = run_release(release_argv(work_dir, "--allow-replace"))
    assert code == 0 and lines[-1] == "dev: released"


def test_a_plan_that_deletes_an_endpoint_is_refused_in_a_preview_too(work_dir, world, deployed, pulumi_cli):
    world.plan_ops["call-time"] = "delete"
    code, lines = run_release(["dev", "--preview", "--work-dir", str(work_dir)])
    assert code == 9 and "the plan deletes call-time-endpoint" in lines[-1]
    assert "  delete             aws:sagemaker/endpoint:Endpoint" in "\n".join(lines)


def test_a_failed_up_rolls_back_what_it_changed_and_exits_1(work_dir, world, deployed, pulumi_cli):
    from pulumi import automation as auto

    world.errors["up"] = auto.CommandError(auto.CommandResult("", "error: update failed: AccessDenied", 255))
    code, lines = run_release(release_argv(work_dir))
    text = "\n".join(lines)
    assert code == failures.EXIT_FAILED == 1, text
    assert "error: pulumi up failed:" in text and "AccessDenied" in text
    assert stage_lines(lines)[-3:] == ["up", "rollback", "summary"]
    assert "embeddings-dev: ok: already serves its previous config embeddings-config-r1" in text


def test_a_cold_start_is_waited_out_by_the_smoke_test_and_counted_in_the_cold_figure(work_dir, world, deployed,
                                                                                     pulumi_cli, tmp_path):
    deployed.serve("call-time-dev", tmp_path / "cold", "scorer", cold_start_s=0.5)  # ModelNotReadyException first
    code, lines = run_release(release_argv(work_dir))
    assert code == 0, "\n".join(lines)
    start = lines.index("  endpoint call-time-dev (region us-east-1): kind sklearn")
    cold = next(line for line in lines[start:] if "cold vs warm" in line)
    assert "PASS" in cold and "ModelNotReady " in cold
    assert "ModelNotReady 0)" not in cold


def test_an_endpoint_whose_live_state_cannot_be_read_is_not_deployed(work_dir, world, deployed, pulumi_cli,
                                                                     monkeypatch):
    monkeypatch.setattr(deployed, "_DescribeEndpoint", lambda params: (400, {
        "__type": "AccessDeniedException", "message": "not authorized to perform sagemaker:DescribeEndpoint"}))
    code, lines = run_release(release_argv(work_dir))
    assert code == failures.EXIT_FAILED and "up" not in [op for op, _ in world.calls]
    assert "cannot read the live state of embeddings-dev (AccessDeniedException" in lines[-1]
    assert "could not be rolled back, so nothing was deployed" in lines[-1]


def test_a_rollback_that_sagemaker_refuses_exits_14_naming_the_endpoints_state(work_dir, world, deployed,
                                                                               pulumi_cli, monkeypatch):
    from fake_sagemaker import error

    update = deployed._UpdateEndpoint

    def refuse_failed(params: dict):  # in case SageMaker will not update a Failed endpoint
        if deployed.live[params["EndpointName"]].current()[0] == "Failed":
            return error("ValidationException", "Cannot update failed endpoint.")
        return update(params)

    monkeypatch.setattr(deployed, "_UpdateEndpoint", refuse_failed)
    deployed.next_outcome["call-time-dev"] = "fail"
    code, lines = run_release(release_argv(work_dir))
    text = "\n".join(lines)
    assert code == failures.EXIT_ROLLBACK_FAILED == 14, text
    assert "call-time-dev: FAILED: UpdateEndpoint to call-time-config-r1 was refused" in text
    assert "aws sagemaker delete-endpoint --endpoint-name call-time-dev" in text
    assert "embeddings-dev: ok: rolled back to embeddings-config-r1" in text
    now = next(line for line in lines if line.startswith("now: "))
    assert "call-time-dev Failed on config call-time-config-r2" in now
