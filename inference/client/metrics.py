"""Counters and latency percentiles a caller can read (`client.metrics.snapshot()`).

Why: throttles, retries and cache hits are what tell a team to raise MaxConcurrency, add provisioned
concurrency or size the cache; they belong in the caller's logs and dashboards, not in a debugger.
Thread-safe; latencies are kept for the last `window` requests so a long-running worker stays bounded.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

COUNTERS = ("requests", "retries", "throttles", "not_ready", "server_errors", "model_errors", "failures",
            "cache_hits", "cache_misses", "cache_errors", "texts_sent")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0-100)."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n * q / 100), at least 1
    return sorted_values[int(min(rank, len(sorted_values))) - 1]


class Metrics:
    """requests: HTTP attempts that reached the endpoint (retries included); retries: attempts after the
    first; throttles / not_ready / server_errors: answers of that kind; model_errors: handler 4xx; failures:
    calls that raised; cache_*: per text; latency: seconds per successful request (one HTTP exchange)."""

    def __init__(self, window: int = 10_000):
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._latencies: deque[float] = deque(maxlen=window)

    def add(self, name: str, n: int = 1) -> None:
        if name not in self._counts:
            raise KeyError(f"unknown metric {name!r}; known: {', '.join(COUNTERS)}")
        with self._lock:
            self._counts[name] += n

    def latency(self, seconds: float) -> None:
        with self._lock:
            self._latencies.append(seconds)

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, Any]:
        """Counters plus latency p50/p90/p99/max in milliseconds over the window."""
        with self._lock:
            counts = dict(self._counts)
            lat = sorted(self._latencies)
        ms = {f"p{q}": round(percentile(lat, q) * 1000, 3) for q in (50, 90, 99)}
        ms["max"] = round(lat[-1] * 1000, 3) if lat else 0.0
        return {**counts, "latency_ms": ms, "latency_samples": len(lat)}

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(COUNTERS, 0)
            self._latencies.clear()
