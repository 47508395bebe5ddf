"""The local endpoint over real HTTP: container routes, the sagemaker-runtime route with boto3, errors, throttling."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import boto3
import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))  # the client tests' endpoint helpers
from botocore.config import Config
from botocore.exceptions import ClientError
from endpoint_fixtures import wait_for_ping  # noqa: E402
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inference.handlers.sls_errors as sls_errors
from inference.build.artifact import pack, write_manifest
from inference.build.venvs import VenvUnavailable, find_python
from inference.limits import MAX_PAYLOAD_BYTES
from inference.manifest import ContainerRef, HandlerInfo, Manifest, ModelInfo
from inference.tools.serve import (
    HANDLER_TIME_HEADER,
    ServeError,
    create_app,
    load_handler,
    running_server,
)

ROOT = Path(__file__).resolve().parents[3]

# A small handler with the same contract as ours: RequestError for bad input, a gate to hold requests in flight.
ECHO_HANDLER = '''
import json
import threading

from sls_errors import RequestError


def model_fn(model_dir):
    with open(model_dir + "/factor.txt") as f:
        return {"factor": int(f.read()), "gate": threading.Event()}


def input_fn(body, content_type):
    if content_type != "application/json":
        raise RequestError(415, "content type %s is not supported; use application/json" % content_type)
    try:
        data = json.loads(body)
    except ValueError as e:
        raise RequestError(400, "malformed JSON: %s" % e)
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), int):
        raise RequestError(400, 'expected {"inputs": <integer>}')
    return data


def predict_fn(data, model):
    if data.get("wait"):
        model["gate"].wait(60)
    if data.get("crash"):
        raise ZeroDivisionError("boom")
    if data.get("exit"):
        raise SystemExit(3)
    return {"inputs": data["inputs"], "times_factor": data["inputs"] * model["factor"]}


def output_fn(prediction, accept):
    if accept != "application/json":
        raise RequestError(406, "accept %s is not supported; use application/json" % accept)
    return json.dumps(prediction)
'''


def make_model_dir(root: Path, handler: str = ECHO_HANDLER, factor: int = 7) -> Path:
    (root / "code").mkdir(parents=True)
    (root / "code" / "inference.py").write_text(textwrap.dedent(handler))
    shutil.copy(sls_errors.__file__, root / "code" / "sls_errors.py")
    (root / "factor.txt").write_text(str(factor))
    return root


def runtime_client(url: str, **config) -> object:
    return boto3.client(
        "sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x", config=Config(**config) if config else None,
    )


@pytest.fixture(scope="module")
def handler(tmp_path_factory: pytest.TempPathFactory):
    return load_handler(make_model_dir(tmp_path_factory.mktemp("echo") / "model"))


@pytest.fixture(scope="module")
def server(handler) -> Iterator[tuple[str, object]]:
    app = create_app(handler, name="echo", max_concurrency=4)
    with running_server(app) as url:
        yield url, app


def test_ping_and_invocations(server) -> None:
    url, _ = server
    assert httpx.get(f"{url}/ping").status_code == 200
    r = httpx.post(f"{url}/invocations", content=b'{"inputs": 6}', headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"inputs": 6, "times_factor": 42}
    # the container route tells a local client the handler's own time (the bench subtracts it)
    assert 0 <= float(r.headers[HANDLER_TIME_HEADER]) < 60_000


def test_the_runtime_route_answers_with_aws_headers_only(server) -> None:
    url, _ = server
    r = httpx.post(f"{url}/endpoints/echo/invocations", content=b'{"inputs": 1}',
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and "x-amzn-requestid" in r.headers
    assert HANDLER_TIME_HEADER.lower() not in r.headers


def test_boto3_invoke_endpoint_unchanged_client_code(server) -> None:
    url, _ = server
    resp = runtime_client(url).invoke_endpoint(EndpointName="echo", Body=b'{"inputs": 3}',
                                               ContentType="application/json", Accept="application/json")
    assert json.loads(resp["Body"].read()) == {"inputs": 3, "times_factor": 21}
    assert resp["ContentType"].startswith("application/json")
    assert resp["InvokedProductionVariant"] == "AllTraffic"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "malformed JSON"),
        (b'{"inputs": "x"}', {"Content-Type": "application/json"}, 400, "expected"),
        (b"1,2", {"Content-Type": "text/csv"}, 415, "text/csv is not supported"),
        (b'{"inputs": 1}', {"Content-Type": "application/json", "Accept": "text/csv"}, 406, "accept text/csv"),
    ],
)
def test_client_errors_are_4xx_with_the_handlers_reason(server, body, headers, status, reason) -> None:
    url, _ = server
    r = httpx.post(f"{url}/invocations", content=body, headers=headers)
    assert r.status_code == status
    assert reason in r.json()["message"]


def test_model_client_error_is_boto3_model_error_with_original_status(server) -> None:
    url, _ = server
    client = runtime_client(url)
    with pytest.raises(client.exceptions.ModelError) as info:
        client.invoke_endpoint(EndpointName="echo", Body=b"{oops", ContentType="application/json")
    err = info.value.response
    assert err["Error"]["Code"] == "ModelError"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert err["OriginalStatusCode"] == 400
    assert "malformed JSON" in json.loads(err["OriginalMessage"])["message"]
    assert err["Error"]["Message"].startswith("Received client error (400) from primary with message")


@pytest.mark.parametrize("fault", ["crash", "exit"])
def test_handler_failures_are_500_and_the_server_keeps_serving(server, fault) -> None:
    url, _ = server
    r = httpx.post(f"{url}/invocations", content=json.dumps({"inputs": 1, fault: True}),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 500
    assert r.json()["message"]  # names the exception
    client = runtime_client(url)
    with pytest.raises(client.exceptions.ModelError) as info:
        client.invoke_endpoint(EndpointName="echo", Body=json.dumps({"inputs": 1, fault: True}),
                               ContentType="application/json")
    assert info.value.response["OriginalStatusCode"] == 500
    assert info.value.response["Error"]["Message"].startswith("Received server error (500)")
    good = httpx.post(f"{url}/invocations", content=b'{"inputs": 2}', headers={"Content-Type": "application/json"})
    assert good.json() == {"inputs": 2, "times_factor": 14}


def test_unknown_endpoint_name_is_validation_error_like_aws(server) -> None:
    url, _ = server
    client = runtime_client(url)
    with pytest.raises(ClientError) as info:
        client.invoke_endpoint(EndpointName="nope", Body=b'{"inputs": 1}', ContentType="application/json")
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Endpoint nope of account" in info.value.response["Error"]["Message"]
    assert "not found" in info.value.response["Error"]["Message"]


def test_oversize_body_is_refused_and_the_server_keeps_serving(server) -> None:
    url, _ = server
    big = b'{"inputs": 1, "pad": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}'
    r = httpx.post(f"{url}/invocations", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert str(MAX_PAYLOAD_BYTES) in r.json()["message"]
    client = runtime_client(url, retries={"max_attempts": 0})
    with pytest.raises(ClientError) as info:
        client.invoke_endpoint(EndpointName="echo", Body=big, ContentType="application/json")
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert "oversize body" in info.value.response["Error"]["Message"]
    # Without Content-Length (chunked upload) the limit holds too.
    r = httpx.post(f"{url}/invocations", content=iter([big[:3_000_000], big[3_000_000:]]),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    ok = client.invoke_endpoint(EndpointName="echo", Body=b'{"inputs": 5}', ContentType="application/json")
    assert json.loads(ok["Body"].read())["times_factor"] == 35


def test_body_at_the_limit_is_accepted(server) -> None:
    url, _ = server
    head, tail = b'{"inputs": 1, "pad": "', b'"}'
    body = head + b"x" * (MAX_PAYLOAD_BYTES - len(head) - len(tail)) + tail
    assert len(body) == MAX_PAYLOAD_BYTES
    r = httpx.post(f"{url}/invocations", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert r.json()["times_factor"] == 7


def test_excess_concurrent_requests_are_throttled_and_admitted_ones_answer_their_own_input(
    tmp_path: Path,
) -> None:
    h = load_handler(make_model_dir(tmp_path / "model"))
    app = create_app(h, name="echo", max_concurrency=2)
    gate = h.model["gate"]
    with running_server(app) as url:
        client = runtime_client(url, retries={"mode": "standard", "total_max_attempts": 1})

        def call(i: int) -> int:
            resp = client.invoke_endpoint(EndpointName="echo", Body=json.dumps({"inputs": i, "wait": True}),
                                          ContentType="application/json")
            out = json.loads(resp["Body"].read())
            assert out["inputs"] == i
            return out["times_factor"]

        with ThreadPoolExecutor(8) as pool:
            futures = {pool.submit(call, i): i for i in range(8)}
            throttled = []
            # The two admitted requests block on the gate, so the six finished ones can only be throttled.
            for fut in as_completed(futures, timeout=60):
                err = fut.exception()
                assert isinstance(err, ClientError), f"request {futures[fut]} finished before the gate opened"
                throttled.append(err)
                if len(throttled) == 6:
                    break
            pending = [f for f in futures if not f.done()]
            assert len(pending) == 2
            assert app.state.endpoint.in_flight == 2
            gate.set()
            results = {futures[f]: f.result(timeout=60) for f in pending}
    for err in throttled:
        assert err.response["Error"]["Code"] == "ThrottlingException"
        assert "MaxConcurrency" in err.response["Error"]["Message"]
    assert results == {i: i * 7 for i in results}
    assert app.state.endpoint.stats["throttled"] == 6


def test_default_boto3_retry_policy_treats_the_throttle_as_retryable(tmp_path: Path) -> None:
    """botocore's legacy retry mode (the default) retries it, like against a real serverless endpoint."""
    h = load_handler(make_model_dir(tmp_path / "model"))
    app = create_app(h, name="echo", max_concurrency=1)
    with running_server(app) as url:
        blocker = threading.Thread(target=lambda: httpx.post(
            f"{url}/invocations", content=b'{"inputs": 1, "wait": true}',
            headers={"Content-Type": "application/json"}, timeout=60))
        blocker.start()
        try:
            while app.state.endpoint.in_flight < 1:
                time.sleep(0.01)
            client = runtime_client(url, retries={"mode": "legacy", "max_attempts": 1})
            with pytest.raises(ClientError) as info:
                client.invoke_endpoint(EndpointName="echo", Body=b'{"inputs": 2}', ContentType="application/json")
        finally:
            h.model["gate"].set()
            blocker.join()
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert "reached max retries: 1" in str(info.value)


