"""A header and an elapsed time for each stage, so a long release says where it is and where time went."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Out = Callable[[str], None]


@dataclass
class Stages:
    """`with stages.stage("preview"):` prints `== preview` first and `-- preview: ok (1.2 s)` last."""

    out: Out
    clock: Callable[[], float] = time.monotonic
    done: list[tuple[str, str, float]] = field(default_factory=list)  # (stage, ok | failed, seconds)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.out(f"== {name}")
        t0 = self.clock()
        outcome = "failed"
        try:
            yield
            outcome = "ok"
        finally:
            elapsed = self.clock() - t0
            self.done.append((name, outcome, elapsed))
            self.out(f"-- {name}: {outcome} ({elapsed:.1f} s)")
