"""Fixtures for the release tests: AWS credentials for a fake account, a `pulumi` on PATH, the fake SageMaker
(moto + recorded front) serving both endpoints of dev, the fake Automation API, and a dev stack file naming
small real artifacts. Nothing reaches the internet."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_artifacts import make_artifact  # noqa: E402
from fake_pulumi import FakePulumi  # noqa: E402
from fake_sagemaker import FakeSageMaker, fake_sagemaker  # noqa: E402
from pulumi import automation as auto  # noqa: E402
from pulumi_mocks import ROOT  # noqa: E402

from inference.build.containers import HF_PY312, SKLEARN_1_4  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request at INFO

ENDPOINTS = {"embeddings": ("embeddings-dev", "embedder"), "call-time": ("call-time-dev", "scorer")}


@pytest.fixture
def aws_env(monkeypatch, tmp_path) -> None:
    """Credentials of a fake account in us-east-1, and no other credential source (no instance metadata)."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def pulumi_cli(monkeypatch, tmp_path) -> Path:
    """An executable named `pulumi` first on PATH (the Automation API itself is faked)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cli = bin_dir / "pulumi"
    cli.write_text("#!/bin/sh\necho 'v3.200.0'\n")
    cli.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return cli


@pytest.fixture
def sagemaker(aws_env, monkeypatch, tmp_path) -> Iterator[FakeSageMaker]:
    """The fake SageMaker, reached by every boto3 client through the AWS_ENDPOINT_URL_* variables; dev's two
    endpoints answer InvokeEndpoint with the fake embedder and scorer."""
    with fake_sagemaker() as (fake, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", fake.moto_url)  # the artifact bucket, for retention
        monkeypatch.setenv("AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING", fake.moto_url)  # scalable targets
        import boto3

        boto3.client("s3", endpoint_url=fake.moto_url).create_bucket(Bucket="b-1")  # the fake stack's bucket
        for name, kind in ENDPOINTS.values():
            fake.serve(name, tmp_path / "handlers" / name, kind)
        yield fake


@pytest.fixture
def world(monkeypatch) -> FakePulumi:
    """The fake Automation API for stack dev."""
    fake = FakePulumi("dev", dict(ENDPOINTS))
    monkeypatch.setattr(auto, "select_stack", fake.select_stack)
    return fake


@pytest.fixture
def deployed(sagemaker, world) -> FakeSageMaker:
    """dev as an earlier release left it: both endpoints InService on release 1's configs."""
    steps, sagemaker.steps = sagemaker.steps, 0
    world.select_stack("dev").up(on_output=lambda *_: None)
    world.calls.clear()
    sagemaker.calls.clear()
    sagemaker.steps = steps
    return sagemaker


@pytest.fixture
def work_dir(tmp_path) -> Path:
    """A project directory whose dev stack names small real artifacts (nothing is built)."""
    work = tmp_path / "project"
    work.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", work / "Pulumi.yaml")
    arts = {"embeddings": make_artifact(work / "e.tar.gz", HF_PY312),
            "call-time": make_artifact(work / "c.tar.gz", SKLEARN_1_4)}
    cfg = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    for ep in cfg["config"]["sls-endpoints:endpoints"]:
        ep["artifact"] = {"path": str(arts[ep["name"]])}
    (work / "Pulumi.dev.yaml").write_text(yaml.safe_dump(cfg))
    cfg["config"]["sls-endpoints:protect"] = True
    (work / "Pulumi.guarded.yaml").write_text(yaml.safe_dump(cfg))
    return work
