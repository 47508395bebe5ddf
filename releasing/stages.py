"""A header and an elapsed time for each stage, so a long release says where it is and where time went."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Out = Callable[[str], None]


@dataclass
class Stage:
    """The running stage; `fail()` marks it failed when it carries on past a failure (to test every endpoint)."""

    name: str
    failed: bool = False

    def fail(self) -> None:
        self.failed = True


@dataclass
class Stages:
    """`with stages.stage("preview"):` prints `== preview` first and `-- preview: ok (1.2 s)` last (or failed,
    when it raised or was marked failed)."""

    out: Out
    clock: Callable[[], float] = time.monotonic
    done: list[tuple[str, str, float]] = field(default_factory=list)  # (stage, ok | failed, seconds)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        self.out(f"== {name}")
        t0 = self.clock()
        outcome = "failed"
        current = Stage(name)
        try:
            yield current
            outcome = "failed" if current.failed else "ok"
        finally:
            elapsed = self.clock() - t0
            self.done.append((name, outcome, elapsed))
            self.out(f"-- {name}: {outcome} ({elapsed:.1f} s)")
