"""releasing/local.py in parts: `serving` (the command it starts, waiting for /ping, the errors when the server
exits or never answers, stopping it) and `release_local` with each artifact served in-process, so these run where
the image's Python venvs cannot import the code under test (test_local.py runs the real subprocesses)."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from served_artifacts import local_project, served_artifact

from inference.tools.serve import create_app, load_handler, running_server
from releasing import failures, local


def args(work: Path, warm: int = 1) -> argparse.Namespace:
    return argparse.Namespace(stack="dev", work_dir=work, warm=warm)


@pytest.fixture
def in_process(monkeypatch):
    """`local.serving` replaced by the artifact's handler served in this process; records each call."""
    calls: list[tuple[Path, str, int | None]] = []

    @contextlib.contextmanager
    def serving(artifact: Path, name: str, max_concurrency: int | None, *, out=print, startup_timeout_s=600.0):
        calls.append((artifact, name, max_concurrency))
        handler = load_handler(Path(f"{artifact}.src"))  # served_artifact's model directory
        with running_server(create_app(handler, name=name, max_concurrency=max_concurrency)) as url:
            out(f"  {name}: serving in process at {url}")
            yield url

    monkeypatch.setattr(local, "serving", serving)
    return calls


def test_release_local_serves_each_endpoint_smoke_tests_it_and_summarises(in_process, tmp_path):
    work = local_project(tmp_path / "project")
    lines: list[str] = []
    code = local.release_local(args(work, warm=2), lines.append)
    text = "\n".join(lines)
    assert code == failures.EXIT_OK, text
    assert [line[3:] for line in lines if line.startswith("== ")] == ["validate", "artifacts", "serve and smoke test",
                                                                      "summary"]
    assert lines[1] == "dev: config valid (2 endpoint(s)); local mode: no Pulumi, no AWS"
    assert any(line.startswith("  embeddings-dev: serving in process at http://127.0.0.1:") for line in lines)
    assert in_process == [(work / "e.tar.gz", "embeddings-dev", 5), (work / "c.tar.gz", "call-time-dev", 2)]
    assert any(line.startswith("  embeddings: sha256 ") and line.endswith(str(work / "e.tar.gz")) for line in lines)
    assert "warm median" in text and "over 2" in text  # --warm reaches the smoke test
    assert "note: limits and example from the artifact " + str(work / "e.tar.gz") in text
    header = lines.index(next(line for line in lines if line.startswith("endpoint ")))
    rows = [line.split() for line in lines[header + 2:header + 4]]
    assert [r[:5] for r in rows] == [["embeddings-dev", "local,", "smoke", "ok", rows[0][4]],
                                     ["call-time-dev", "local,", "smoke", "ok", rows[1][4]]]
    assert all(r[4].endswith("...") and len(r[4]) == 15 and r[5] == "(local)" for r in rows)
    assert all(float(r[6]) >= 0 and float(r[7]) >= 0 for r in rows)
    assert lines[-2].startswith("-- summary: ok (")
    assert lines[-1] == "dev: every artifact passed its smoke test on the local endpoint"


def test_release_local_exits_13_naming_the_endpoint_that_failed(in_process, tmp_path):
    work = local_project(tmp_path / "project", normalize=False)
    lines: list[str] = []
    code = local.release_local(args(work, warm=0), lines.append)
    assert code == failures.EXIT_SMOKE_FAILED
    assert any(line.split()[:4] == ["embeddings-dev", "local,", "smoke", "FAILED"] for line in lines)
    assert any(line.split()[:4] == ["call-time-dev", "local,", "smoke", "ok"] for line in lines)
    assert lines[-1].startswith("error: endpoint embeddings-dev failed its smoke test: unit norm: norm ")
    assert "every artifact passed" not in "\n".join(lines)


