"""ScorerClient: the scikit-learn endpoint's contract through the same transport (fake scorer handler, real HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest
from endpoint_fixtures import FAST_RETRY, local_endpoint

from inference.client import ModelRequestError, RetryPolicy, ScorerClient
from inference.client.scorer import DEFAULT_MAX_INSTANCES


def test_rows_are_split_under_max_instances_and_answered_in_order(tmp_path: Path) -> None:
    with local_endpoint(tmp_path, kind="scorer", name="scorer") as (url, handler, app):
        client = ScorerClient("scorer", endpoint_url=url, max_instances=5, concurrency=2,
                              retry=RetryPolicy(**FAST_RETRY))
        rows = [[i / 10, (i % 3) / 2] for i in range(12)]
        predictions = client.predict(rows)
        assert [p["probabilities"]["1"] for p in predictions] == [round(min(1.0, (x + y) / 2), 6) for x, y in rows]
        assert app.state.endpoint.stats["served"] == 3
        shifted = client.predict(rows[:2], shift=1.0)  # request-level fields go into every request
        assert [p["probabilities"]["1"] for p in shifted] == [round(min(1.0, (x + y + 1) / 2), 6) for x, y in rows[:2]]
        assert client.predict([]) == []


def test_a_malformed_row_is_a_model_error_with_the_reason_not_retried(tmp_path: Path) -> None:
    with local_endpoint(tmp_path, kind="scorer", name="scorer") as (url, _, app):
        client = ScorerClient("scorer", endpoint_url=url, retry=RetryPolicy(**FAST_RETRY))
        with pytest.raises(ModelRequestError) as info:
            client.predict([[0.1, 0.2], [1.0]])
        assert info.value.reason == "instances[1] has 1 values; the model expects 2 features"
        assert app.state.endpoint.stats["client_errors"] == 1 and client.metrics["retries"] == 0


def test_max_instances_default_equals_the_handlers() -> None:
    from inference.handlers.sklearn import DEFAULT_MAX_INSTANCES as HANDLER_MAX

    assert DEFAULT_MAX_INSTANCES == HANDLER_MAX
