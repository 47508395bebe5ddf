"""Serverless memory tiers and the smallest one an artifact fits in.

Why: serverless bills memory tier x duration, so the stack should ask for the smallest tier that fits. The
build measures the handler's peak RSS (model_fn + a max-batch request) into the manifest; the tier must
also hold the serving stack around it (the model server's frontend and worker process), which we budget as a
fixed overhead. The overhead is an estimate, not a measurement on AWS: change it here, in one place.
"""

from __future__ import annotations

import math

from inference.limits import MEMORY_TIERS_MB

__all__ = ["MEMORY_TIERS_MB", "SERVING_OVERHEAD_MB", "required_memory_mb", "smallest_tier"]
# Model server frontend (MMS: a JVM) + Python worker baseline, budgeted on top of the handler's own peak RSS.
SERVING_OVERHEAD_MB = 512


def required_memory_mb(peak_rss_mb: float) -> float:
    """Memory the endpoint needs for a handler whose measured peak RSS is `peak_rss_mb`."""
    return peak_rss_mb + SERVING_OVERHEAD_MB


def smallest_tier(peak_rss_mb: float) -> int:
    """The smallest serverless tier that fits; ValueError when even the largest does not."""
    need = required_memory_mb(peak_rss_mb)
    for tier in MEMORY_TIERS_MB:
        if tier >= need:
            return tier
    raise ValueError(
        f"the artifact needs about {math.ceil(need)} MB (peak RSS {peak_rss_mb:.0f} MB + {SERVING_OVERHEAD_MB} MB "
        f"serving overhead), more than the largest serverless tier ({MEMORY_TIERS_MB[-1]} MB); "
        "use a smaller model or runtime (e.g. --runtime onnx-int8), or an instance-based endpoint"
    )
