"""What a caller of an endpoint can get wrong, and what the endpoint can: one exception per kind of answer.

Why: a hand-written client usually lets botocore's ClientError through, and the caller has to dig the
handler's reason out of `OriginalMessage` and guess whether to retry. Here every error names the endpoint,
the AWS error code and, where the caller can do something, what to change.
"""

from __future__ import annotations

import json


class EndpointError(RuntimeError):
    """Base: a request to `endpoint` failed; `code` is the AWS error code (or a client-side one)."""

    def __init__(self, endpoint: str, code: str, message: str):
        super().__init__(message)
        self.endpoint = endpoint
        self.code = code


class ModelRequestError(EndpointError):
    """The model refused the request (the handler's 4xx): not retried, since the same body fails again.

    `status` is the handler's HTTP status (ModelError's OriginalStatusCode), `reason` the handler's own words.
    """

    def __init__(self, endpoint: str, status: int, reason: str):
        super().__init__(endpoint, "ModelError",
                         f"endpoint {endpoint} refused the request ({status} from the model): {reason}")
        self.status = status
        self.reason = reason


class EndpointRequestError(EndpointError):
    """SageMaker refused the request before the model saw it (ValidationError, AccessDenied, ...): not retried."""


class EndpointUnavailableError(EndpointError):
    """Retryable errors outlasted the retry budget (attempts or total time); `advice` says what to change."""

    def __init__(self, endpoint: str, code: str, *, attempts: int, elapsed_s: float, last_message: str,
                 advice: str):
        super().__init__(
            endpoint, code,
            f"endpoint {endpoint} still failing after {attempts} attempt(s) in {elapsed_s:.1f} s; last error "
            f"{code}: {last_message}. {advice}",
        )
        self.attempts = attempts
        self.elapsed_s = elapsed_s
        self.last_message = last_message
        self.advice = advice


class ResponseFormatError(EndpointError):
    """The endpoint answered 200 with a body this client cannot read (wrong model kind, wrong count)."""

    def __init__(self, endpoint: str, message: str):
        super().__init__(endpoint, "ResponseFormat", f"endpoint {endpoint}: {message}")


class PayloadTooLargeError(ValueError):
    """One input alone does not fit a request under the payload limit; no split can send it."""


def handler_reason(original_message: str) -> str:
    """The handler's reason from a ModelError's OriginalMessage (JSON bodies of our handlers, the toolkits'
    or plain text)."""
    try:
        body = json.loads(original_message)
    except (TypeError, ValueError):
        return str(original_message).strip()
    if isinstance(body, dict):
        for key in ("message", "error", "reason", "Message"):
            if isinstance(body.get(key), str):
                return body[key]
    return str(original_message).strip()
