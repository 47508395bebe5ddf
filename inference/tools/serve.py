"""Local endpoint: serve a built artifact the way its SageMaker container and the sagemaker-runtime API do.

Why: users try an endpoint without AWS, and unchanged client code must work against it, including the
error paths. So the server speaks both contracts:

- the container's (`GET /ping`, `POST /invocations`): the handler's client errors become their 4xx with a
  JSON reason, anything else a 500; the server keeps serving either way;
- sagemaker-runtime's (`POST /endpoints/{EndpointName}/invocations`, botocore's InvokeEndpoint model), so
  `boto3.client("sagemaker-runtime", endpoint_url=...)` gets what AWS would send: model failures as
  `ModelError` (HTTP 424, OriginalStatusCode/OriginalMessage), an unknown name or an oversize body as
  `ValidationError`, and requests beyond the serverless MaxConcurrency as `ThrottlingException`;
  with `--cold-start S`, a serverless cold start: from the first request on, S seconds of
  `ModelNotReadyException` (HTTP 429, as botocore's model declares it), then normal answers.

The handler is loaded like the containers load it: `code/` first on sys.path, then `code/inference.py`
(under a module name that cannot clash with this `inference` package), then `model_fn(model_dir)` once.
Inference runs in a thread pool as large as the concurrency limit, so a slow request never blocks /ping.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from inference.limits import ENDPOINT_NAME_PATTERN, MAX_CONCURRENCY, MAX_PAYLOAD_BYTES, VARIANT_NAME
from inference.manifest import MANIFEST_NAME, Manifest, read_manifest

DEFAULT_MAX_CONCURRENCY = 5  # the dev stack's MaxConcurrency
LOCAL_ACCOUNT = "000000000000"  # no AWS account here; shown where AWS names the caller's account
HANDLER_FUNCTIONS = ("model_fn", "input_fn", "predict_fn", "output_fn")
# What the server itself needs in an image-matching venv (pure Python packages).
# httptools + uvloop: uvicorn picks them up instead of pure-Python h11 / asyncio (a faster request path).
SERVER_REQUIREMENTS = ["starlette>=0.40", "uvicorn>=0.30", "httptools>=0.6", "uvloop>=0.19"]
HANDLER_TIME_HEADER = "X-Sls-Handler-Ms"  # container route only: the sagemaker-runtime route answers as AWS does
ROOT = Path(__file__).resolve().parents[2]


class ServeError(RuntimeError):
    """The artifact cannot be served (no handler, missing functions, model_fn failed, bad option)."""


@dataclass
class LoadedHandler:
    """An artifact's handler module and the model its model_fn returned."""

    module: ModuleType
    model: Any
    model_dir: Path
    manifest: dict[str, Any]
    load_s: float

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """input_fn -> predict_fn -> output_fn, as sagemaker-inference's Transformer runs them."""
        data = self.module.input_fn(body, content_type)
        prediction = self.module.predict_fn(data, self.model)
        response = self.module.output_fn(prediction, accept)
        out_type = accept
        if isinstance(response, tuple):  # (body, content_type) is accepted by the toolkits too
            response, out_type = response
        if isinstance(response, str):
            response = response.encode()
        return bytes(response), out_type


_load_lock = threading.Lock()
_load_count = 0


def load_handler(model_dir: Path) -> LoadedHandler:
    """Import model_dir/code/inference.py as the container does and call model_fn(model_dir) once."""
    global _load_count
    model_dir = Path(model_dir).resolve()
    code_dir = model_dir / "code"
    script = code_dir / "inference.py"
    if not script.is_file():
        raise ServeError(f"{model_dir} has no code/inference.py; serve an artifact from `python -m inference build`")
    manifest: dict[str, Any] = {}
    if (model_dir / "manifest.json").is_file():
        manifest = json.loads((model_dir / "manifest.json").read_text())
    t0 = time.perf_counter()
    with _load_lock:
        _load_count += 1
        # Our own package is called `inference`, so the handler gets a private module name; its siblings
        # (sls_*.py, vendored packages) resolve through code/ on sys.path, as in the container.
        name = f"sls_artifact_handler_{_load_count}"
        if str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))
        spec = importlib.util.spec_from_file_location(name, script)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise ServeError(f"importing {script} failed: {type(e).__name__}: {e}") from e
    missing = [f for f in HANDLER_FUNCTIONS if not callable(getattr(module, f, None))]
    if missing:
        raise ServeError(f"{script} does not define {', '.join(missing)} (the sagemaker-inference handler contract)")
    try:
        model = module.model_fn(str(model_dir))
    except Exception as e:
        raise ServeError(f"model_fn failed for {model_dir}: {type(e).__name__}: {e}") from e
    return LoadedHandler(module, model, model_dir, manifest, time.perf_counter() - t0)


