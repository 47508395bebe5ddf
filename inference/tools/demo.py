"""`python -m inference demo`: the README's main command, end to end on the shipped MiniLM weights.

Why: a newcomer should see a working endpoint in one command, without AWS: build the default embeddings
artifact (once, in inference.build.cache: the same cached build the dev stack's `embeddings` endpoint uses),
serve it locally with the same API as SageMaker, prove it with a boto3 smoke request, and print how to call it
with curl and boto3.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from inference.build.cache import default_embeddings_artifact
from inference.limits import EMBEDDING_RUNTIMES

ROOT = Path(__file__).resolve().parents[2]
DEMO_ENDPOINT = "minilm"


def usage_text(url: str, name: str) -> str:
    """How to call the endpoint; printed by the demo and kept in one place so the README can quote it."""
    return f"""\
Call it with curl (container route, or the sagemaker-runtime route):
  curl -s {url}/invocations -H 'Content-Type: application/json' -d '{{"inputs": ["hello world"]}}'
  curl -s {url}/endpoints/{name}/invocations -H 'Content-Type: application/json' -d '{{"inputs": "hello"}}'

Call it with boto3 (the same code works against the SageMaker endpoint without endpoint_url):
  import boto3, json
  rt = boto3.client("sagemaker-runtime", endpoint_url="{url}", region_name="us-east-1",
                    aws_access_key_id="x", aws_secret_access_key="x")
  r = rt.invoke_endpoint(EndpointName="{name}", ContentType="application/json",
                         Body=json.dumps({{"inputs": ["hello world", "good morning"]}}))
  print(json.loads(r["Body"].read())["embeddings"][0][:5])
"""


def smoke_request(url: str, name: str) -> dict:
    """One boto3 invoke_endpoint, as unchanged client code would send it."""
    import boto3

    rt = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="x")
    texts = ["The local endpoint answers like SageMaker.", "Serverless bills memory x duration."]
    resp = rt.invoke_endpoint(EndpointName=name, ContentType="application/json", Accept="application/json",
                              Body=json.dumps({"inputs": texts}))
    return json.loads(resp["Body"].read())


@contextlib.contextmanager
def _step(n: int, total: int, what: str) -> Iterator[None]:
    print(f"[{n}/{total}] {what}", flush=True)
    t0 = time.perf_counter()
    yield
    print(f"      done in {time.perf_counter() - t0:.1f} s", flush=True)


def start_server(tar: Path, host: str, port: int, name: str, *, timeout: float = 900.0) -> subprocess.Popen:
    """`python -m inference.tools.serve TAR` in a subprocess, returned once /ping answers 200.

    A subprocess because the artifact runs under its image's Python (serve picks or builds a matching venv
    for vendored packages), which need not be this interpreter.
    """
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "inference.tools.serve", str(tar), "--host", host,
                             "--port", str(port), "--name", name, "--log-level", "warning"], cwd=ROOT)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"http://{host}:{port}/ping", timeout=5).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"the local endpoint exited with code {proc.returncode} (see its messages above)")
        if time.monotonic() > deadline:
            proc.terminate()
            raise RuntimeError(f"the local endpoint did not answer /ping within {timeout:.0f} s")
        time.sleep(0.2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="local port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--runtime", default=None, choices=EMBEDDING_RUNTIMES,
                        help="embedding runtime (default: the builder's default)")
    parser.add_argument("--no-wait", action="store_true", help="exit after the smoke request instead of serving")


def run(args: argparse.Namespace) -> int:
    def log(msg: str) -> None:
        print(f"      {msg}", flush=True)

    proc: subprocess.Popen | None = None
    try:
        with _step(1, 4, "building the default all-MiniLM-L6-v2 artifact from the shipped weights"):
            tar = default_embeddings_artifact(args.runtime, log=log)
        with _step(2, 4, "starting the local endpoint (unpack, verify manifest, model_fn) like the container"):
            proc = start_server(tar, args.host, args.port, DEMO_ENDPOINT)
        url = f"http://{args.host}:{args.port}"
        print(f"[3/4] local endpoint listening on {url} (endpoint name {DEMO_ENDPOINT!r})", flush=True)
        with _step(4, 4, "smoke request with boto3 invoke_endpoint"):
            out = smoke_request(url, DEMO_ENDPOINT)
            first = out["embeddings"][0]
            log(f"{len(out['embeddings'])} embeddings of dimension {out['dimensions']} "
                f"(model {out.get('model')}); first numbers: {[round(x, 4) for x in first[:5]]}")
        print("\nSMOKE OK\n", flush=True)
        print(usage_text(url, DEMO_ENDPOINT), flush=True)
        if args.no_wait:
            return 0
        print("Serving until Ctrl-C ...", flush=True)
        try:
            proc.wait()
        except KeyboardInterrupt:
            print("\nstopped", flush=True)
    except Exception as e:  # noqa: BLE001 - the README's command reports any failure in one line
        print(f"error: demo failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
    return 0
