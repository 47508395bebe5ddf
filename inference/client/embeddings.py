"""EmbeddingClient: texts in, one vector per text out, in input order, whatever the endpoint's limits.

Why: the embeddings endpoint takes `{"inputs": str | [str]}` and answers `{"embeddings": [[...]], ...}` (a
single string too comes back as a list of one vector), at most `max_batch` inputs and 4 MB per request, and
throttles beyond MaxConcurrency. The seed's hand-written client broke on that response shape; this one splits,
sends in parallel, retries, caches, and hands back exactly one vector per text.

Vectors are returned as float32 values (Python floats), exactly as the endpoint computed them, with or
without the cache. numpy is imported only for `as_numpy=True`.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

from inference.limits import MAX_PAYLOAD_BYTES

from .batching import Batch, encode_item, plan_batches
from .cache import EmbeddingCache, pack_vector, text_key, unpack_vector
from .errors import ResponseFormatError
from .retry import RetryPolicy
from .transport import EndpointTransport

# The embeddings handler's default max_batch (handlers/embeddings.py DEFAULT_MAX_BATCH; a test holds them equal).
DEFAULT_MAX_BATCH = 32
PREFIX, SUFFIX = b'{"inputs": [', b"]}"


class EmbeddingClient:
    """embed(text) -> list[float]; embed_many(texts) -> list[list[float]] (or a float32 numpy array).

    max_batch: inputs per request (the artifact's manifest `handler.max_batch`, 32 by default).
    cache: an EmbeddingCache; needs the model's identity: `model_identity` (the artifact's sha256, stack output
    `endpoints.<name>.artifact_sha256`) or, when DescribeEndpoint works, the endpoint's SageMaker model name.
    Other keyword arguments go to EndpointTransport (session, describe, sagemaker_endpoint_url, timeouts...).
    """

    def __init__(self, endpoint_name: str, *, region: str | None = None, endpoint_url: str | None = None,
                 concurrency: int | None = None, max_batch: int = DEFAULT_MAX_BATCH,
                 max_payload_bytes: int = MAX_PAYLOAD_BYTES, retry: RetryPolicy | None = None,
                 cache: EmbeddingCache | None = None, model_identity: str | None = None,
                 transport: EndpointTransport | None = None, **transport_options: Any):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.transport = transport or EndpointTransport(endpoint_name, region=region, endpoint_url=endpoint_url,
                                                        concurrency=concurrency, retry=retry, **transport_options)
        self.endpoint_name = self.transport.endpoint_name
        self.metrics = self.transport.metrics
        self.max_batch, self.max_payload_bytes = max_batch, max_payload_bytes
        self.cache = cache
        info = self.transport.info
        self.model_identity = model_identity or (info.model_name if info is not None else None)
        if cache is not None and not self.model_identity:
            why = info.error if info is not None and info.error else "the endpoint was not described"
            raise ValueError(
                f"a cache for endpoint {self.endpoint_name} needs the model's identity, so that a new model never "
                f"serves old vectors: pass model_identity=<the artifact's sha256> ({why})")
        self.dimensions: int | None = None

    def embed(self, text: str, *, as_numpy: bool = False) -> Any:
        """One text's vector (a list of floats, or a 1-D float32 array)."""
        if not isinstance(text, str):
            raise TypeError(f"embed() takes one string, got {type(text).__name__}; use embed_many() for a list")
        vectors = self.embed_many([text], as_numpy=as_numpy)
        return vectors[0]

    def embed_many(self, texts: Sequence[str], *, as_numpy: bool = False) -> Any:
        """One vector per text, in order; only texts missing from the cache are sent, each distinct text once."""
        if isinstance(texts, str):
            raise TypeError("embed_many() takes a list of strings; use embed() for one string")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] is {type(t).__name__}; every input must be a string")
        keys = [text_key(self.model_identity, t, self.cache.namespace) for t in texts] if self.cache else []
        found: dict[str, bytes] = self.cache.get_many(keys) if self.cache and texts else {}
        vectors: dict[str, list[float]] = {}  # text -> vector
        missing: dict[str, None] = {}  # distinct texts to send, in first-seen order
        for i, text in enumerate(texts):
            if self.cache and keys[i] in found:
                vectors[text] = unpack_vector(found[keys[i]])
            elif text not in vectors:
                missing[text] = None
        if self.cache:
            hits = sum(1 for k in keys if k in found)
            self.metrics.add("cache_hits", hits)
            self.metrics.add("cache_misses", len(texts) - hits)
            errors_before = self.cache.errors
        if missing:
            fresh = self._fetch(list(missing))
            vectors.update(zip(missing, fresh, strict=True))
            if self.cache:
                self.cache.set_many({text_key(self.model_identity, t, self.cache.namespace): pack_vector(v)
                                     for t, v in zip(missing, fresh, strict=True)})
        if self.cache:
            self.metrics.add("cache_errors", self.cache.errors - errors_before)
        out = [vectors[t] for t in texts]
        if as_numpy:
            import numpy as np

            return np.asarray(out, dtype=np.float32).reshape(len(out), -1 if out else self.dimensions or 0)
        return out

    def _fetch(self, texts: list[str]) -> list[list[float]]:
        batches = plan_batches([encode_item(t) for t in texts], prefix=PREFIX, suffix=SUFFIX,
                               max_items=self.max_batch, max_bytes=self.max_payload_bytes)
        self.metrics.add("texts_sent", len(texts))
        results = self.transport.map(self._send, batches)
        return [vec for chunk in results for vec in chunk]

    def _send(self, batch: Batch) -> list[list[float]]:
        answer = self.transport.invoke(batch.body, batch_size=self.max_batch).json(self.endpoint_name)
        vectors = answer.get("embeddings") if isinstance(answer, dict) else answer
        if not isinstance(vectors, list) or len(vectors) != len(batch):
            got = len(vectors) if isinstance(vectors, list) else type(vectors).__name__
            raise ResponseFormatError(
                self.endpoint_name, f"sent {len(batch)} texts and got {got} embeddings back; is this an embeddings "
                                    'endpoint answering {"embeddings": [[...], ...]}?')
        out = []
        for vec in vectors:
            if not isinstance(vec, list) or (vec and not isinstance(vec[0], (int, float))):
                raise ResponseFormatError(self.endpoint_name, "an embedding is not a flat list of numbers (token-level "
                                                              "output of a feature-extraction pipeline?)")
            out.append(array("f", vec).tolist())  # float32, as the cache stores it: same answer cached or not
        if out and self.dimensions is None:
            self.dimensions = len(out[0])
        return out
