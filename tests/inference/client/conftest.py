"""Fixtures for the client tests; the helpers live in endpoint_fixtures.py (tests/inference/tools/test_check.py
uses them too), importable from here because this folder is put on sys.path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from endpoint_fixtures import RedisServer, local_endpoint  # noqa: E402


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple]:
    """(URL, handler, app) of a local endpoint "fake" on the fake embedder, max batch 4, max concurrency 5."""
    with local_endpoint(tmp_path) as ep:
        yield ep


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server on a free loopback port (skips when the binary is absent)."""
    server = RedisServer(tmp_path / "redis")
    server.workdir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()
