"""ScorerClient: rows in, one prediction per row out, for the scikit-learn endpoint; same transport as embeddings.

Why: the scorer endpoint has the same limits (4 MB, MaxConcurrency, cold starts) and the same error shapes, so
its callers get the same splitting, retries and metrics. The request is `{"instances": [...], **fields}`
(request-level fields such as the call-time example's candidate `hours` are repeated in every request), the
answer `{"predictions": [...]}`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from inference.limits import MAX_PAYLOAD_BYTES

from .batching import Batch, encode_item, plan_batches
from .errors import ResponseFormatError
from .retry import RetryPolicy
from .transport import EndpointTransport

# The scikit-learn handler's default instances per request (handlers/sklearn.py DEFAULT_MAX_INSTANCES).
DEFAULT_MAX_INSTANCES = 1000


class ScorerClient:
    """predict(rows, **request_fields) -> list of predictions in row order."""

    def __init__(self, endpoint_name: str, *, region: str | None = None, endpoint_url: str | None = None,
                 concurrency: int | None = None, max_instances: int = DEFAULT_MAX_INSTANCES,
                 max_payload_bytes: int = MAX_PAYLOAD_BYTES, retry: RetryPolicy | None = None,
                 transport: EndpointTransport | None = None, **transport_options: Any):
        self.transport = transport or EndpointTransport(endpoint_name, region=region, endpoint_url=endpoint_url,
                                                        concurrency=concurrency, retry=retry, **transport_options)
        self.endpoint_name = self.transport.endpoint_name
        self.metrics = self.transport.metrics
        self.max_instances, self.max_payload_bytes = max_instances, max_payload_bytes

    def predict(self, rows: Sequence[Any], **request_fields: Any) -> list[Any]:
        rows = list(rows)
        if not rows:
            return []
        suffix = b"]" + b"".join(b", " + json.dumps(k).encode() + b": " + encode_item(v)
                                 for k, v in request_fields.items()) + b"}"
        batches = plan_batches([encode_item(r) for r in rows], prefix=b'{"instances": [', suffix=suffix,
                               max_items=self.max_instances, max_bytes=self.max_payload_bytes)
        results = self.transport.map(self._send, batches)
        return [p for chunk in results for p in chunk]

    def _send(self, batch: Batch) -> list[Any]:
        answer = self.transport.invoke(batch.body, batch_size=self.max_instances).json(self.endpoint_name)
        predictions = answer.get("predictions") if isinstance(answer, dict) else None
        if not isinstance(predictions, list) or len(predictions) != len(batch):
            got = len(predictions) if isinstance(predictions, list) else "no 'predictions' list"
            raise ResponseFormatError(self.endpoint_name, f"sent {len(batch)} rows and got {got} back; is this a "
                                                          'scikit-learn endpoint answering {"predictions": [...]}?')
        return predictions
