"""Helpers for the client (and check) tests: local endpoints over real HTTP on tiny handlers, a real redis-server.

The fake handlers (fake_embedder/, fake_scorer/) have the real handlers' contracts and answer in
microseconds, so batching, order, throttling, cold starts and retries are tested fast; one slow test runs the
client against the real default artifact.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import inference.handlers.sls_errors as sls_errors
from inference.tools.serve import LoadedHandler, create_app, load_handler, running_server

HERE = Path(__file__).resolve().parent
FAST_RETRY = {"base_delay_s": 0.005, "not_ready_base_delay_s": 0.02, "max_delay_s": 0.05}


def make_model_dir(root: Path, kind: str = "embedder", **config) -> Path:
    """An unpacked artifact directory with the fake handler of `kind` as code/inference.py."""
    (root / "code").mkdir(parents=True)
    shutil.copy(HERE / f"fake_{kind}" / "inference.py", root / "code" / "inference.py")
    shutil.copy(sls_errors.__file__, root / "code" / "sls_errors.py")
    (root / "config.json").write_text(json.dumps({"max_batch": 4, "normalize": True, **config}))
    return root


@contextlib.contextmanager
def local_endpoint(tmp: Path, *, kind: str = "embedder", name: str = "fake", max_concurrency: int = 5,
                   cold_start_s: float = 0.0, **config) -> Iterator[tuple[str, LoadedHandler, object]]:
    """(base URL, handler, app) of a local endpoint serving the fake handler of `kind`."""
    handler = load_handler(make_model_dir(tmp / f"{kind}-{name}", kind, **config))
    app = create_app(handler, name=name, max_concurrency=max_concurrency, cold_start_s=cold_start_s)
    with running_server(app) as url:
        yield url, handler, app


def wait_for_ping(url: str, proc: subprocess.Popen, timeout: float = 900, poll_s: float = 0.2) -> None:
    """Until `inference serve` in `proc` answers /ping (the first run may build the image-matching venv)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/ping").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "server exited"
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(poll_s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server on loopback in a temp dir, no persistence; stop() kills it, start() brings it back."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not installed (Debian: apt-get install -y redis-server; .ci/run does it)")
        self.workdir, self.port = workdir, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            assert self.proc.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@contextlib.contextmanager
def moto_sagemaker(endpoints: dict[str, dict]) -> Iterator[str]:
    """A moto server (SageMaker control plane) with one model + config + endpoint per entry
    {endpoint name: production variant settings}; yields its URL. Models are named <endpoint>-model-1a2b3c."""
    import warnings

    import boto3

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "install moto[server]": flask and flask-cors are all it needs here
        from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        sm = boto3.client("sagemaker", endpoint_url=url, **MOTO_KEYS)
        for endpoint, variant in endpoints.items():
            model = f"{endpoint}-model-1a2b3c"
            sm.create_model(ModelName=model, ExecutionRoleArn="arn:aws:iam::123456789012:role/exec",
                            PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/x:1",
                                              "ModelDataUrl": "s3://bucket/model.tar.gz"})
            sm.create_endpoint_config(EndpointConfigName=f"{endpoint}-config",
                                      ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model, **variant}])
            sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-config")
        yield url
    finally:
        server.stop()


MOTO_KEYS = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