def test_concurrent_clients_get_their_own_answers(server) -> None:
    url, _ = server  # max concurrency 4, four sequential clients: never throttled

    def client_loop(c: int) -> list[tuple[int, dict]]:
        client = runtime_client(url)
        out = []
        for k in range(20):
            i = c * 1000 + k
            resp = client.invoke_endpoint(EndpointName="echo", Body=json.dumps({"inputs": i}),
                                          ContentType="application/json")
            out.append((i, json.loads(resp["Body"].read())))
        return out

    with ThreadPoolExecutor(4) as pool:
        answers = [a for chunk in pool.map(client_loop, range(4)) for a in chunk]
    assert len(answers) == 80
    for i, out in answers:
        assert out == {"inputs": i, "times_factor": i * 7}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200), content_type=st.sampled_from(["application/json", "text/csv", "", "a/b; x=1"]))
def test_arbitrary_requests_never_kill_the_server(server, body: bytes, content_type: str) -> None:
    url, _ = server
    headers = {"Content-Type": content_type} if content_type else {}
    r = httpx.post(f"{url}/invocations", content=body, headers=headers)
    assert r.status_code in (200, 400, 406, 415)
    assert httpx.get(f"{url}/ping").status_code == 200


def test_load_handler_refuses_incomplete_artifacts(tmp_path: Path) -> None:
    with pytest.raises(ServeError, match="no code/inference.py"):
        load_handler(tmp_path)
    partial = make_model_dir(tmp_path / "partial", handler="def model_fn(d):\n    return 1\n")
    with pytest.raises(ServeError, match="does not define input_fn, predict_fn, output_fn"):
        load_handler(partial)
    failing = make_model_dir(tmp_path / "failing", handler=ECHO_HANDLER)
    (failing / "factor.txt").unlink()
    with pytest.raises(ServeError, match="model_fn failed"):
        load_handler(failing)


