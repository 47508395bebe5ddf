"""Probes for the component tests: what a component registers as its outputs (kept in the stack's state, shown by
`pulumi stack export`), and the provider each invoke runs with (the engine would apply it silently)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi_mocks import AwsMocks, RecordingMonitor

HERE = Path(__file__).resolve().parent


@pytest.fixture
def component_outputs(monkeypatch) -> dict[str, dict[str, Any]]:
    """{component name: the outputs it registered} for the runs made during the test."""
    recorded: dict[str, dict[str, Any]] = {}
    original = RecordingMonitor.RegisterResourceOutputs

    def register_outputs(self, request):
        recorded[request.urn.split("::")[-1]] = pulumi.runtime.rpc.deserialize_properties(request.outputs)
        return original(self, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResourceOutputs", register_outputs)
    return recorded


@dataclass
class Invoke:
    token: str
    args: dict[str, Any]
    provider: str


@pytest.fixture
def invokes(monkeypatch) -> list[Invoke]:
    """Every invoke made during the test, with the provider reference it ran with ("" when none)."""
    made: list[Invoke] = []
    original = AwsMocks.call

    def call(self, args):
        made.append(Invoke(args.token, dict(args.args), args.provider or ""))
        return original(self, args)

    monkeypatch.setattr(AwsMocks, "call", call)
    return made
