"""Edits of a raw stack config, for tables of bad-config cases: each returns mutate(raw, arts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Edit = Callable[[dict, dict], None]


def set_key(path: str, value: Any) -> Edit:
    """Mutation setting raw[...path...] = value (value may be a function of the artifacts)."""

    def mutate(raw: dict, arts: dict) -> None:
        *parents, last = path.split(".")
        node: Any = raw
        for p in parents:
            node = node[int(p)] if p.isdigit() else node.setdefault(p, {})
        node[last] = value(arts) if callable(value) else value

    return mutate


def del_key(path: str) -> Edit:
    def mutate(raw: dict, arts: dict) -> None:
        *parents, last = path.split(".")
        node: Any = raw
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        del node[last]

    return mutate


def both(*ms: Edit) -> Edit:
    def mutate(raw: dict, arts: dict) -> None:
        for m in ms:
            m(raw, arts)

    return mutate
