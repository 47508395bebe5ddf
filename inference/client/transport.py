"""One way of calling a SageMaker endpoint for every client: InvokeEndpoint with retries, concurrency, metrics.

Why: the embeddings and the scikit-learn clients (and `python -m inference check`) must behave the same under
throttling, cold starts and model errors, and depend on boto3 alone so they run in a Lambda function with the
invoke role the stack creates. Against the local endpoint (`python -m inference serve`) only `endpoint_url`
differs.

Concurrency: at most `concurrency` requests of one transport are in flight, whatever the number of threads
calling it. The default stays below the endpoint's MaxConcurrency when DescribeEndpoint works (MaxConcurrency
- 1, at least 1), else DEFAULT_CONCURRENCY; throttles beyond it are retried (retry.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .describe import EndpointInfo, describe_endpoint
from .errors import (
    EndpointRequestError,
    EndpointUnavailableError,
    ModelRequestError,
    ResponseFormatError,
    handler_reason,
)
from .metrics import Metrics
from .retry import BOTOCORE_RETRIES, FATAL, MODEL_CLIENT, SERVER, RetryPolicy, advice, classify

# When the endpoint's MaxConcurrency cannot be read: the smallest MaxConcurrency of the shipped stacks (the dev
# scorer's 2), so a client left at its default never throttles an endpoint of ours on its own.
DEFAULT_CONCURRENCY = 2
JSON = "application/json"
LOCAL_REGION = "us-east-1"  # any region works against the local endpoint; botocore needs one to sign
T = TypeVar("T")
R = TypeVar("R")


def default_concurrency(info: EndpointInfo | None) -> int:
    """Below the endpoint's MaxConcurrency (leaving one slot to other callers) when known, else the default."""
    if info is not None and info.max_concurrency:
        return max(1, info.max_concurrency - 1)
    return DEFAULT_CONCURRENCY


@dataclass(frozen=True)
class Response:
    """A successful invocation: the body, its content type, the last attempt's latency and attempts made."""

    body: bytes
    content_type: str
    latency_s: float
    attempts: int

    def json(self, endpoint: str) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise ResponseFormatError(endpoint, f"the answer is not JSON ({e}): {self.body[:200]!r}") from None


