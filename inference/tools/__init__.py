"""Local tools that use artifacts without shaping them: serve, bench, cost, demo (no effect on the cache key)."""
