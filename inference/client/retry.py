"""When to retry an InvokeEndpoint call, how long to wait, and when to give up.

Why one loop of our own instead of botocore's retry modes alone: botocore's standard and adaptive modes
retry ThrottlingException and 5xx, but not ModelNotReadyException (modeled as a 429, which their status-code
check leaves to the model), they have no bound on total time, and their throttle backoff (1 s base) cannot be
tuned. So the runtime client runs with botocore retries off (`BOTOCORE_RETRIES`) and this policy decides for
every answer: attempts and total time are then exact, and every retry is counted in the metrics.

Retried: ThrottlingException (the endpoint's MaxConcurrency is full), ModelNotReadyException (a serverless
cold start), ServiceUnavailable / InternalFailure / other 5xx, a ModelError whose container answered 5xx
(crashed or restarted worker), and connection errors. Never retried: a ModelError with a 4xx from the handler
(the same body fails again) and the other 4xx (ValidationError, AccessDenied...).
Backoff: "full jitter", a uniform delay in [0, min(max_delay_s, base * 2**retry)], with a longer base for
ModelNotReady, whose cold start lasts seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

# botocore: one attempt per call; RetryPolicy does the rest (see the module docstring).
BOTOCORE_RETRIES: dict[str, Any] = {"mode": "standard", "total_max_attempts": 1}

THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
NOT_READY_CODES = frozenset({"ModelNotReadyException"})
SERVER_CODES = frozenset({"ServiceUnavailable", "InternalFailure", "InternalDependencyException",
                          "InternalStreamFailure"})

# Outcome kinds (also the metric each retry is counted under).
THROTTLE, NOT_READY, SERVER, MODEL_CLIENT, FATAL = "throttles", "not_ready", "server_errors", "model", "fatal"


@dataclass(frozen=True)
class RetryPolicy:
    """max_attempts counts every try (1 = no retry); total_timeout_s bounds a call's retries (a delay that
    would end past it is not taken). Delays in seconds."""

    max_attempts: int = 8
    total_timeout_s: float = 120.0
    base_delay_s: float = 0.1
    not_ready_base_delay_s: float = 1.0
    max_delay_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 (1 = no retry), got {self.max_attempts}")
        for name in ("total_timeout_s", "base_delay_s", "not_ready_base_delay_s", "max_delay_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def delay(self, kind: str, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based) after an answer of `kind`."""
        base = self.not_ready_base_delay_s if kind == NOT_READY else self.base_delay_s
        return (rng or random).uniform(0, min(self.max_delay_s, base * (2 ** retry)))


def classify(code: str | None, http_status: int | None, original_status: int | None) -> str:
    """The outcome kind of an AWS error answer (code from x-amzn-ErrorType / the body)."""
    if code in THROTTLE_CODES:
        return THROTTLE
    if code in NOT_READY_CODES:
        return NOT_READY
    if code == "ModelError":
        return SERVER if (original_status or 0) >= 500 else MODEL_CLIENT
    if code in SERVER_CODES or (http_status or 0) >= 500:
        return SERVER
    if http_status == 429:  # an unmodeled 429 is a throttle, as botocore reads it
        return THROTTLE
    return FATAL


def advice(kind: str, *, concurrency: int, batch_size: int | None) -> str:
    """What to change when retries of `kind` ran out: the endpoint's settings or this client's."""
    batch = f" (now {batch_size})" if batch_size else ""
    if kind == THROTTLE:
        return (f"The endpoint's MaxConcurrency is full: raise serverless.max_concurrency, add "
                f"serverless.provisioned_concurrency, or lower this client's concurrency (now {concurrency}) and "
                f"share it across workers; larger batches{batch} mean fewer requests.")
    if kind == NOT_READY:
        return ("The serverless endpoint is still cold-starting: set serverless.provisioned_concurrency to keep "
                "it warm, or allow more time (RetryPolicy.total_timeout_s / max_attempts).")
    return (f"The endpoint or its container keeps failing: read its CloudWatch log group "
            f"/aws/sagemaker/Endpoints/<name>; a smaller batch_size{batch} lowers memory and time per request, "
            f"a larger serverless.memory_mb gives the model more of both.")
