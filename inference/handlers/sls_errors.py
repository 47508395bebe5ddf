"""Client errors with an HTTP status (`status_code`, `message`) for our handlers.

Who honours the status: the local server (inference/tools/serve.py) and sagemaker-inference's Transformer (the
multi-model path) answer with it; the HF toolkit answers every handler error with 400 and keeps the
message; the scikit-learn image's single-model path (sagemaker-containers, gunicorn + Flask: what serverless
runs) turns any exception into a 500, so handlers/sklearn.py carries the error to output_fn instead.
"""

from __future__ import annotations

try:  # the sagemaker-inference toolkit (scikit-learn image, and the HF image which depends on it)
    from sagemaker_inference.errors import GenericInferenceToolkitError as _Base
except ImportError:  # local server / tests without the toolkit

    class _Base(Exception):  # type: ignore[no-redef]
        def __init__(self, status_code: int, message: str | None = None, phrase: str | None = None):
            self.status_code = status_code
            self.message = message or "Invalid Request"
            self.phrase = phrase or self.message
            super().__init__(status_code, self.message, self.phrase)


class RequestError(_Base):
    """A bad request: `status_code` is 4xx and `message` says what was wrong and what is allowed."""

    def __init__(self, status_code: int, reason: str):
        super().__init__(status_code, reason, reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.status_code}: {self.reason}"


def bad_request(reason: str) -> RequestError:
    return RequestError(400, reason)


def too_large(reason: str) -> RequestError:
    return RequestError(413, reason)


def unsupported_media_type(reason: str) -> RequestError:
    return RequestError(415, reason)


def not_acceptable(reason: str) -> RequestError:
    return RequestError(406, reason)
