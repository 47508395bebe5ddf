"""`python release.py STACK --local`: validate -> build (or the cache) -> serve each artifact with the local
endpoint -> the same smoke test through boto3 with endpoint_url -> the same summary. No Pulumi, no AWS.

Why a subprocess per endpoint: an artifact only loads in an interpreter matching its image (vendored
onnxruntime for the image's Python, the pickle's scikit-learn); `python -m inference.tools.serve` re-executes
itself in such a venv (inference.tools.serve.serving_python), which this process cannot do for itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from artifacts import ResolvedArtifact
from inference.tools.check import Target

from . import prepare
from .failures import EXIT_FAILED, EXIT_OK, EXIT_SMOKE_FAILED, EXIT_USAGE, ReleaseFailure
from .smoke import SmokeResult, smoke_test
from .stages import Stages
from .summary import Row, table

ROOT = Path(__file__).resolve().parents[1]
Out = Callable[[str], None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(artifact: Path, name: str, max_concurrency: int | None, *, startup_timeout_s: float = 600.0,
            out: Out = print) -> Iterator[str]:
    """The artifact served by `python -m inference.tools.serve` on a free loopback port; yields its base URL."""
    port = free_port()
    argv = [sys.executable, "-m", "inference.tools.serve", str(artifact), "--port", str(port), "--name", name,
            "--log-level", "warning"]
    if max_concurrency is not None:
        argv += ["--max-concurrency", str(max_concurrency)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_timeout_s
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise ReleaseFailure(EXIT_FAILED, f"the local endpoint for {name} exited ({proc.returncode}): "
                                                      f"{tail.strip()}")
                with contextlib.suppress(OSError):
                    with urllib.request.urlopen(f"{url}/ping", timeout=2) as r:
                        if r.status == 200:
                            break
                if time.monotonic() > deadline:
                    raise ReleaseFailure(EXIT_FAILED, f"the local endpoint for {name} did not answer /ping within "
                                                      f"{startup_timeout_s:g} s")
                time.sleep(0.2)
            out(f"  {name}: serving {artifact} at {url} (pid {proc.pid})")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def release_local(args: argparse.Namespace, out: Out) -> int:
    stages = Stages(out)
    try:
        with stages.stage("validate"):
            settings = prepare.load(args.work_dir, args.stack)
            out(f"{args.stack}: config valid ({len(settings.endpoints)} endpoint(s)); local mode: no Pulumi, no AWS")
        with stages.stage("artifacts"):
            artifacts = prepare.artifacts(settings, build=True, log=out)
            for name, a in artifacts.items():
                out(f"  {name}: {prepare.describe_artifact(a)}")
                if not isinstance(a, ResolvedArtifact):
                    raise ReleaseFailure(EXIT_USAGE, f"{name}: {prepare.describe_artifact(a)}: there are no local "
                                                     "bytes to serve; run --local on the stack that builds it")
        results: dict[str, SmokeResult] = {}
        with stages.stage("serve and smoke test"):
            for ep in settings.endpoints:
                a = artifacts[ep.name]
                assert isinstance(a, ResolvedArtifact)
                mc = ep.serverless.max_concurrency if ep.serverless else None
                with serving(a.path, ep.endpoint_name, mc, out=out) as url:
                    results[ep.endpoint_name] = smoke_test(Target(ep.endpoint_name, endpoint_url=url),
                                                           artifact=a.path, warm=args.warm, out=out)
    except ReleaseFailure as f:
        out(f"error: {f.message}")
        return f.code
    with stages.stage("summary"):
        rows = []
        for ep in settings.endpoints:
            r, a = results[ep.endpoint_name], artifacts[ep.name]
            assert isinstance(a, ResolvedArtifact)
            rows.append(Row(ep.endpoint_name, f"local, smoke {'ok' if r.ok else 'FAILED'}", a.sha256, "(local)",
                            r.cold_ms, r.warm_ms))
        for line in table(rows):
            out(line)
    failed = [r for r in results.values() if not r.ok]
    for r in failed:
        out(f"error: endpoint {r.endpoint} failed its smoke test: {r.failures()}")
    if not failed:
        out(f"{args.stack}: every artifact passed its smoke test on the local endpoint")
    return EXIT_SMOKE_FAILED if failed else EXIT_OK
