"""The handlers run in the containers and cannot import inference.limits: their own constants must equal it."""

from __future__ import annotations

import inference.handlers.embeddings as embeddings_handler
import inference.handlers.sklearn as sklearn_handler
from inference import limits


def test_embeddings_handler_payload_limit_is_the_serverless_limit():
    assert embeddings_handler.DEFAULT_MAX_PAYLOAD_BYTES == limits.MAX_PAYLOAD_BYTES


def test_embeddings_handler_runtimes_are_the_build_runtimes():
    assert tuple(embeddings_handler.RUNTIMES) == limits.EMBEDDING_RUNTIMES
    assert limits.DEFAULT_EMBEDDING_RUNTIME in limits.EMBEDDING_RUNTIMES


def test_sklearn_handler_body_limit_is_the_serverless_limit():
    assert sklearn_handler.MAX_BODY_BYTES == limits.MAX_PAYLOAD_BYTES


def test_the_tools_and_builds_use_the_limits_module_not_copies():
    from inference.build import embeddings, sizing
    from inference.tools import bench, demo, serve

    assert sizing.MEMORY_TIERS_MB is limits.MEMORY_TIERS_MB
    assert serve.MAX_PAYLOAD_BYTES is limits.MAX_PAYLOAD_BYTES and serve.VARIANT_NAME == limits.VARIANT_NAME
    assert serve.ENDPOINT_NAME_PATTERN is limits.ENDPOINT_NAME_PATTERN
    for module in (embeddings, bench, demo):
        assert module.EMBEDDING_RUNTIMES is limits.EMBEDDING_RUNTIMES
