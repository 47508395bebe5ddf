"""EmbeddingClient over real HTTP against the local endpoint (fake handler): batching, order, throttling,
cold starts, model errors, payload splitting."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from endpoint_fixtures import FAST_RETRY, local_endpoint

from inference.client import (
    EmbeddingClient,
    EndpointRequestError,
    EndpointUnavailableError,
    ModelRequestError,
    PayloadTooLargeError,
    RetryPolicy,
)
from inference.client.embeddings import DEFAULT_MAX_BATCH


def client_for(url: str, name: str = "fake", **kwargs) -> EmbeddingClient:
    retry = kwargs.pop("retry", None) or RetryPolicy(max_attempts=50, total_timeout_s=60, **FAST_RETRY)
    kwargs.setdefault("max_batch", 4)
    return EmbeddingClient(name, endpoint_url=url, retry=retry, **kwargs)


def expected(handler, texts: list[str]) -> list[list[float]]:
    """What the fake model computes for each text, rounded to float32 as the client hands vectors back."""
    from array import array

    return [array("f", handler.module.vector(t)).tolist() for t in texts]


def test_many_texts_come_back_in_input_order_split_under_max_batch(endpoint) -> None:
    url, handler, app = endpoint
    texts = [f"sentence number {i} about topic {i % 7}" for i in range(50)]
    client = client_for(url, concurrency=3)
    vectors = client.embed_many(texts)
    assert vectors == expected(handler, texts)
    assert sorted(handler.model["seen"]) == sorted(texts)  # each text sent once
    assert client.metrics["requests"] == 13  # ceil(50 / 4)
    assert app.state.endpoint.stats["served"] == 13
    assert client.metrics["retries"] == 0


def test_a_single_string_gives_a_flat_vector_not_the_endpoints_nested_list(endpoint) -> None:
    url, handler, _ = endpoint
    client = client_for(url)
    vec = client.embed("hello world")
    assert isinstance(vec, list) and isinstance(vec[0], float)
    assert vec == expected(handler, ["hello world"])[0]
    assert client.embed_many(["hello world"]) == [vec]
    assert client.embed_many([]) == []
    with pytest.raises(TypeError, match="use embed_many"):
        client.embed(["a list"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="use embed\\(\\)"):
        client.embed_many("one string")


def test_numpy_output_is_optional(endpoint) -> None:
    np = pytest.importorskip("numpy")
    url, handler, _ = endpoint
    client = client_for(url)
    arr = client.embed_many(["a b", "c d", "e f"], as_numpy=True)
    assert arr.dtype == np.float32 and arr.shape == (3, 64)
    np.testing.assert_array_equal(arr, np.asarray(expected(handler, ["a b", "c d", "e f"]), dtype=np.float32))
    assert client.embed("a b", as_numpy=True).shape == (64,)


def test_duplicate_texts_are_sent_once_and_answered_at_every_position(endpoint) -> None:
    url, handler, _ = endpoint
    texts = ["x y", "z", "x y", "z", "w"]
    vectors = client_for(url).embed_many(texts)
    assert Counter(handler.model["seen"]) == {"x y": 1, "z": 1, "w": 1}
    assert vectors == expected(handler, texts)


def test_requests_stay_under_the_payload_limit(endpoint) -> None:
    url, handler, _ = endpoint
    texts = [f"{i} " + "é" * 60 for i in range(12)]  # ~130 bytes each as UTF-8 JSON
    client = client_for(url, max_batch=32, max_payload_bytes=400)
    assert client.embed_many(texts) == expected(handler, texts)
    assert max(handler.model["bodies"]) <= 400
    assert len(handler.model["bodies"]) > 3  # split by size, not by count
    with pytest.raises(PayloadTooLargeError, match="input 1 is"):
        client.embed_many(["short", "y" * 500])


def test_max_batch_default_equals_the_handlers() -> None:
    from inference.handlers.embeddings import DEFAULT_MAX_BATCH as HANDLER_MAX_BATCH

    assert DEFAULT_MAX_BATCH == HANDLER_MAX_BATCH


def test_throttling_with_max_concurrency_1_and_parallel_callers_embeds_every_text_once_in_order(
    tmp_path: Path,
) -> None:
    with local_endpoint(tmp_path, max_concurrency=1) as (url, handler, app):
        gate = handler.model["gate"]
        gate.clear()  # the first admitted request holds the endpoint's only slot until others were throttled
        callers = {c: [f"caller {c} text {i}" for i in range(12)] for c in range(3)}
        patient = RetryPolicy(max_attempts=10_000, total_timeout_s=60, **FAST_RETRY)  # bounded by time alone
        clients = {c: client_for(url, concurrency=3, max_batch=2, retry=patient) for c in callers}
        with ThreadPoolExecutor(3) as pool:
            futures = {c: pool.submit(clients[c].embed_many, texts) for c, texts in callers.items()}
            deadline = time.monotonic() + 30
            while app.state.endpoint.stats["throttled"] < 3:
                assert time.monotonic() < deadline, "no request was throttled"
                time.sleep(0.01)
            gate.set()
            results = {c: f.result(timeout=60) for c, f in futures.items()}
    for c, texts in callers.items():
        assert results[c] == expected(handler, texts)
    every = [t for texts in callers.values() for t in texts]
    assert Counter(handler.model["seen"]) == Counter(every)  # exactly once each
    throttles = sum(cl.metrics["throttles"] for cl in clients.values())
    assert throttles == app.state.endpoint.stats["throttled"] >= 3
    assert sum(cl.metrics["retries"] for cl in clients.values()) == throttles


def test_throttling_beyond_the_budget_names_the_endpoint_code_and_what_to_change(tmp_path: Path) -> None:
    with local_endpoint(tmp_path, max_concurrency=1) as (url, handler, app):
        handler.model["gate"].clear()
        holder = threading.Thread(target=lambda: client_for(url).embed("hold the slot"))
        holder.start()
        try:
            while app.state.endpoint.in_flight < 1:
                time.sleep(0.01)
            client = client_for(url, retry=RetryPolicy(max_attempts=3, **FAST_RETRY))
            with pytest.raises(EndpointUnavailableError) as info:
                client.embed("never admitted")
        finally:
            handler.model["gate"].set()
            holder.join()
    err = info.value
    assert err.code == "ThrottlingException" and err.attempts == 3 and err.endpoint == "fake"
    for words in ("endpoint fake", "3 attempt(s)", "ThrottlingException", "max_concurrency", "concurrency (now"):
        assert words in str(err)
    assert client.metrics["throttles"] == 3 and client.metrics["retries"] == 2 and client.metrics["failures"] == 1


def test_a_cold_start_answers_model_not_ready_first_and_the_client_waits_it_out(tmp_path: Path) -> None:
    with local_endpoint(tmp_path, cold_start_s=0.3) as (url, handler, app):
        client = client_for(url)
        assert client.embed_many(["first call", "after idling"]) == expected(handler, ["first call", "after idling"])
        assert app.state.endpoint.stats["not_ready"] >= 1
    assert client.metrics["not_ready"] == app.state.endpoint.stats["not_ready"]
    assert client.metrics["retries"] == client.metrics["not_ready"]


def test_a_cold_start_longer_than_the_time_budget_says_so(tmp_path: Path) -> None:
    with local_endpoint(tmp_path, cold_start_s=60) as (url, _, _app):
        client = client_for(url, retry=RetryPolicy(max_attempts=100, total_timeout_s=0.3, **FAST_RETRY))
        with pytest.raises(EndpointUnavailableError) as info:
            client.embed("cold")
    assert info.value.code == "ModelNotReadyException"
    assert "provisioned_concurrency" in str(info.value)


def test_a_model_error_is_not_retried_and_carries_the_handlers_reason(endpoint) -> None:
    url, handler, app = endpoint
    client = client_for(url)
    with pytest.raises(ModelRequestError) as info:
        client.embed_many(["fine", "   "])
    assert info.value.status == 400
    assert info.value.reason == "inputs[1] is empty or only whitespace; every input must contain text"
    assert "endpoint fake refused the request (400 from the model)" in str(info.value)
    assert app.state.endpoint.stats["client_errors"] == 1
    assert client.metrics["retries"] == 0 and client.metrics["model_errors"] == 1


def test_a_crashing_model_5xx_is_retried_then_reported(endpoint) -> None:
    url, _, app = endpoint
    client = client_for(url, retry=RetryPolicy(max_attempts=3, **FAST_RETRY))
    with pytest.raises(EndpointUnavailableError) as info:
        client.embed("__crash__")
    assert info.value.code == "ModelError" and info.value.attempts == 3
    assert app.state.endpoint.stats["server_errors"] == 3
    assert "CloudWatch" in str(info.value)


def test_an_unknown_endpoint_is_refused_without_retry(endpoint) -> None:
    url, _, _app = endpoint
    client = client_for(url, name="other")
    with pytest.raises(EndpointRequestError) as info:
        client.embed("x")
    assert info.value.code == "ValidationError" and "Endpoint other" in str(info.value)
    assert client.metrics["requests"] == 1 and client.metrics["retries"] == 0


def test_an_unreachable_endpoint_is_retried_then_reported() -> None:
    from endpoint_fixtures import free_port

    client = client_for(f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(max_attempts=2, **FAST_RETRY))
    with pytest.raises(EndpointUnavailableError) as info:
        client.embed("x")
    assert info.value.attempts == 2 and "Connect" in info.value.code


def test_metrics_report_latency_percentiles(endpoint) -> None:
    url, _, _app = endpoint
    client = client_for(url)
    for i in range(5):
        client.embed(f"text {i}")
    snap = client.metrics.snapshot()
    assert snap["requests"] == 5 and snap["latency_samples"] == 5
    assert 0 < snap["latency_ms"]["p50"] <= snap["latency_ms"]["p90"] <= snap["latency_ms"]["p99"] == snap[
        "latency_ms"]["max"]