def test_a_server_that_does_not_start_stops_the_release_with_its_message(monkeypatch, tmp_path):
    @contextlib.contextmanager
    def broken(*a, **kw):
        raise failures.ReleaseFailure(failures.EXIT_FAILED, "the local endpoint for embeddings-dev exited (1): boom")
        yield  # pragma: no cover

    monkeypatch.setattr(local, "serving", broken)
    lines: list[str] = []
    code = local.release_local(args(local_project(tmp_path / "project")), lines.append)
    assert code == failures.EXIT_FAILED
    assert lines[-1] == "error: the local endpoint for embeddings-dev exited (1): boom"
    assert "== summary" not in lines and any(line.startswith("-- serve and smoke test: failed (") for line in lines)


def test_free_port_is_a_loopback_port_nothing_listens_on():
    port = local.free_port()
    assert 1024 <= port <= 65535
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


class FakeProcess:
    """A Popen stand-in: running until terminated, or exited with `code`; `stubborn` ignores terminate."""

    def __init__(self, argv, *, code=None, stubborn=False, **kw):
        self.argv, self.kw, self.returncode, self.stubborn = argv, kw, code, stubborn
        self.pid, self.events = 4242, []
        if code is not None:  # a long log, not all of it UTF-8: the last 2000 characters are shown
            kw["stdout"].write(b"\xff" + b"x" * 3000 + b"\nTraceback ...\nServeError: no code/inference.py\n")

    def poll(self):
        return self.returncode

    def terminate(self):
        self.events.append("terminate")

    def kill(self):
        self.events.append("kill")

    def wait(self, timeout=None):
        self.events.append(("wait", timeout))
        if self.stubborn and timeout is not None:
            raise subprocess.TimeoutExpired("serve", timeout)
        return 0


@pytest.fixture
def pinged(monkeypatch):
    """A server answering /ping on the port `serving` picks; Popen replaced by FakeProcess (returned list)."""
    import starlette.applications
    import starlette.responses
    import starlette.routing

    app = starlette.applications.Starlette(routes=[starlette.routing.Route(
        "/ping", lambda request: starlette.responses.Response("", 200))])
    procs: list[FakeProcess] = []
    with running_server(app) as url:
        monkeypatch.setattr(local, "free_port", lambda: int(url.rsplit(":", 1)[1]))
        yield url, procs


def fake_popen(procs, **behaviour):
    def popen(argv, **kw):
        procs.append(FakeProcess(argv, **behaviour, **kw))
        return procs[-1]

    return popen


def test_serving_runs_the_local_endpoint_on_a_free_port_and_stops_it(pinged, monkeypatch, tmp_path):
    url, procs = pinged
    monkeypatch.setattr(local.subprocess, "Popen", fake_popen(procs))
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    port = url.rsplit(":", 1)[1]
    lines: list[str] = []
    with local.serving(tmp_path / "a.tar.gz", "scorer-dev", 3, out=lines.append) as served:
        assert served == f"http://127.0.0.1:{port}"
        (proc,) = procs
        assert proc.events == []  # running while the smoke test uses it
    assert proc.argv == [sys.executable, "-m", "inference.tools.serve", str(tmp_path / "a.tar.gz"), "--port", port,
                         "--name", "scorer-dev", "--log-level", "warning", "--max-concurrency", "3"]
    assert proc.kw["cwd"] == local.ROOT and proc.kw["stderr"] is subprocess.STDOUT
    assert proc.kw["env"]["PYTHONPATH"] == f"{local.ROOT}{os.pathsep}/elsewhere"
    assert proc.kw["env"]["PATH"] == os.environ["PATH"]
    assert proc.events == ["terminate", ("wait", 20)]
    assert lines == [f"  scorer-dev: serving {tmp_path / 'a.tar.gz'} at {served} (pid 4242)"]


def test_serving_without_a_max_concurrency_leaves_the_servers_default(pinged, monkeypatch, tmp_path):
    _, procs = pinged
    monkeypatch.setattr(local.subprocess, "Popen", fake_popen(procs))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    with local.serving(tmp_path / "a.tar.gz", "e", None, out=print):
        pass
    assert "--max-concurrency" not in procs[0].argv and procs[0].argv[-2:] == ["--log-level", "warning"]
    assert procs[0].kw["env"]["PYTHONPATH"] == str(local.ROOT)