class EndpointTransport:
    """InvokeEndpoint on one endpoint with the retry policy, a concurrency bound and metrics.

    endpoint_url: the local endpoint (or a VPC endpoint); credentials default to dummy ones when none are
    configured and endpoint_url is set, since the local endpoint checks none.
    describe: None (default) describes the endpoint unless endpoint_url is set without sagemaker_endpoint_url;
    a failing describe is recorded in `info.error` and never raised.
    """

    def __init__(self, endpoint_name: str, *, region: str | None = None, endpoint_url: str | None = None,
                 concurrency: int | None = None, retry: RetryPolicy | None = None,
                 session: boto3.session.Session | None = None, describe: bool | None = None,
                 sagemaker_endpoint_url: str | None = None, runtime_client: Any = None,
                 sagemaker_client: Any = None, connect_timeout_s: float = 5.0, read_timeout_s: float = 70.0,
                 metrics: Metrics | None = None):
        if not endpoint_name:
            raise ValueError("endpoint_name is required: the SageMaker endpoint's name (stack output endpoints.*.name)")
        self.endpoint_name = endpoint_name
        self.endpoint_url = endpoint_url
        self.retry = retry or RetryPolicy()
        self.metrics = metrics or Metrics()
        session = session or boto3.session.Session()
        region = region or session.region_name or (LOCAL_REGION if endpoint_url else None)
        if region is None:
            raise ValueError(f"no AWS region for endpoint {endpoint_name}: pass region=... or set AWS_REGION")
        self.region = region
        credentials: dict[str, str] = {}
        if endpoint_url and session.get_credentials() is None:
            credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        if describe is None:
            describe = endpoint_url is None or sagemaker_endpoint_url is not None or sagemaker_client is not None
        self.info: EndpointInfo | None = None
        if describe:
            sagemaker = sagemaker_client or session.client(
                "sagemaker", region_name=region, endpoint_url=sagemaker_endpoint_url, **credentials,
                config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=connect_timeout_s,
                              read_timeout=30))
            self.info = describe_endpoint(sagemaker, endpoint_name)
        self.concurrency = concurrency if concurrency is not None else default_concurrency(self.info)
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self.runtime = runtime_client or session.client(
            "sagemaker-runtime", region_name=region, endpoint_url=endpoint_url, **credentials,
            config=Config(retries=BOTOCORE_RETRIES, connect_timeout=connect_timeout_s, read_timeout=read_timeout_s,
                          max_pool_connections=max(10, self.concurrency)))

    # ------------------------------------------------------------------------------------------------ invoke
    def invoke(self, body: bytes, *, content_type: str = JSON, accept: str = JSON,
               batch_size: int | None = None) -> Response:
        """One request, retried per the policy; raises ModelRequestError, EndpointRequestError or
        EndpointUnavailableError (batch_size only words the advice)."""
        with self._slots:
            return self._invoke(body, content_type, accept, batch_size)

    def invoke_json(self, payload: Any, *, batch_size: int | None = None) -> Any:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return self.invoke(body, batch_size=batch_size).json(self.endpoint_name)

    def _invoke(self, body: bytes, content_type: str, accept: str, batch_size: int | None) -> Response:
        policy, m, name = self.retry, self.metrics, self.endpoint_name
        start = time.monotonic()
        deadline = start + policy.total_timeout_s
        code, message, kind = "", "", SERVER
        attempt = 0
        while True:
            attempt += 1
            t0 = time.monotonic()
            try:
                resp = self.runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType=content_type,
                                                    Accept=accept)
                data = resp["Body"].read()
            except ClientError as e:
                m.add("requests")
                err = e.response.get("Error", {})
                code, message = err.get("Code") or "Unknown", err.get("Message") or str(e)
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                original = e.response.get("OriginalStatusCode")
                kind = classify(code, status, original)
                if kind == MODEL_CLIENT:
                    m.add("model_errors")
                    m.add("failures")
                    reason = handler_reason(e.response.get("OriginalMessage") or message)
                    raise ModelRequestError(name, int(original or 400), reason) from None
                if kind == FATAL:
                    m.add("failures")
                    raise EndpointRequestError(name, code, f"endpoint {name}: {code}: {message}") from None
                m.add(kind)
            except (BotoConnectionError, HTTPClientError) as e:  # refused, reset, read timeout: transient
                code, message, kind = type(e).__name__, str(e), SERVER
                m.add(SERVER)
            else:
                latency = time.monotonic() - t0
                m.add("requests")
                m.latency(latency)
                return Response(data, resp.get("ContentType") or accept, latency, attempt)
            if attempt >= policy.max_attempts:
                break
            delay = policy.delay(kind, attempt - 1)
            if time.monotonic() + delay > deadline:
                break
            m.add("retries")
            time.sleep(delay)
        m.add("failures")
        raise EndpointUnavailableError(name, code, attempts=attempt, elapsed_s=time.monotonic() - start,
                                       last_message=message,
                                       advice=advice(kind, concurrency=self.concurrency, batch_size=batch_size))

    # ------------------------------------------------------------------------------------------------ fan-out
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """fn over items with up to `concurrency` in parallel; results in input order; the first error raises
        (requests not yet started are cancelled)."""
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(min(self.concurrency, len(items)), thread_name_prefix="sls-client") as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def describe(self) -> dict[str, Any]:
        """What this transport knows and chose (for logs and the check report)."""
        return {"endpoint": self.endpoint_name, "region": self.region, "endpoint_url": self.endpoint_url,
                "concurrency": self.concurrency, "describe": self.info.to_dict() if self.info else None}
