"""A deploy machine needs only requirements-deploy.txt (pulumi, pulumi-aws, boto3, pyyaml): the real program runs
under the mocks in a venv with nothing else, on a prebuilt artifact and on a promoted one, and imports none of
the build stack (torch, sentence-transformers, onnxruntime, numpy, scikit-learn)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi_mocks import ROOT

from inference.build.venvs import VenvUnavailable, ensure_venv

HEAVY = ["torch", "sentence_transformers", "onnxruntime", "onnx", "numpy", "sklearn", "transformers", "tokenizers"]

# Runs inside the deploy-only venv: dev from prebuilt files, then prod promoting from dev.
SCRIPT = r'''
import json, sys
sys.path[:0] = ["tests", "."]
from pathlib import Path
import yaml
from fake_artifacts import make_artifact
from pulumi_mocks import ORGANIZATION, AwsMocks, run_program, stack_config
from inference.build.containers import HF_PY312, SKLEARN_1_4

tmp = Path(sys.argv[1])
arts = {"embeddings": make_artifact(tmp / "e.tar.gz", HF_PY312),
        "call-time": make_artifact(tmp / "c.tar.gz", SKLEARN_1_4)}
config = stack_config("dev")
endpoints = json.loads(config["sls-endpoints:endpoints"])
for ep in endpoints:
    ep["artifact"] = {"path": str(arts[ep["name"]])}
config["sls-endpoints:endpoints"] = json.dumps(endpoints)
dev = run_program(config, "dev")
prod = run_program(stack_config("prod"), "prod", mocks=AwsMocks(
    stacks={f"{ORGANIZATION}/sls-endpoints/dev": dev.outputs}, objects=dev.mocks.objects))
print(json.dumps({
    "errors": [repr(r.error) for r in (dev, prod) if r.error is not None],
    "dev_models": sorted(r.name for r in dev.of_type("aws:sagemaker/model:Model")),
    "prod_copies": sorted(r.name for r in prod.of_type("aws:s3/objectCopy:ObjectCopy")),
    "modules": sorted(m.split(".")[0] for m in sys.modules),
}))
'''


def deploy_requirements() -> list[str]:
    lines = (ROOT / "requirements-deploy.txt").read_text().splitlines()
    return [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()]


def test_requirements_txt_includes_the_deploy_requirements():
    assert "-r requirements-deploy.txt" in (ROOT / "requirements.txt").read_text().splitlines()


@pytest.mark.slow
def test_the_program_deploys_prebuilt_and_promoted_artifacts_with_the_deploy_requirements_only(tmp_path):
    try:  # the test helpers need pytest too (fake_artifacts and pulumi_mocks import nothing heavier)
        python = ensure_venv("deploy-only", f"{sys.version_info[0]}.{sys.version_info[1]}",
                             [*deploy_requirements(), "pytest"])
    except VenvUnavailable as e:
        pytest.skip(f"no interpreter for the deploy venv: {e}")
    except subprocess.CalledProcessError as e:
        pytest.skip(f"pip could not install requirements-deploy.txt here (no package index?): {e}")
    proc = subprocess.run([str(python), "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["errors"] == []
    assert got["dev_models"] == ["call-time-model", "embeddings-model"]
    assert got["prod_copies"] == ["artifacts-call-time-artifact-copy", "artifacts-embeddings-artifact-copy"]
    loaded = set(got["modules"]) & set(HEAVY)
    assert not loaded, f"the deploy path imported build packages: {sorted(loaded)}"
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True)
    names = {p["name"].lower() for p in json.loads(installed.stdout)}
    assert not {"torch", "sentence-transformers", "onnxruntime", "numpy"} & names, "the venv is not deploy-only"
    assert Path(python).is_file()