def test_handler_module_does_not_shadow_the_inference_package(handler) -> None:
    import inference

    assert handler.module.__name__ != "inference"
    assert sys.modules["inference"] is inference
    assert hasattr(inference, "__path__")  # still our package


def test_options_are_validated(handler) -> None:
    for bad in (0, 201):
        with pytest.raises(ServeError, match="between 1 and 200"):
            create_app(handler, max_concurrency=bad)
    with pytest.raises(ServeError, match="invalid endpoint name"):
        create_app(handler, name="no_underscores")


def test_max_concurrency_defaults_to_the_dev_stacks(tmp_path: Path) -> None:
    import yaml

    stack_file = Path(__file__).resolve().parents[3] / "Pulumi.dev.yaml"
    dev = yaml.safe_load(stack_file.read_text())["config"]["sls-endpoints:endpoints"]
    app = create_app(load_handler(make_model_dir(tmp_path / "m")))
    assert app.state.endpoint.max_concurrency == dev[0]["serverless"]["max_concurrency"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_a_tarball_and_refuses_a_tampered_one(tmp_path: Path) -> None:
    root = make_model_dir(tmp_path / "m")
    write_manifest(root, Manifest(framework="test", container=ContainerRef("test", "test", "1", "3.11"), runtime=None,
                                  handler=HandlerInfo(), model=ModelInfo(file="factor.txt")))
    tar = tmp_path / "model.tar.gz"
    pack(root, tar)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "inference", "serve", str(tar), "--port", str(port),
                             "--name", "cli", "--log-level", "warning"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_ping(url, proc, timeout=60, poll_s=0.1)
        resp = runtime_client(url).invoke_endpoint(EndpointName="cli", Body=b'{"inputs": 4}',
                                                   ContentType="application/json")
        assert json.loads(resp["Body"].read()) == {"inputs": 4, "times_factor": 28}
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    tampered_root = tmp_path / "tampered"
    shutil.copytree(root, tampered_root)
    (tampered_root / "factor.txt").write_text("8")  # changed after the manifest was written
    bad_tar = tmp_path / "bad.tar.gz"
    pack(tampered_root, bad_tar)
    out = subprocess.run([sys.executable, "-m", "inference", "serve", str(bad_tar), "--port", str(port)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "factor.txt was modified" in out.stderr


FIT_SCRIPT = """
import json, sys, joblib
from sklearn.linear_model import LogisticRegression
X = [[0.0, 0.0], [0.2, 0.1], [1.0, 1.0], [0.9, 1.2], [0.1, 0.3], [1.1, 0.8]]
y = [0, 0, 1, 1, 0, 1]
est = LogisticRegression().fit(X, y)
joblib.dump(est, sys.argv[1])
probe = [[0.05, 0.1], [1.0, 0.9]]
json.dump({"labels": est.predict(probe).tolist(), "proba": est.predict_proba(probe).tolist()}, open(sys.argv[2], "w"))
"""


@pytest.mark.slow
def test_cli_serves_a_sklearn_artifact_from_an_image_matching_venv(tmp_path: Path) -> None:
    """The artifact is pickled with the image's scikit-learn (1.4.2, Python 3.10), which this venv does not have;
    `serve` re-executes itself in a cached venv that matches the image, as the container would run it."""
    try:
        find_python("3.10")
    except VenvUnavailable as e:
        pytest.skip(f"needs Python 3.10 for the sklearn-1.4-2 image: {e}")
    from inference.build.sklearn import build_sklearn, train_python

    est, expected_file = tmp_path / "est.joblib", tmp_path / "expected.json"
    subprocess.run([str(train_python("sklearn-1.4-2")), "-c", FIT_SCRIPT, str(est), str(expected_file)], check=True)
    tar = Path(build_sklearn(est, tmp_path / "out", container="sklearn-1.4-2", measure=False,
                             log=lambda m: None).path)
    expected = json.loads(expected_file.read_text())
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "inference.tools.serve", str(tar), "--port", str(port),
                             "--name", "calls", "--log-level", "warning"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_ping(url, proc, timeout=900)  # first run builds the serving venv
        client = runtime_client(url)
        resp = client.invoke_endpoint(EndpointName="calls", Body=json.dumps({"instances": [[0.05, 0.1], [1.0, 0.9]]}),
                                      ContentType="application/json")
        predictions = json.loads(resp["Body"].read())["predictions"]
        # Exactly what scikit-learn 1.4.2 predicted in the training venv (the handler rounds to 6 places).
        assert [p["label"] for p in predictions] == expected["labels"]
        for p, proba in zip(predictions, expected["proba"], strict=True):
            assert [p["probabilities"][c] for c in ("0", "1")] == pytest.approx(proba, abs=1e-6)
        with pytest.raises(client.exceptions.ModelError) as info:
            client.invoke_endpoint(EndpointName="calls", Body=b'{"instances": [[1.0]]}', ContentType="application/json")
        assert info.value.response["OriginalStatusCode"] == 400
        assert "expects 2 features" in info.value.response["OriginalMessage"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def embeddings_artifact() -> Path:
    from inference.build.cache import default_embeddings_artifact

    return default_embeddings_artifact(log=lambda msg: None)  # the default runtime, cached under build/


@pytest.mark.slow
def test_serves_the_real_embeddings_artifact_through_boto3(embeddings_artifact: Path) -> None:
    """The default (onnx-int8) artifact carries packages vendored for its image's Python, so `serve` runs it
    under that Python; the answers must match sentence-transformers, in order, for concurrent clients too."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from inference.build.hub import default_model_path

    texts = ["A cat sleeps on the sofa.", "Serverless endpoints bill memory times duration.", "Bonjour le monde"]
    reference = SentenceTransformer(str(default_model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "inference.tools.serve", str(embeddings_artifact),
                             "--port", str(port), "--name", "minilm", "--max-concurrency", "4",
                             "--log-level", "warning"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_ping(url, proc, timeout=900)  # first run may build the image-matching venv
        client = runtime_client(url)

        def embed(batch: list[str]) -> np.ndarray:
            resp = client.invoke_endpoint(EndpointName="minilm", Body=json.dumps({"inputs": batch}),
                                          ContentType="application/json", Accept="application/json")
            out = json.loads(resp["Body"].read())
            assert out["dimensions"] == 384
            return np.asarray(out["embeddings"])

        got = embed(texts)
        assert got.shape == (3, 384)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-3)
        cosines = (got * reference).sum(axis=1)
        assert cosines.min() > 0.98  # the quality gate's minimum cosine
        # One per input, in order (int8 kernels vary ~1e-4 with a row's batch position; other texts differ by >0.1).
        np.testing.assert_allclose(embed(texts[::-1]), got[::-1], atol=1e-3)
        # Concurrent clients each get the embedding of their own text: the same vector as that text sent alone
        # (int8 activations are quantized per request, so alone and in a batch differ by rounding only).
        alone = [embed([t])[0] for t in texts]
        with ThreadPoolExecutor(4) as pool:
            singles = list(pool.map(lambda t: embed([t])[0], texts * 4))
        for i, vec in enumerate(singles):
            np.testing.assert_allclose(vec, alone[i % 3], atol=1e-4)
        for vec, ref in zip(alone, reference, strict=True):
            assert float(vec @ ref) > 0.98
        with pytest.raises(client.exceptions.ModelError) as info:
            client.invoke_endpoint(EndpointName="minilm", Body=b'{"inputs": []}', ContentType="application/json")
        assert info.value.response["OriginalStatusCode"] == 400
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_cold_start_simulation_answers_model_not_ready_then_serves(tmp_path: Path) -> None:
    """--cold-start: from the first request on, ModelNotReadyException (HTTP 429, as botocore models it) on the
    sagemaker-runtime route, which botocore's standard retry mode does not retry; the container route is unaffected."""
    h = load_handler(make_model_dir(tmp_path / "model"))
    app = create_app(h, name="echo", cold_start_s=0.5)
    with running_server(app) as url:
        client = runtime_client(url, retries={"mode": "standard", "max_attempts": 3})
        with pytest.raises(client.exceptions.ModelNotReadyException) as info:
            client.invoke_endpoint(EndpointName="echo", Body=b'{"inputs": 1}', ContentType="application/json")
        err = info.value.response
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert err["ResponseMetadata"]["RetryAttempts"] == 0  # not retried by botocore: callers must
        assert "not ready" in err["Error"]["Message"] and "provisioned" in err["Error"]["Message"]
        direct = httpx.post(f"{url}/invocations", content=b'{"inputs": 2}',
                            headers={"Content-Type": "application/json"})
        assert direct.status_code == 200
        while app.state.endpoint.cold():
            time.sleep(0.05)
        resp = client.invoke_endpoint(EndpointName="echo", Body=b'{"inputs": 3}', ContentType="application/json")
        assert json.loads(resp["Body"].read())["times_factor"] == 21
    assert app.state.endpoint.stats["not_ready"] == 1
    with pytest.raises(ServeError, match="--cold-start must be between 0 and 600"):
        create_app(h, cold_start_s=-1)


# ------------------------------------------------------------------------------------------ throttling, both routes
CONTAINER_ROUTE = "/invocations"
RUNTIME_ROUTE = "/endpoints/echo/invocations"


def _expect_throttled(route: str, r: httpx.Response) -> None:
    """What each route answers beyond MaxConcurrency."""
    if route == CONTAINER_ROUTE:  # the model server's own answer: 429 Too Many Requests
        assert r.status_code == 429, f"{route}: {r.status_code} {r.text}"
        body = r.json()
        assert (body["code"], body["type"]) == (429, "TooManyRequests"), f"{route}: {body}"
        message = body["message"]
    else:  # the AWS front end's: ThrottlingException, with the status botocore's legacy retry pairs with it
        assert r.status_code == 400, f"{route}: {r.status_code} {r.text}"
        assert r.headers["x-amzn-ErrorType"] == "ThrottlingException", f"{route}: {dict(r.headers)}"
        assert r.headers["x-amzn-RequestId"], route
        message = r.json()["message"]
    assert "endpoint echo already has 1 invocations in flight" in message, f"{route}: {message}"
    assert "MaxConcurrency (--max-concurrency 1)" in message, f"{route}: {message}"


@pytest.mark.parametrize("busy_route", [CONTAINER_ROUTE, RUNTIME_ROUTE], ids=["busy-container", "busy-runtime"])
@pytest.mark.parametrize("route", [CONTAINER_ROUTE, RUNTIME_ROUTE], ids=["container-route", "runtime-route"])
def test_both_routes_throttle_beyond_max_concurrency_and_serve_again_once_a_slot_frees(
    tmp_path: Path, route: str, busy_route: str,
) -> None:
    """One limit for the endpoint: a request in flight on either route makes the next one on either throttled."""
    h = load_handler(make_model_dir(tmp_path / "model"))
    app = create_app(h, name="echo", max_concurrency=1)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    with running_server(app) as url:
        answers: list[httpx.Response] = []
        blocker = threading.Thread(target=lambda: answers.append(httpx.post(
            f"{url}{busy_route}", content=b'{"inputs": 1, "wait": true}', headers=headers, timeout=60)))
        blocker.start()
        try:
            deadline = time.monotonic() + 60
            while app.state.endpoint.in_flight < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert app.state.endpoint.in_flight == 1, "the blocking request never started"
            _expect_throttled(route, httpx.post(f"{url}{route}", content=b'{"inputs": 2}', headers=headers,
                                                timeout=60))
            assert app.state.endpoint.stats["throttled"] == 1
        finally:
            h.model["gate"].set()
            blocker.join()
        assert answers[0].status_code == 200 and answers[0].json()["times_factor"] == 7  # the admitted one
        assert app.state.endpoint.in_flight == 0
        r = httpx.post(f"{url}{route}", content=b'{"inputs": 3}', headers=headers, timeout=60)
        assert r.status_code == 200 and r.json()["times_factor"] == 21, f"{route} after the slot freed: {r.text}"
    assert app.state.endpoint.stats["throttled"] == 1 and app.state.endpoint.stats["served"] == 2


@pytest.mark.parametrize("route", [CONTAINER_ROUTE, RUNTIME_ROUTE], ids=["container-route", "runtime-route"])
def test_up_to_max_concurrency_requests_in_flight_are_all_admitted(tmp_path: Path, route: str) -> None:
    """The limit is reached at max_concurrency in flight, not one before: with 2 allowed, 2 held are both served."""
    h = load_handler(make_model_dir(tmp_path / "model"))
    app = create_app(h, name="echo", max_concurrency=2)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    with running_server(app) as url:
        with ThreadPoolExecutor(2) as pool:
            futures = []
            for i in range(2):
                futures.append(pool.submit(httpx.post, f"{url}{route}", content=json.dumps({"inputs": i, "wait": True}),
                                           headers=headers, timeout=60))
                deadline = time.monotonic() + 60
                while app.state.endpoint.in_flight < i + 1 and not futures[-1].done() and time.monotonic() < deadline:
                    time.sleep(0.01)
            assert app.state.endpoint.in_flight == 2, [f.result().text for f in futures if f.done()]
            h.model["gate"].set()
            answers = [f.result(timeout=60) for f in futures]
    assert [a.status_code for a in answers] == [200, 200]
    assert app.state.endpoint.stats["throttled"] == 0
