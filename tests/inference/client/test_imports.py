"""The client runs where only boto3 is installed (a Lambda function): it must not import the heavy parts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("torch", "numpy", "onnxruntime", "sklearn", "transformers", "pulumi", "pulumi_aws", "redis", "starlette",
         "uvicorn", "httpx", "yaml")


def test_importing_and_using_the_client_pulls_in_boto3_and_the_stdlib_only() -> None:
    code = (
        "import json, sys\n"
        "import inference.client as c\n"
        "c.EmbeddingClient('x', endpoint_url='http://127.0.0.1:9', describe=False)\n"
        "c.ScorerClient('x', endpoint_url='http://127.0.0.1:9', describe=False)\n"
        "c.EmbeddingCache(lru_entries=10)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    ours = {m for m in loaded if m == "inference" or m.startswith("inference.")}
    assert ours - {"inference", "inference.limits"} == {m for m in ours if m.startswith("inference.client")}
    assert "boto3" in loaded


def test_redis_is_imported_only_for_a_redis_cache() -> None:
    code = (
        "import sys\n"
        "from inference.client import EmbeddingCache\n"
        "EmbeddingCache(redis_url='redis://127.0.0.1:9/0')\n"
        "print('redis' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
