"""`release.py STACK --local`: validate -> artifacts -> serve each with the local endpoint (a real subprocess
each) -> the same smoke test through boto3 with endpoint_url -> the same summary; no Pulumi, no AWS."""

from __future__ import annotations

import pytest
from release_helpers import run_release
from served_artifacts import local_project

from releasing import failures


@pytest.fixture
def no_cloud(monkeypatch, tmp_path, world):
    """No Pulumi CLI and no AWS credentials: --local must need neither."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return world


def test_local_serves_and_smoke_tests_every_endpoint(no_cloud, tmp_path):
    work = local_project(tmp_path / "project")
    code, lines = run_release(["dev", "--local", "--warm", "1", "--work-dir", str(work)])
    text = "\n".join(lines)
    assert code == failures.EXIT_OK, text
    assert [line[3:] for line in lines if line.startswith("== ")] == ["validate", "artifacts",
                                                                      "serve and smoke test", "summary"]
    assert "  endpoint embeddings-dev (local http://127.0.0.1:" in text and "  endpoint call-time-dev (local" in text
    assert "PASS  paraphrase" in text and "PASS  example request" in text
    rows = [line.split() for line in lines if line.startswith(("embeddings-dev ", "call-time-dev "))]
    assert [r[:4] for r in rows] == [["embeddings-dev", "local,", "smoke", "ok"], ["call-time-dev", "local,", "smoke",
                                                                                    "ok"]]
    assert no_cloud.calls == []  # the Automation API was never used


def test_local_exits_13_when_an_artifact_fails_its_smoke_test(no_cloud, tmp_path):
    work = local_project(tmp_path / "project", normalize=False)
    code, lines = run_release(["dev", "--local", "--warm", "0", "--work-dir", str(work)])
    assert code == failures.EXIT_SMOKE_FAILED == 13
    assert lines[-1].startswith("error: endpoint embeddings-dev failed its smoke test: unit norm: norm ")


def test_local_refuses_a_stack_that_promotes_its_artifacts(no_cloud, tmp_path, monkeypatch):
    from fake_artifacts import FakeBuilders, use_fake_builds

    use_fake_builds(monkeypatch, tmp_path, FakeBuilders())
    code, lines = run_release(["prod", "--local"])
    assert code == failures.EXIT_USAGE
    assert "promoted from stack dev" in lines[-1] and "no local bytes to serve" in lines[-1]


@pytest.mark.slow
def test_local_release_of_the_dev_stack_for_real(no_cloud):
    """The repository's dev stack: the MiniLM onnx-int8 and call-time scikit-learn artifacts (built, or from the
    cache), each served in its image-matching venv and smoke-tested."""
    code, lines = run_release(["dev", "--local", "--warm", "2"])
    text = "\n".join(lines)
    assert code == failures.EXIT_OK, text
    assert "384 dimensions" in text and "PASS  paraphrase" in text and "PASS  example request" in text
    assert lines[-1] == "dev: every artifact passed its smoke test on the local endpoint"
