"""`python -m inference check` and run_checks over real HTTP: the local endpoint on fake handlers (fast), the
control plane on a moto server, and the real default artifact (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))  # the client tests' endpoint helpers

from endpoint_fixtures import FAST_RETRY, free_port, local_endpoint, moto_sagemaker, wait_for_ping  # noqa: E402

from inference.client import RetryPolicy  # noqa: E402
from inference.tools.check import KINDS, Target, main, run_checks  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
FAST = RetryPolicy(max_attempts=200, total_timeout_s=30, **FAST_RETRY)  # bounded by time, not attempts
EMBEDDING_CHECKS = ["status", "kind", "single request", "dimension", "unit norm", "batch", "paraphrase",
                    "unicode and emoji", "long text", "max batch", "over max batch", "empty string",
                    "malformed body", "non-string input", "wrong content type", "cold vs warm"]


def by_name(report) -> dict:
    return {r.name: r for r in report.results}


def test_a_healthy_embeddings_endpoint_passes_every_check(tmp_path: Path) -> None:
    with local_endpoint(tmp_path) as (url, _, app):
        report = run_checks(Target("fake", endpoint_url=url), max_batch=4, retry=FAST)
    assert [r.name for r in report.results] == EMBEDDING_CHECKS
    assert report.ok, report.render()
    checks = by_name(report)
    assert checks["status"].skipped and "local endpoint" in checks["status"].detail
    assert checks["kind"].detail.startswith("embeddings (probed")
    assert "413" in checks["over max batch"].detail and "5 texts refused" in checks["over max batch"].detail
    assert "400" in checks["empty string"].detail and "empty" in checks["empty string"].detail
    assert "truncated" in checks["long text"].detail
    assert app.state.endpoint.stats["client_errors"] == 5  # the five bad requests, each refused once, not retried
    assert report.render().splitlines()[-1] == "15 passed, 0 failed, 1 skipped: OK"


def test_cold_and_warm_latency_are_numbers_and_a_manifest_can_stand_for_the_artifact(tmp_path: Path) -> None:
    manifest = {"format": 3, "framework": "huggingface", "runtime": "onnx-int8", "files": {},
                "container": {"key": "hf", "repository": "r", "tag": "t", "python": "3.12"},
                "handler": {"program": "inference.py", "max_batch": 4}, "model": {"file": "m", "dimensions": 8}}
    with local_endpoint(tmp_path) as (url, _, _app):
        report = run_checks(Target("fake", endpoint_url=url), manifest=manifest, warm_requests=2, retry=FAST)
    assert report.kind == "embeddings" and report.max_batch == 4  # from the manifest, not probed
    assert "limits and example from the manifest given" in report.notes
    assert report.cold_ms is not None and report.cold_ms > 0 and report.warm_ms is not None and report.warm_ms > 0
    assert report.to_dict()["cold_ms"] == report.cold_ms


def test_a_broken_contract_fails_the_check_and_the_cli_exits_1_with_json(tmp_path: Path, capsys) -> None:
    with local_endpoint(tmp_path, normalize=False) as (url, _, _app):
        code = main(["--endpoint", "fake", "--endpoint-url", url, "--max-batch", "4", "--json", "--warm", "1"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["ok"] is False
    failed = {c["name"]: c["detail"] for c in out["checks"] if not c["ok"]}
    assert list(failed) == ["unit norm", "unicode and emoji"]
    assert "expected 1 within" in failed["unit norm"]
    assert out["kind"] == "embeddings" and out["metrics"]["requests"] > 10


def test_a_wrong_max_batch_is_caught(tmp_path: Path) -> None:
    with local_endpoint(tmp_path) as (url, _, _app):  # the endpoint allows 4; the caller believes 8
        report = run_checks(Target("fake", endpoint_url=url), max_batch=8, kind="embeddings", retry=FAST)
    checks = by_name(report)
    assert not checks["max batch"].ok and "413" in checks["max batch"].detail
    assert checks["over max batch"].ok  # 9 texts are refused all the same
    assert not report.ok


def test_a_cold_start_is_waited_out_and_reported(tmp_path: Path) -> None:
    with local_endpoint(tmp_path, cold_start_s=0.3) as (url, _, app):
        report = run_checks(Target("fake", endpoint_url=url), max_batch=4, retry=FAST, warm_requests=2)
    assert report.ok, report.render()
    assert app.state.endpoint.stats["not_ready"] >= 1
    detail = by_name(report)["cold vs warm"].detail
    assert f"ModelNotReady {app.state.endpoint.stats['not_ready']}" in detail and "warm median" in detail


def test_sklearn_endpoint_example_prediction_and_refusals(tmp_path: Path) -> None:
    with local_endpoint(tmp_path, kind="scorer", name="scorer") as (url, _, _app):
        report = run_checks(Target("scorer", endpoint_url=url), example_request={"instances": [[0.2, 0.9]]},
                            retry=FAST)
        assert report.ok, report.render()
        assert [r.name for r in report.results] == ["status", "kind", "example request", "malformed row",
                                                    "empty instances", "malformed body", "cold vs warm"]
        assert "instances[0] has 1 values" in by_name(report)["malformed row"].detail
        without = run_checks(Target("scorer", endpoint_url=url), kind="sklearn", retry=FAST)
    assert by_name(without)["example request"].skipped and without.ok
    assert "--example-request" in by_name(without)["example request"].detail


def test_an_unreachable_endpoint_fails_with_the_reason(tmp_path: Path) -> None:
    report = run_checks(Target("fake", endpoint_url=f"http://127.0.0.1:{free_port()}"),
                        retry=RetryPolicy(max_attempts=2, **FAST_RETRY))
    assert not report.ok and by_name(report)["kind"].detail.startswith("the endpoint did not answer")


def test_status_and_config_come_from_describe(tmp_path: Path) -> None:
    with moto_sagemaker({"fake": {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5,
                                                       "ProvisionedConcurrency": 1}}}) as moto, \
            local_endpoint(tmp_path) as (url, _, _app):
        good = run_checks(Target("fake", endpoint_url=url, sagemaker_endpoint_url=moto), max_batch=4, retry=FAST)
        missing = run_checks(Target("other", endpoint_url=url, sagemaker_endpoint_url=moto), max_batch=4,
                             retry=FAST)
    status = by_name(good)["status"]
    assert status.ok and not status.skipped
    assert status.detail == ("InService; config fake-config, model fake-model-1a2b3c, serverless 2048 MB, "
                             "MaxConcurrency 5, provisioned 1")
    assert not by_name(missing)["status"].ok and "DescribeEndpoint failed" in by_name(missing)["status"].detail


def test_cli_usage_errors_exit_2(capsys) -> None:
    assert main(["--endpoint", "x", "--endpoint-url", "http://127.0.0.1:9", "--example-request", "{nope"]) == 2
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--endpoint", "x", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"])
    assert info.value.code == 2
    with pytest.raises(ValueError, match="kind must be one of"):
        run_checks(Target("x", endpoint_url="http://127.0.0.1:9"), kind="torch")
    assert KINDS == ("embeddings", "sklearn")


def test_the_check_command_is_registered() -> None:
    out = subprocess.run([sys.executable, "-m", "inference", "check", "--help"], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert "--endpoint-url" in out.stdout and "--json" in out.stdout


@pytest.mark.slow
def test_the_real_default_artifact_passes_every_check(tmp_path: Path) -> None:
    """The onnx-int8 MiniLM artifact, served as `inference serve` serves it (its image's Python), checked
    through the CLI with its manifest: 384 dimensions, max batch 32, real paraphrase similarity."""
    from inference.build.cache import default_embeddings_artifact

    artifact = default_embeddings_artifact(log=lambda m: None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "inference", "serve", str(artifact), "--port", str(port),
                             "--name", "minilm", "--cold-start", "1", "--log-level", "warning"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_ping(url, proc)
        out = subprocess.run([sys.executable, "-m", "inference", "check", "--endpoint", "minilm", "--endpoint-url",
                              url, "--artifact", str(artifact), "--json"], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    report = json.loads(out.stdout)
    assert out.returncode == 0, json.dumps([c for c in report["checks"] if not c["ok"]], indent=1)
    checks = {c["name"]: c["detail"] for c in report["checks"]}
    assert list(checks) == EMBEDDING_CHECKS
    assert checks["dimension"] == "384 dimensions" and report["max_batch"] == 32
    assert "33 texts refused: 413" in checks["over max batch"]
    assert "ModelNotReady" in checks["cold vs warm"] and report["metrics"]["not_ready"] >= 1


@pytest.mark.slow
def test_the_call_time_scikit_learn_artifact_passes_its_checks() -> None:
    """The dev stack's scorer recipe (built once through the cache), served from its image-matching venv: the
    manifest's example request gives a prediction and a malformed row is refused, kind from the artifact."""
    from inference.build.cache import recipe_artifact
    from inference.build.containers import SKLEARN_1_4
    from inference.build.venvs import VenvUnavailable, find_python

    try:
        find_python("3.10")
    except VenvUnavailable as e:
        pytest.skip(f"needs Python 3.10 for the sklearn-1.4-2 image: {e}")
    artifact = recipe_artifact({"kind": "sklearn", "trainer": "inference.examples.call_time.train:train_estimator"},
                               SKLEARN_1_4)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "inference", "serve", str(artifact), "--port", str(port),
                             "--name", "call-time", "--log-level", "warning"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_ping(url, proc)
        out = subprocess.run([sys.executable, "-m", "inference", "check", "--endpoint", "call-time",
                              "--endpoint-url", url, "--artifact", str(artifact), "--json"], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    report = json.loads(out.stdout)
    assert out.returncode == 0, json.dumps([c for c in report["checks"] if not c["ok"]], indent=1)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["kind"] == "sklearn" and checks["kind"]["detail"].startswith("sklearn (the artifact's")
    assert not checks["example request"]["skipped"] and "1 prediction(s)" in checks["example request"]["detail"]
    assert checks["malformed row"]["detail"].startswith("400: ")


def test_a_caller_without_describe_permission_gets_the_status_skipped_with_a_note(tmp_path: Path) -> None:
    import boto3
    from botocore.stub import Stubber

    sm = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sm) as stub, local_endpoint(tmp_path) as (url, _, _app):  # no request leaves the process
        stub.add_client_error("describe_endpoint", "AccessDeniedException", "not authorized", 400)
        report = run_checks(Target("fake", endpoint_url=url), max_batch=4, retry=FAST, sagemaker_client=sm)
    status = by_name(report)["status"]
    assert status.skipped and "needs sagemaker:DescribeEndpoint" in status.detail
    assert report.ok and any("may not describe" in n for n in report.notes)