def check_endpoint_name(name: str) -> str:
    if not ENDPOINT_NAME_PATTERN.match(name):
        raise ServeError(
            f"invalid endpoint name {name!r}: use 1-63 letters, digits and hyphens, starting and ending with a "
            "letter or digit (the SageMaker EndpointName pattern)"
        )
    return name


@dataclass
class EndpointState:
    """Mutable per-app state; touched only from the event loop thread, so no lock is needed."""

    handler: LoadedHandler
    name: str
    max_concurrency: int
    variant: str = VARIANT_NAME
    cold_start_s: float = 0.0
    warm_at: float | None = None  # monotonic time the simulated cold start ends (set by the first request)
    in_flight: int = 0
    stats: dict[str, int] = field(default_factory=lambda: {"served": 0, "throttled": 0, "client_errors": 0,
                                                            "server_errors": 0, "not_ready": 0})

    def cold(self) -> bool:
        """Whether a request now falls in the simulated cold start (which the first request begins)."""
        if self.cold_start_s <= 0:
            return False
        now = time.monotonic()
        if self.warm_at is None:
            self.warm_at = now + self.cold_start_s
        return now < self.warm_at


def create_app(handler: LoadedHandler, *, name: str = "local", max_concurrency: int | None = None,
               variant: str = VARIANT_NAME, cold_start_s: float = 0.0):  # -> starlette.applications.Starlette
    """The starlette app serving `handler` under both the container and the sagemaker-runtime routes.

    cold_start_s > 0 simulates a serverless cold start on the sagemaker-runtime route (the container route is
    the container's own, which never sees one).
    """
    import anyio
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    limit = max_concurrency if max_concurrency is not None else DEFAULT_MAX_CONCURRENCY
    if not 1 <= limit <= MAX_CONCURRENCY:
        raise ServeError(f"--max-concurrency must be between 1 and {MAX_CONCURRENCY} (serverless "
                         f"MaxConcurrency), got {limit}")
    if not 0 <= cold_start_s <= 600:
        raise ServeError(f"--cold-start must be between 0 and 600 seconds, got {cold_start_s}")
    state = EndpointState(handler, check_endpoint_name(name), limit, variant, cold_start_s)
    pool = anyio.CapacityLimiter(limit)

    class Oversize(Exception):
        pass

    async def read_body(request: Request) -> bytes:
        """The body, refused as soon as it is known to exceed the serverless payload limit."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
            raise Oversize(int(declared))
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_PAYLOAD_BYTES:
                raise Oversize(size)
            chunks.append(chunk)
        return b"".join(chunks)

    def run_handler(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str, float]:
        """(status, body, content type) the container would answer, and the handler's seconds; never raises."""
        t0 = time.perf_counter()
        try:
            out, out_type = handler.invoke(body, content_type, accept)
            return 200, out, out_type, time.perf_counter() - t0
        except (Exception, SystemExit) as e:  # noqa: BLE001 - the server must survive any handler failure
            status = getattr(e, "status_code", None)
            if isinstance(status, int) and 400 <= status < 500:
                reason = getattr(e, "reason", None) or getattr(e, "message", None) or str(e)
                kind = "ClientError"
            else:
                status, reason, kind = 500, f"{type(e).__name__}: {e}", "InternalServerError"
                print(f"[serve] handler failed: {reason}", file=sys.stderr)
            payload = {"code": status, "type": kind, "message": str(reason)}
            return status, json.dumps(payload).encode(), "application/json", time.perf_counter() - t0

    async def invoke(request: Request) -> tuple[int, bytes, str, float]:
        content_type = request.headers.get("content-type") or "application/json"
        accept = request.headers.get("accept") or "application/json"
        if accept == "*/*":  # sagemaker-inference falls back to its default accept for */*
            accept = "application/json"
        body = await read_body(request)
        return await anyio.to_thread.run_sync(run_handler, body, content_type, accept, limiter=pool)

    def record(status: int) -> None:
        key = "served" if status < 400 else "client_errors" if status < 500 else "server_errors"
        state.stats[key] += 1

    async def ping(request: Request) -> Response:
        return Response(b"\n", status_code=200, media_type="text/plain")

    async def invocations(request: Request) -> Response:
        """The container route: what the model server in the image answers."""
        if state.in_flight >= state.max_concurrency:
            state.stats["throttled"] += 1
            return JSONResponse({"code": 429, "type": "TooManyRequests", "message": _throttle_message(state)}, 429)
        state.in_flight += 1
        try:
            status, body, out_type, handler_s = await invoke(request)
        except Oversize as e:
            return JSONResponse({"code": 413, "type": "PayloadTooLarge", "message": _oversize_message(e.args[0])}, 413)
        except ClientDisconnect:
            return Response(status_code=499)
        finally:
            state.in_flight -= 1
        record(status)
        # Local-only header: the handler's own time, so a client can tell what the HTTP path adds (the bench does).
        return Response(body, status_code=status, media_type=out_type,
                        headers={HANDLER_TIME_HEADER: f"{handler_s * 1000:.3f}"})

    async def runtime_invocations(request: Request) -> Response:
        """The sagemaker-runtime InvokeEndpoint route, answering as the AWS front end does."""
        request_id = str(uuid.uuid4())
        name = request.path_params["name"]
        if name != state.name:
            # Observed AWS answer: ValidationError "Endpoint NAME of account ACCOUNT not found."
            return _aws_error(400, "ValidationError", request_id,
                              {"ErrorCode": "NO_SUCH_ENDPOINT",
                               "Message": f"Endpoint {name} of account {LOCAL_ACCOUNT} not found. "
                                          f"This local endpoint serves {state.name!r}."})
        if state.cold():
            state.stats["not_ready"] += 1
            # botocore's model: ModelNotReadyException, HTTP 429, a Message member ("resources are still being
            # provisioned"); its standard retry mode does not retry it, the caller must.
            return _aws_error(429, "ModelNotReadyException", request_id,
                              {"Message": f"Endpoint {state.name} is not ready yet: its serverless resources are "
                                          f"being provisioned (local cold start of {state.cold_start_s:g} s, "
                                          f"--cold-start). Wait and try your request again."})
        if state.in_flight >= state.max_concurrency:
            state.stats["throttled"] += 1
            # Serverless endpoints answer invocations beyond MaxConcurrency with ThrottlingException (code
            # seen in boto3 errors against serverless endpoints). HTTP 400 is the status botocore's legacy
            # retry policy pairs with that code, so a default client retries it 4 times like against AWS.
            return _aws_error(400, "ThrottlingException", request_id, {"message": _throttle_message(state)})
        state.in_flight += 1
        try:
            status, body, out_type, _ = await invoke(request)
        except Oversize as e:
            # Observed on serverless: ValidationError "Request <id> has oversize body."
            return _aws_error(400, "ValidationError", request_id,
                              {"Message": f"Request {request_id} has oversize body. {_oversize_message(e.args[0])}"})
        except ClientDisconnect:
            return Response(status_code=499)
        finally:
            state.in_flight -= 1
        record(status)
        if status >= 400:
            return _model_error(state, request_id, status, body)
        return Response(body, status_code=200, media_type=out_type,
                        headers={"x-Amzn-Invoked-Production-Variant": state.variant, "x-amzn-RequestId": request_id})

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/endpoints/{name}/invocations", runtime_invocations, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.endpoint = state
    return app


