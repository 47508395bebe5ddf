"""AWS limits and names shared by the stack's config rules, the builds and the local tools: one copy each.

The handlers under handlers/ run inside the containers and cannot import this module; where they need a
limit they carry their own constant, and tests/inference/test_limits.py checks that it equals the one here.
Sources: SageMaker developer guide "serverless-endpoints" (memory, concurrency, payload, exclusions) and the
CreateEndpoint / CreateEndpointConfig API references (name pattern); summarised in docs/aws-facts.md.
"""

from __future__ import annotations

import re

# Serverless memory sizes (MemorySizeInMB): 1024-6144 MB in 1 GB steps.
MEMORY_TIERS_MB: tuple[int, ...] = (1024, 2048, 3072, 4096, 5120, 6144)
# Serverless MaxConcurrency and ProvisionedConcurrency are each 1-200 per endpoint.
MAX_CONCURRENCY = 200
# Serverless request and response payloads are capped at 4 MB.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
# CreateEndpoint EndpointName pattern (and length: at most 63 characters).
# AWS's pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} counts a run of hyphens with the next character as one repeat;
# the 63-character limit is a separate rule (MaxLength 63), checked here by the lookahead.
ENDPOINT_NAME_PATTERN = re.compile(r"^(?=.{1,63}$)[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
# The one production variant of every endpoint (serverless endpoints allow exactly one).
VARIANT_NAME = "AllTraffic"
# How an embeddings artifact runs its encoder; the handler supports exactly these.
EMBEDDING_RUNTIMES: tuple[str, ...] = ("torch", "onnx", "onnx-int8")
DEFAULT_EMBEDDING_RUNTIME = "onnx-int8"
# Artifact frameworks: the prebuilt image family an artifact runs in.
FRAMEWORKS: tuple[str, ...] = ("huggingface", "sklearn")
