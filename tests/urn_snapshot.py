"""What a stack run under mocks declares, reduced to what must not change across a refactoring of the program.

Why: Pulumi identifies a deployed resource by its URN (type chain + name). A refactoring that moves a resource
under another component changes its URN, and without an alias the next `pulumi up` deletes the old resource and
creates a new one (a new endpoint name clash, a new bucket, lost artifacts). `snapshot()` records every custom
resource's URN and its inputs with the run-dependent parts (auto-name suffixes, uuids, sha256s) masked, so a
later program can be checked against a snapshot taken from an earlier one (tests/test_urn_compat.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"

_MASKS = (
    (re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex32>"),
    (re.compile(r"-[0-9a-f]{7}\b"), "-<auto>"),
)


def mask(value: Any) -> Any:
    """value as JSON-able data with run-dependent strings masked; assets become their kind."""
    if isinstance(value, dict):
        return {k: mask(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, str):
        for pattern, repl in _MASKS:
            value = pattern.sub(repl, value)
        if value.startswith("{") and value.endswith("}"):  # JSON documents (policies, dashboards): compare as data
            try:
                return mask(json.loads(value))
            except ValueError:
                pass
        return value
    if value is None or isinstance(value, bool | int | float):
        return value
    return f"<{type(value).__name__}>"  # FileAsset and friends


def snapshot(resources: list[Any]) -> dict[str, dict[str, Any]]:
    """{urn: {"type", "inputs", "protect"}} of every resource; a component's inputs are its own business."""
    out: dict[str, dict[str, Any]] = {}
    for r in resources:
        component = not r.typ.startswith("aws:")
        out[mask(r.urn)] = {"type": r.typ, "inputs": None if component else mask(r.inputs), "protect": r.protect}
    return out


def load(name: str) -> Any:
    """tests/data/<name>.json"""
    return json.loads((DATA / f"{name}.json").read_text())


def save(name: str, data: Any) -> None:
    DATA.mkdir(exist_ok=True)
    (DATA / f"{name}.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def record() -> None:
    """Write the snapshots from the program as it is now (fake artifact builds, like the stack tests).

    Only for a deliberate, reviewed change of what a stack declares: the snapshots are the promise that a stack
    deployed by the previous program updates in place, so re-record in the same change that adds its aliases.
    """
    import tempfile

    import pytest
    from fake_artifacts import use_fake_builds
    from pulumi_mocks import run_program, stack_config

    with pytest.MonkeyPatch.context() as mp:
        use_fake_builds(mp, Path(tempfile.mkdtemp()))
        for stack in ("dev", "prod"):
            run = run_program(stack_config(stack), stack)
            if run.error is not None:
                raise run.error
            save(f"urns-{stack}", snapshot(run.resources))
            save(f"outputs-{stack}", mask(run.outputs))


if __name__ == "__main__":  # PYTHONPATH=. .venv/bin/python tests/urn_snapshot.py
    record()
