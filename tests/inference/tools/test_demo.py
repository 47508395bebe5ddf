"""The README's main command: build (cached), serve, smoke request with boto3, usage hints."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from inference.tools.demo import usage_text

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_demo_builds_serves_and_answers_a_smoke_request() -> None:
    port = _free_port()
    proc = subprocess.run([sys.executable, "-m", "inference", "demo", "--no-wait", "--port", str(port)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for step in ("[1/4]", "[2/4]", "[3/4]", "[4/4]"):
        assert step in out
    assert "SMOKE OK" in out
    assert re.search(r"2 embeddings of dimension 384", out)
    first = re.search(r"first numbers: \[([^\]]+)\]", out)
    assert first is not None and len(first.group(1).split(",")) == 5
    assert f"http://127.0.0.1:{port}/invocations" in out  # curl hint
    assert "invoke_endpoint(EndpointName=" in out  # boto3 hint


def test_usage_text_names_the_url_and_endpoint() -> None:
    text = usage_text("http://127.0.0.1:9999", "minilm")
    assert "curl -s http://127.0.0.1:9999/invocations" in text
    assert "/endpoints/minilm/invocations" in text
    assert 'endpoint_url="http://127.0.0.1:9999"' in text
