"""The embedding cache: the in-process LRU, and Redis shared between clients (a real redis-server on loopback):
hits, misses, TTL expiry, a new model identity, Redis killed mid-run."""

from __future__ import annotations

import logging
import time
from collections import Counter
from types import SimpleNamespace

import pytest
from endpoint_fixtures import FAST_RETRY

import inference.client.cache as cache_mod
from inference.client import EmbeddingCache, EmbeddingClient, LRUCache, RetryPolicy
from inference.client.cache import pack_vector, text_key, unpack_vector

SHA = "a" * 64  # the artifact's sha256 the cache is keyed by


def client_for(url: str, cache: EmbeddingCache, identity: str = SHA) -> EmbeddingClient:
    return EmbeddingClient("fake", endpoint_url=url, max_batch=4, cache=cache, model_identity=identity,
                           retry=RetryPolicy(max_attempts=5, **FAST_RETRY))


def test_keys_name_the_model_and_the_texts_sha256() -> None:
    import hashlib

    assert text_key(SHA, "héllo") == f"sls-emb:{SHA}:{hashlib.sha256('héllo'.encode()).hexdigest()}"
    assert text_key("b" * 64, "héllo") != text_key(SHA, "héllo")


def test_vectors_round_trip_as_float32() -> None:
    vec = [0.1, -0.25, 1 / 3]
    out = unpack_vector(pack_vector(vec))
    assert len(pack_vector(vec)) == 12
    assert out[1] == -0.25 and abs(out[0] - 0.1) < 1e-7


def test_lru_evicts_the_least_recently_used_and_expires_after_its_ttl(monkeypatch) -> None:
    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(cache_mod, "time", SimpleNamespace(monotonic=lambda: clock.now))
    lru = LRUCache(max_entries=2, ttl_s=10)
    lru.set_many({"a": b"1", "b": b"2"})
    assert lru.get_many(["a"]) == {"a": b"1"}  # a is now the most recent
    lru.set_many({"c": b"3"})
    assert lru.get_many(["a", "b", "c"]) == {"a": b"1", "c": b"3"}
    clock.now += 10.5
    assert lru.get_many(["a", "c"]) == {}
    assert len(lru) == 0


def test_lru_hit_sends_only_the_missing_texts(endpoint) -> None:
    url, handler, _ = endpoint
    client = client_for(url, EmbeddingCache(lru_entries=100))
    first = client.embed_many(["a", "b", "c"])
    again = client.embed_many(["c", "d", "a", "b"])
    assert again == [first[2], client.embed("d"), first[0], first[1]]
    assert Counter(handler.model["seen"]) == {"a": 1, "b": 1, "c": 1, "d": 1}
    snap = client.metrics.snapshot()
    assert snap["cache_hits"] == 3 + 1 and snap["cache_misses"] == 3 + 1  # embed("d") is a hit too


def test_a_cache_without_a_model_identity_is_refused(endpoint) -> None:
    url, _, _app = endpoint
    with pytest.raises(ValueError, match="model_identity"):
        EmbeddingClient("fake", endpoint_url=url, cache=EmbeddingCache())
    with pytest.raises(ValueError, match="caches nothing"):
        EmbeddingCache(lru_entries=None)


def test_redis_is_shared_between_clients(endpoint, redis_server) -> None:
    url, handler, _ = endpoint
    texts = [f"shared text {i}" for i in range(6)]
    worker1 = client_for(url, EmbeddingCache(lru_entries=None, redis_url=redis_server.url))
    worker2 = client_for(url, EmbeddingCache(lru_entries=100, redis_url=redis_server.url))
    first = worker1.embed_many(texts)
    assert worker1.metrics["cache_misses"] == 6
    assert worker2.embed_many(texts) == first  # identical floats from the cache and from the endpoint
    assert worker2.metrics["cache_hits"] == 6 and worker2.metrics["requests"] == 0
    assert Counter(handler.model["seen"]) == Counter(texts)
    # a Redis hit is copied into the LRU: no more Redis reads needed
    assert len(worker2.cache.lru) == 6


def test_redis_entries_expire_after_the_ttl(endpoint, redis_server) -> None:
    import redis

    url, handler, _ = endpoint
    client = client_for(url, EmbeddingCache(lru_entries=None, redis_url=redis_server.url, ttl_s=1))
    client.embed("short-lived")
    key = text_key(SHA, "short-lived")
    assert 0 < redis.Redis.from_url(redis_server.url).pttl(key) <= 1000
    time.sleep(1.2)
    client.embed("short-lived")
    assert handler.model["seen"] == ["short-lived", "short-lived"]
    assert client.metrics["cache_misses"] == 2


def test_a_new_model_identity_misses(endpoint, redis_server) -> None:
    url, handler, _ = endpoint
    old = client_for(url, EmbeddingCache(redis_url=redis_server.url), identity="a" * 64)
    new = client_for(url, EmbeddingCache(redis_url=redis_server.url), identity="b" * 64)
    old.embed("same text")
    new.embed("same text")
    assert handler.model["seen"] == ["same text", "same text"]
    assert new.metrics["cache_hits"] == 0


def test_redis_killed_mid_run_the_client_keeps_working_warns_once_and_reconnects(
    endpoint, redis_server, caplog
) -> None:
    url, handler, _ = endpoint
    cache = EmbeddingCache(lru_entries=None, redis_url=redis_server.url, redis_retry_after_s=0.0)
    client = client_for(url, cache)
    client.embed_many(["before 1", "before 2"])
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="inference.client.cache"):
        during = [client.embed(f"during {i}") for i in range(3)]
        assert client.embed("during 0") == during[0]  # uncached: the endpoint answers again
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "continuing without it" in warnings[0].getMessage()
    assert client.metrics["cache_errors"] >= 4
    assert handler.model["seen"].count("during 0") == 2

    redis_server.start()  # same port, empty (no persistence)
    with caplog.at_level(logging.INFO, logger="inference.client.cache"):
        client.embed("after")
    other = client_for(url, EmbeddingCache(lru_entries=None, redis_url=redis_server.url))
    other.embed("after")
    assert other.metrics["cache_hits"] == 1  # the first client wrote to Redis again
    assert handler.model["seen"].count("after") == 1
    assert [r.getMessage() for r in caplog.records].count("Redis cache is back") == 1