def test_a_server_that_ignores_terminate_is_killed(pinged, monkeypatch, tmp_path):
    _, procs = pinged
    monkeypatch.setattr(local.subprocess, "Popen", fake_popen(procs, stubborn=True))
    with local.serving(tmp_path / "a.tar.gz", "e", None, out=print):
        pass
    assert procs[0].events == ["terminate", ("wait", 20), "kill", ("wait", None)]


def test_a_server_that_exits_fails_the_release_with_its_output(monkeypatch, tmp_path):
    procs: list[FakeProcess] = []
    monkeypatch.setattr(local.subprocess, "Popen", fake_popen(procs, code=2))
    with pytest.raises(failures.ReleaseFailure) as f, local.serving(tmp_path / "a.tar.gz", "e", None, out=print):
        pass
    assert f.value.code == failures.EXIT_FAILED
    tail = "x" * (2000 - len("\nTraceback ...\nServeError: no code/inference.py\n"))
    assert f.value.message == (f"the local endpoint for e exited (2): {tail}\nTraceback ...\n"
                               "ServeError: no code/inference.py")
    assert procs[0].events == ["terminate", ("wait", 20)]  # stopped all the same


def test_a_server_that_never_answers_ping_fails_after_the_startup_timeout(monkeypatch, tmp_path):
    procs: list[FakeProcess] = []
    monkeypatch.setattr(local.subprocess, "Popen", fake_popen(procs))
    monkeypatch.setattr(local, "free_port", lambda: 9)  # discard: nothing answers
    with pytest.raises(failures.ReleaseFailure) as f, local.serving(tmp_path / "a.tar.gz", "e", None,
                                                                     startup_timeout_s=0.5, out=print):
        pass
    assert f.value.code == failures.EXIT_FAILED
    assert f.value.message == "the local endpoint for e did not answer /ping within 0.5 s"
    assert procs[0].events == ["terminate", ("wait", 20)]


def test_serving_a_real_artifact_answers_ping_until_the_block_ends(tmp_path):
    artifact = served_artifact(tmp_path / "e.tar.gz", "embedder")
    with local.serving(artifact, "embeddings-dev", 2, out=print) as url:
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as r:
            assert r.status == 200
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/ping", timeout=2)


def test_release_local_builds_what_the_stack_builds(monkeypatch, tmp_path):
    from fake_artifacts import FakeBuilders, use_fake_builds

    builders = use_fake_builds(monkeypatch, tmp_path, FakeBuilders())
    served = []

    @contextlib.contextmanager
    def stop(artifact, name, max_concurrency, *, out=print, startup_timeout_s=600.0):
        served.append(artifact)
        raise failures.ReleaseFailure(failures.EXIT_FAILED, "stop here")
        yield  # pragma: no cover

    monkeypatch.setattr(local, "serving", stop)
    lines: list[str] = []
    assert local.release_local(args(local.ROOT), lines.append) == failures.EXIT_FAILED
    assert [r["kind"] for r in builders.built] == ["embeddings", "sklearn"]  # built, not left pending
    assert served and any(line.startswith("  embeddings: sha256 ") for line in lines)
    assert len(lines) > len([line for line in lines if line.startswith(("==", "--", "  embeddings:", "  call-time:",
                                                                         "dev:", "error:"))])  # the build's log


def test_an_endpoint_without_a_serverless_config_is_served_without_a_concurrency_limit(in_process, monkeypatch,
                                                                                         tmp_path):
    import dataclasses

    from releasing import prepare

    work = local_project(tmp_path / "project")
    settings = prepare.load(work, "dev")
    instance = dataclasses.replace(settings.endpoints[0], serverless=None)  # as an instance endpoint has
    monkeypatch.setattr(prepare, "load", lambda work_dir, stack: dataclasses.replace(settings, endpoints=[instance]))
    local.release_local(args(work), print)
    assert in_process == [(work / "e.tar.gz", "embeddings-dev", None)]