def _throttle_message(state: EndpointState) -> str:
    return (f"Rate exceeded: endpoint {state.name} already has {state.max_concurrency} invocations in flight, its "
            f"MaxConcurrency (--max-concurrency {state.max_concurrency}). Retry with backoff or raise MaxConcurrency.")


def _oversize_message(size: int) -> str:
    return (f"The request body is at least {size} bytes; serverless endpoints accept at most "
            f"{MAX_PAYLOAD_BYTES} bytes (4 MB). Send fewer or shorter inputs per request.")


def _aws_error(status: int, code: str, request_id: str, body: dict[str, Any]):  # -> starlette Response
    """An error as the AWS REST-JSON front end sends it: botocore reads the code from x-amzn-ErrorType."""
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status, headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id})


def _model_error(state: EndpointState, request_id: str, status: int, body: bytes):  # -> starlette Response
    """ModelError (HTTP 424) carrying the container's status and body, shaped like AWS's."""
    original = body.decode("utf-8", "replace")
    side = "client" if status < 500 else "server"
    payload: dict[str, Any] = {
        "Message": f'Received {side} error ({status}) from primary with message "{original}". '
                   f"See the local endpoint's log for more information.",
        "OriginalStatusCode": status,
        "OriginalMessage": original,
        "LogStreamArn": f"arn:aws:logs:local:{LOCAL_ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{state.name}",
    }
    if status < 500:
        payload["ErrorCode"] = "CLIENT_ERROR_FROM_MODEL"
    return _aws_error(424, "ModelError", request_id, payload)


