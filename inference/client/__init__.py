"""Calling a deployed (or local) endpoint: boto3 alone, plus redis-py only for the shared cache.

    from inference.client import EmbeddingClient, EmbeddingCache
    client = EmbeddingClient("embeddings-dev", region="eu-west-1",
                             cache=EmbeddingCache(redis_url="redis://cache:6379/0"), model_identity=sha256)
    vectors = client.embed_many(texts)          # one vector per text, in order
    client.metrics.snapshot()                   # requests, retries, throttles, cache hits, latency p50/p90/p99

Nothing here imports torch, numpy (unless as_numpy=True), Pulumi or inference.build, so the package runs in a
Lambda function; tests/inference/client/test_imports.py holds that.
"""

from __future__ import annotations

from .cache import EmbeddingCache, LRUCache, RedisCache
from .describe import EndpointInfo, describe_endpoint
from .embeddings import EmbeddingClient
from .errors import (
    EndpointError,
    EndpointRequestError,
    EndpointUnavailableError,
    ModelRequestError,
    PayloadTooLargeError,
    ResponseFormatError,
)
from .metrics import Metrics
from .retry import RetryPolicy
from .scorer import ScorerClient
from .transport import DEFAULT_CONCURRENCY, EndpointTransport

__all__ = [
    "DEFAULT_CONCURRENCY", "EmbeddingCache", "EmbeddingClient", "EndpointError", "EndpointInfo", "EndpointRequestError",
    "EndpointTransport", "EndpointUnavailableError", "LRUCache", "Metrics", "ModelRequestError", "PayloadTooLargeError",
    "RedisCache", "ResponseFormatError", "RetryPolicy", "ScorerClient", "describe_endpoint",
]
