"""The pure parts: which AWS answers are retried, how long the client waits, how inputs become request bodies."""

from __future__ import annotations

import json
import random

import pytest

from inference.client.batching import encode_item, plan_batches
from inference.client.errors import PayloadTooLargeError, handler_reason
from inference.client.retry import FATAL, MODEL_CLIENT, NOT_READY, SERVER, THROTTLE, RetryPolicy, classify
from inference.limits import MAX_PAYLOAD_BYTES


@pytest.mark.parametrize(
    ("code", "http", "original", "kind"),
    [
        ("ThrottlingException", 400, None, THROTTLE),
        ("ModelNotReadyException", 429, None, NOT_READY),
        ("ServiceUnavailable", 503, None, SERVER),
        ("InternalFailure", 500, None, SERVER),
        ("InternalDependencyException", 530, None, SERVER),
        ("ModelError", 424, 500, SERVER),  # the container crashed: may pass
        ("ModelError", 424, 400, MODEL_CLIENT),  # the handler refused the body: fails again
        ("ModelError", 424, 413, MODEL_CLIENT),
        ("ValidationError", 400, None, FATAL),
        ("AccessDeniedException", 403, None, FATAL),
        ("SomethingNew", 429, None, THROTTLE),
        ("SomethingNew", 502, None, SERVER),
    ],
)
def test_classification_of_aws_answers(code, http, original, kind) -> None:
    assert classify(code, http, original) == kind


def test_backoff_is_full_jitter_capped_and_longer_for_cold_starts() -> None:
    policy = RetryPolicy(base_delay_s=0.1, not_ready_base_delay_s=1.0, max_delay_s=3.0)
    rng = random.Random(7)
    throttle = [policy.delay(THROTTLE, 2, rng) for _ in range(500)]
    assert 0 <= min(throttle) and max(throttle) <= 0.4 and max(throttle) > 0.3
    capped = [policy.delay(NOT_READY, 10, rng) for _ in range(500)]
    assert max(capped) <= 3.0 and max(capped) > 2.5
    with pytest.raises(ValueError, match="max_attempts must be at least 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="total_timeout_s must be >= 0"):
        RetryPolicy(total_timeout_s=-1)


def test_batches_respect_count_and_bytes_and_keep_order() -> None:
    items = [encode_item(f"text {i} " + "x" * (i * 7)) for i in range(40)]
    prefix, suffix = b'{"inputs": [', b"]}"
    batches = plan_batches(items, prefix=prefix, suffix=suffix, max_items=6, max_bytes=300)
    assert [i for b in batches for i in range(b.start, b.stop)] == list(range(40))
    for b in batches:
        assert 1 <= len(b) <= 6 and len(b.body) <= 300
        assert json.loads(b.body)["inputs"] == [json.loads(x) for x in items[b.start:b.stop]]
    # greedy: each batch but the last could not take its successor
    for b, nxt in zip(batches, batches[1:], strict=False):
        assert len(b) == 6 or len(b.body) + 2 + len(items[nxt.start]) > 300


def test_one_input_over_the_limit_is_named() -> None:
    with pytest.raises(PayloadTooLargeError, match="input 2 is .* bytes"):
        plan_batches([b'"a"', b'"b"', b'"' + b"x" * MAX_PAYLOAD_BYTES + b'"'], prefix=b"[", suffix=b"]",
                     max_items=32)


def test_non_ascii_is_sent_as_utf8_not_escaped() -> None:
    assert encode_item("café 🚀") == '"café 🚀"'.encode()


@pytest.mark.parametrize(
    ("original", "reason"),
    [
        ('{"code": 400, "type": "ClientError", "message": "inputs[0] is empty"}', "inputs[0] is empty"),
        ('{"error": "instances[1] has 1 values", "status": 400}', "instances[1] has 1 values"),
        ("plain text reason\n", "plain text reason"),
    ],
)
def test_the_handlers_reason_is_read_from_any_of_the_error_bodies(original, reason) -> None:
    assert handler_reason(original) == reason
