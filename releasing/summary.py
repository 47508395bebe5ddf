"""The closing table: one row per endpoint with its status, artifact, config and latencies."""

from __future__ import annotations

from dataclasses import dataclass

HEADERS = ("endpoint", "status", "artifact sha256", "config", "cold ms", "warm ms")


@dataclass
class Row:
    endpoint: str
    status: str
    sha256: str | None = None
    config: str | None = None
    cold_ms: float | None = None
    warm_ms: float | None = None

    def cells(self) -> tuple[str, ...]:
        def ms(v: float | None) -> str:
            return f"{v:.1f}" if v is not None else "-"

        sha = f"{self.sha256[:12]}..." if self.sha256 else "-"
        return (self.endpoint, self.status, sha, self.config or "-", ms(self.cold_ms), ms(self.warm_ms))


def table(rows: list[Row]) -> list[str]:
    cells = [HEADERS, *(r.cells() for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
