"""Embedding cache: an in-process LRU and, optionally, Redis shared between workers; both with a TTL.

Why: callers re-embed the same texts (retries of a job, popular queries). A key is
`<namespace>:<model identity>:<sha256 of the text>`, where the identity is the artifact's sha256 or the
endpoint's SageMaker model name (a new artifact makes a new model), so a new model never serves old vectors;
sha256 rather than the seed client's md5 so two texts cannot be made to share a vector.
Values are float32 bytes (what the endpoint computes; 1.5 KB for 384 dimensions).

Redis is a cache, never a dependency: when it fails (down, timeout) the client keeps working uncached, warns
once per outage, and tries Redis again after `retry_after_s`. redis-py is imported only when a Redis URL is
given.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("inference.client.cache")
NAMESPACE = "sls-emb"


def text_key(model_identity: str, text: str, namespace: str = NAMESPACE) -> str:
    return f"{namespace}:{model_identity}:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()}"


def pack_vector(vector: Sequence[float]) -> bytes:
    return array("f", vector).tobytes()


def unpack_vector(data: bytes) -> list[float]:
    values = array("f")
    values.frombytes(data)
    return values.tolist()


class LRUCache:
    """Thread-safe in-process cache of at most max_entries, each valid for ttl_s (None: no expiry)."""

    def __init__(self, max_entries: int = 10_000, ttl_s: float | None = 24 * 3600):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries, self.ttl_s = max_entries, ttl_s
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        now, found = time.monotonic(), {}
        with self._lock:
            for key in keys:
                entry = self._data.get(key)
                if entry is None:
                    continue
                if entry[0] <= now:
                    del self._data[key]
                    continue
                self._data.move_to_end(key)
                found[key] = entry[1]
        return found

    def set_many(self, items: dict[str, bytes]) -> None:
        expires = time.monotonic() + self.ttl_s if self.ttl_s is not None else float("inf")
        with self._lock:
            for key, value in items.items():
                self._data[key] = (expires, value)
                self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class RedisCache:
    """Redis (redis-py) with a TTL per key; errors make it sit out for retry_after_s instead of raising.

    `url` like redis://host:6379/0, or `client` (a redis.Redis). Short socket timeouts: a slow cache must not
    be slower than the endpoint it saves calls to.
    """

    def __init__(self, url: str | None = None, *, client: Any = None, ttl_s: int = 7 * 24 * 3600,
                 retry_after_s: float = 30.0, socket_timeout_s: float = 0.5):
        if client is None:
            if not url:
                raise ValueError("RedisCache needs url='redis://host:port/db' or client=redis.Redis(...)")
            try:
                import redis
            except ImportError as e:
                raise ImportError("the Redis cache needs redis-py: pip install 'redis>=5'") from e
            client = redis.Redis.from_url(url, socket_timeout=socket_timeout_s,
                                          socket_connect_timeout=socket_timeout_s)
        if ttl_s < 1:
            raise ValueError(f"ttl_s must be at least 1 second for Redis, got {ttl_s}")
        self.client, self.ttl_s, self.retry_after_s = client, int(ttl_s), retry_after_s
        self.errors = 0
        self._down_until: float | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        with self._lock:
            return self._down_until is None or time.monotonic() >= self._down_until

    def _failed(self, e: Exception) -> None:
        with self._lock:
            self.errors += 1
            first = self._down_until is None
            self._down_until = time.monotonic() + self.retry_after_s
        if first:
            log.warning("Redis cache unavailable (%s: %s): continuing without it, retrying in %.0f s "
                        "(further errors are silent until it is back)", type(e).__name__, e, self.retry_after_s)

    def _worked(self) -> None:
        with self._lock:
            back = self._down_until is not None
            self._down_until = None
        if back:
            log.warning("Redis cache is back")

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        if not keys or not self.available:
            return {}
        try:
            values = self.client.mget(list(keys))
        except Exception as e:  # noqa: BLE001 - any Redis failure (connection, timeout, protocol) means "no cache"
            self._failed(e)
            return {}
        self._worked()
        return {k: v for k, v in zip(keys, values, strict=True) if v is not None}

    def set_many(self, items: dict[str, bytes]) -> None:
        if not items or not self.available:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(key, value, ex=self.ttl_s)
            pipe.execute()
        except Exception as e:  # noqa: BLE001 - as in get_many
            self._failed(e)
            return
        self._worked()


class EmbeddingCache:
    """The tiers an EmbeddingClient looks in, in order: the LRU (if any), then Redis (if any).

    `EmbeddingCache(lru_entries=10_000, redis_url="redis://cache:6379/0", ttl_s=86_400)`; a Redis hit is copied
    into the LRU.
    """

    def __init__(self, *, lru_entries: int | None = 10_000, redis_url: str | None = None, redis_client: Any = None,
                 ttl_s: int = 24 * 3600, redis_retry_after_s: float = 30.0, namespace: str = NAMESPACE):
        self.lru = LRUCache(lru_entries, ttl_s) if lru_entries else None
        self.redis = (RedisCache(redis_url, client=redis_client, ttl_s=ttl_s, retry_after_s=redis_retry_after_s)
                      if redis_url or redis_client is not None else None)
        if self.lru is None and self.redis is None:
            raise ValueError("EmbeddingCache with neither an LRU (lru_entries) nor Redis (redis_url) caches nothing")
        self.namespace = namespace

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        found = self.lru.get_many(keys) if self.lru else {}
        if self.redis is not None and len(found) < len(keys):
            from_redis = self.redis.get_many([k for k in keys if k not in found])
            if from_redis and self.lru is not None:
                self.lru.set_many(from_redis)
            found.update(from_redis)
        return found

    def set_many(self, items: dict[str, bytes]) -> None:
        if self.lru is not None:
            self.lru.set_many(items)
        if self.redis is not None:
            self.redis.set_many(items)

    @property
    def errors(self) -> int:
        return self.redis.errors if self.redis is not None else 0
