"""A stack deployed from an earlier program updates in place: every URN it holds is still declared or aliased,
with the same inputs, and the stack outputs are the same.

tests/data/urns-<stack>.json and outputs-<stack>.json were recorded (tests/urn_snapshot.py) by running the
program as it was before its resources moved under the per-endpoint component. A URN missing here would make
`pulumi up` delete that resource and create a new one; changed inputs would update or replace it.
"""

from __future__ import annotations

import pytest
import urn_snapshot

STACKS = ["dev", "prod"]


def answered(run) -> dict[str, str]:
    """{URN the state may hold: the URN of the resource that now answers to it}, masked like the snapshot."""
    out = {}
    for r in run.resources:
        for urn in (r.urn, *r.aliases):
            out[urn_snapshot.mask(urn)] = urn_snapshot.mask(r.urn)
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_every_recorded_urn_is_still_declared_or_aliased(stack_runs, stack):
    recorded = urn_snapshot.load(f"urns-{stack}")
    now = answered(stack_runs[stack])
    missing = sorted(set(recorded) - set(now))
    assert not missing, f"{stack}: these deployed resources would be deleted and created anew: {missing}"


@pytest.mark.parametrize("stack", STACKS)
def test_each_recorded_resource_keeps_its_type_inputs_and_protection(stack_runs, stack):
    recorded = urn_snapshot.load(f"urns-{stack}")
    now = answered(stack_runs[stack])
    current = urn_snapshot.snapshot(stack_runs[stack].resources)
    changed = {}
    for urn, was in recorded.items():
        is_now = current.get(now.get(urn, ""))
        if is_now != was:
            changed[urn] = (was, is_now)
    assert not changed, f"{stack}: resources whose type, inputs or protect changed: {changed}"


@pytest.mark.parametrize("stack", STACKS)
def test_no_resource_is_added(stack_runs, stack):
    recorded = urn_snapshot.load(f"urns-{stack}")
    now = answered(stack_runs[stack])
    kept = {now[urn] for urn in recorded if urn in now}
    added = sorted(set(urn_snapshot.snapshot(stack_runs[stack].resources)) - kept)
    assert not added, f"{stack}: resources the earlier program did not have: {added}"


def kept(recorded, now, path="") -> list[str]:
    """Paths of recorded output values that are gone or changed now (new outputs are fine: nobody reads them yet)."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        return [p for k, v in recorded.items() for p in kept(v, now.get(k, KeyError), f"{path}.{k}")]
    return [] if recorded == now else [path or "."]


@pytest.mark.parametrize("stack", STACKS)
def test_every_recorded_stack_output_is_still_exported_unchanged(stack_runs, stack):
    changed = kept(urn_snapshot.load(f"outputs-{stack}"), urn_snapshot.mask(stack_runs[stack].outputs))
    assert not changed, f"{stack}: outputs that consumers of the deployed stack read and that changed: {changed}"


def test_a_changed_output_is_reported():
    assert kept({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3, "d": 4}}) == [".a.c"]
    assert kept({"a": 1}, {}) == [".a"]


def test_a_moved_resource_without_its_alias_is_reported_missing(stack_runs):
    """The check can fail: drop one alias and the role's old URN is no longer answered."""
    run = stack_runs["prod"]
    role = next(r for r in run.resources if r.name == "embeddings-exec-role")
    assert role.aliases, "the execution role moved under the endpoint component and must carry its old URN"
    saved = role.aliases
    role.aliases = []
    try:
        missing = set(urn_snapshot.load("urns-prod")) - set(answered(run))
    finally:
        role.aliases = saved
    assert missing == {urn_snapshot.mask(saved[0])}
