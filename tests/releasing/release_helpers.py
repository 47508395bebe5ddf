"""Helpers the release tests share: run release.main and collect its output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import release


def run_release(argv: list[str], *, answer: str = "n") -> tuple[int, list[str]]:
    lines: list[str] = []
    code = release.main(argv, confirm=lambda prompt: answer, out=lambda *a: lines.append(" ".join(map(str, a))))
    return code, lines


def release_argv(work_dir: Path, *extra: Any) -> list[str]:
    return ["dev", "--yes", "--work-dir", str(work_dir), "--wait-delay", "0", "--wait-attempts", "20", "--warm", "1",
            *map(str, extra)]
