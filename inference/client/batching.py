"""Split many inputs into request bodies under the endpoint's max batch and the 4 MB payload limit.

Why: a serverless endpoint refuses a body over 4 MB and our handlers refuse more than `max_batch` inputs
(413); a caller with 10,000 texts should not have to know either. Each input is JSON-encoded once, and the
request body is assembled from those bytes, so its size is known exactly before it is sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inference.limits import MAX_PAYLOAD_BYTES

from .errors import PayloadTooLargeError

SEPARATOR = b", "


def encode_item(item: Any) -> bytes:
    """One input as it appears inside the request body (UTF-8 JSON, non-ASCII kept as is: fewer bytes)."""
    return json.dumps(item, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Batch:
    """Inputs [start, stop) of the caller's list, and the request body carrying them."""

    start: int
    stop: int
    body: bytes

    def __len__(self) -> int:
        return self.stop - self.start


def plan_batches(encoded: Sequence[bytes], *, prefix: bytes, suffix: bytes, max_items: int,
                 max_bytes: int = MAX_PAYLOAD_BYTES) -> list[Batch]:
    """Consecutive batches of at most max_items whose body `prefix + item, item... + suffix` fits max_bytes.

    Raises PayloadTooLargeError naming the first input that cannot fit a request even alone.
    """
    if max_items < 1:
        raise ValueError(f"max_items must be at least 1, got {max_items}")
    fixed = len(prefix) + len(suffix)
    batches: list[Batch] = []
    start, size = 0, fixed
    for i, item in enumerate(encoded):
        if fixed + len(item) > max_bytes:
            raise PayloadTooLargeError(
                f"input {i} is {len(item)} bytes as JSON; a request carries at most {max_bytes} bytes "
                f"({max_bytes - fixed} for one input): shorten it (the model truncates long texts anyway)")
        extra = len(item) + (len(SEPARATOR) if i > start else 0)
        if i > start and (i - start >= max_items or size + extra > max_bytes):
            batches.append(Batch(start, i, prefix + SEPARATOR.join(encoded[start:i]) + suffix))
            start, size, extra = i, fixed, len(item)
        size += extra
    if start < len(encoded):
        batches.append(Batch(start, len(encoded), prefix + SEPARATOR.join(encoded[start:]) + suffix))
    return batches
