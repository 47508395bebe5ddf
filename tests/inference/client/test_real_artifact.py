"""The client against the real default artifact (MiniLM onnx-int8) served by `inference serve` as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from array import array
from pathlib import Path

import boto3
import pytest
from endpoint_fixtures import FAST_RETRY, free_port, wait_for_ping

from inference.client import EmbeddingClient, ModelRequestError, RetryPolicy

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_embed_many_over_the_real_artifact_splits_orders_and_returns_the_endpoints_own_vectors() -> None:
    from inference.build.cache import default_embeddings_artifact
    from inference.manifest import read_manifest

    artifact = default_embeddings_artifact(log=lambda m: None)
    manifest = read_manifest(artifact)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "inference", "serve", str(artifact), "--port", str(port),
                             "--name", "minilm", "--max-concurrency", "2", "--cold-start", "0.5",
                             "--log-level", "warning"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        wait_for_ping(url, proc)
        texts = [f"Sentence {i}: serverless endpoints {'scale to zero' if i % 2 else 'start cold'}." for i in range(70)]
        client = EmbeddingClient("minilm", endpoint_url=url, max_batch=manifest.handler.max_batch, concurrency=2,
                                 retry=RetryPolicy(max_attempts=50, total_timeout_s=120, **FAST_RETRY))
        vectors = client.embed_many(texts)
        assert client.metrics["not_ready"] >= 1  # the simulated cold start was waited out
        assert client.metrics["requests"] - client.metrics["retries"] == 3  # 32 + 32 + 6
        raw = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x")
        expected = []
        for start in (0, 32, 64):  # the same batches, sent by hand: the client hands back exactly their vectors
            body = json.dumps({"inputs": texts[start:start + 32]})
            answer = json.loads(raw.invoke_endpoint(EndpointName="minilm", Body=body,
                                                    ContentType="application/json")["Body"].read())
            expected += [array("f", v).tolist() for v in answer["embeddings"]]
        assert vectors == expected
        assert len(vectors[0]) == manifest.model.dimensions == 384
        single = client.embed(texts[5])
        assert sum(a * b for a, b in zip(single, vectors[5], strict=True)) > 0.99
        with pytest.raises(ModelRequestError) as info:
            client.embed_many(["fine", ""])
        assert info.value.status == 400 and "inputs[1] is empty" in info.value.reason
    finally:
        proc.terminate()
        proc.wait(timeout=30)