@contextlib.contextmanager
def running_server(app, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning",
                   startup_timeout: float = 30.0) -> Iterator[str]:
    """Run `app` with uvicorn in a background thread; yields its base URL and stops it on exit.

    port=0 lets the OS pick a free port (no race between choosing and binding it).
    """
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="off"))
    thread = threading.Thread(target=server.run, name="sls-local-endpoint", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ServeError(f"the local endpoint did not start on {host}:{port} (is the port already in use?)")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{bound[0]}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def open_artifact(artifact: Path) -> Iterator[Path]:
    """An unpacked, verified model directory for a model.tar.gz (temporary) or an unpacked directory (as is)."""
    from inference.build.artifact import ArtifactError, IntegrityError, unpack

    artifact = Path(artifact)
    if artifact.is_dir():
        yield artifact
        return
    if not artifact.is_file():
        raise ServeError(f"artifact {artifact} does not exist; build one with `python -m inference build ...`")
    with tempfile.TemporaryDirectory(prefix="sls-serve-") as tmp:
        try:
            yield unpack(artifact, Path(tmp) / "model")
        except (ArtifactError, IntegrityError, OSError, ValueError, tarfile.TarError) as e:
            raise ServeError(f"cannot serve {artifact}: {e}") from e


def artifact_manifest(artifact: Path) -> Manifest | None:
    """The manifest of a model.tar.gz or an unpacked artifact directory (None: a directory without one)."""
    artifact = Path(artifact)
    if artifact.is_dir() and not (artifact / MANIFEST_NAME).is_file():
        return None
    return read_manifest(artifact)


def serving_python(manifest: Manifest | None, *, log=print) -> Path | None:
    """An interpreter that runs the artifact as its image would, when this one cannot; else None.

    Why: an artifact carries what its image lacks for the image's Python, and only loads where that matches.
    - scikit-learn: the handler refuses any scikit-learn but the one it was pickled with (the image's: 1.4.2 on
      Python 3.10 for sklearn-1.4-2), so it is served from a cached venv of the image's packages.
    - onnx embeddings: onnxruntime/tokenizers are vendored into code/ for the image's Python (3.12), and code/
      comes first on sys.path, so another Python cannot import them; served from a venv of the image's Python
      with only the image's numpy, like the container.
    - torch embeddings vendor nothing and run on this venv's torch.
    Each venv is built once (inference.build.venvs) with starlette + uvicorn added for the server itself.
    """
    from inference.build.containers import get_container
    from inference.build.venvs import ensure_venv

    if manifest is None:
        return None
    framework = manifest.framework
    container_key = manifest.container.key
    this_python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if framework == "sklearn":
        from inference.build.sklearn import TRAIN_REQUIREMENTS

        container = get_container(container_key)
        wanted = manifest.model.sklearn_version or container.packages.get("scikit-learn")
        try:
            have = importlib.metadata.version("scikit-learn")
        except importlib.metadata.PackageNotFoundError:
            have = None
        if have == wanted:
            return None
        requirements = TRAIN_REQUIREMENTS[container.key]
        why = f"scikit-learn {wanted} (this environment has {have})"
    elif framework == "huggingface" and manifest.vendored:
        container = get_container(container_key)
        if container.python == this_python:
            return None
        from inference.build.vendor import IMAGE_NUMPY

        requirements = [IMAGE_NUMPY]
        why = f"packages vendored for Python {container.python} (this is Python {this_python})"
    else:
        return None
    log(f"[serve] the artifact targets {container.image} with {why}: serving it from a matching Python "
        f"{container.python} venv (built once, cached in .cache/venvs)")
    return ensure_venv(f"serve-{container.key}", container.python, [*requirements, *SERVER_REQUIREMENTS], log=log)


def _reexec(python: Path, args: argparse.Namespace) -> None:
    """Replace this process by the server under `python` (signals then reach the server directly)."""
    argv = [str(python), "-m", "inference.tools.serve", str(Path(args.artifact).resolve()), "--host", args.host,
            "--port", str(args.port), "--name", args.name, "--log-level", args.log_level, "--python", "current"]
    if args.max_concurrency is not None:
        argv += ["--max-concurrency", str(args.max_concurrency)]
    if args.cold_start:
        argv += ["--cold-start", str(args.cold_start)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(str(python), argv, env)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artifact", type=Path,
                        help="model.tar.gz built by `python -m inference build` (or its unpacked directory)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080, as in the containers)")
    parser.add_argument("--max-concurrency", type=int, default=None,
                        help=f"invocations in flight before throttling (1-{MAX_CONCURRENCY}; default "
                             f"{DEFAULT_MAX_CONCURRENCY}, the dev stack's MaxConcurrency)")
    parser.add_argument("--name", default="local", help="endpoint name for /endpoints/NAME/invocations (default local)")
    parser.add_argument("--cold-start", type=float, default=0.0, metavar="SECONDS",
                        help="simulate a serverless cold start: the sagemaker-runtime route answers "
                             "ModelNotReadyException for SECONDS after the first request (default 0: none)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--python", default="auto",
                        help="interpreter to serve with: auto (default: an image-matching venv when the artifact "
                             "cannot load here, see serving_python), current, or a path")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    try:
        check_endpoint_name(args.name)
        if args.python != "current":
            python = Path(args.python) if args.python != "auto" else serving_python(artifact_manifest(args.artifact))
            if python is not None:
                if not python.is_file():
                    raise ServeError(f"--python {python}: no such interpreter")
                _reexec(python, args)
        with open_artifact(args.artifact) as model_dir:
            print(f"[serve] loading {args.artifact} ...", flush=True)
            handler = load_handler(model_dir)
            app = create_app(handler, name=args.name, max_concurrency=args.max_concurrency,
                             cold_start_s=args.cold_start)
            state: EndpointState = app.state.endpoint
            base = f"http://{args.host}:{args.port}"
            print(f"[serve] model_fn done in {handler.load_s:.2f} s; endpoint {state.name!r}, max concurrency "
                  f"{state.max_concurrency}", flush=True)
            print(f"[serve] listening on {base}  (GET /ping, POST /invocations, "
                  f"POST /endpoints/{state.name}/invocations; Ctrl-C to stop)", flush=True)
            uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, lifespan="off")
    except (RuntimeError, ValueError, OSError, subprocess.CalledProcessError) as e:  # ServeError, VenvUnavailable...
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m inference.tools.serve`: the serve command alone (what an image-matching venv runs)."""
    parser = argparse.ArgumentParser(prog="python -m inference.tools.serve", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
