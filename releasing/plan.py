"""The preview's plan: every step the engine announces (ResourcePreEvent), counted, and the endpoint steps that
would replace or delete a live endpoint.

Why: replacing an `aws:sagemaker/endpoint:Endpoint` deletes the endpoint callers use (a named endpoint is
deleted before its replacement is created) and deleting one ends it; the release refuses both unless asked
(--allow-replace). The change summary alone counts ops, not which resources they touch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .failures import EXIT_REFUSED, ReleaseFailure

ENDPOINT_TYPE = "aws:sagemaker/endpoint:Endpoint"
SCALING_TARGET_TYPE = "aws:appautoscaling/target:Target"
DESTRUCTIVE = {"replace", "create-replacement", "delete-replaced", "delete"}


def _op(value: Any) -> str:
    return getattr(value, "value", value)


@dataclass
class Plan:
    """Fed by `on_event` during a preview; `steps` are (op, type, urn) of every announced step."""

    steps: list[tuple[str, str, str]] = field(default_factory=list)
    change_summary: dict[str, int] = field(default_factory=dict)

    def on_event(self, event: Any) -> None:
        pre = event.resource_pre_event
        if pre is None or pre.metadata is None:
            return
        m = pre.metadata
        self.steps.append((_op(m.op), m.type, m.urn))

    def record(self, result: Any) -> None:
        self.change_summary = {_op(k): v for k, v in (getattr(result, "change_summary", None) or {}).items()}

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(op for op, _, _ in self.steps)
        return dict(counts) if counts else dict(self.change_summary)

    @property
    def endpoint_losses(self) -> list[tuple[str, str]]:
        """(op, endpoint resource name) for each endpoint the plan replaces or deletes."""
        seen: dict[str, str] = {}
        for op, typ, urn in self.steps:
            if typ == ENDPOINT_TYPE and op in DESTRUCTIVE:
                name = urn.rsplit("::", 1)[-1]
                seen.setdefault(name, "delete" if op == "delete" else "replace")
        return sorted((op, name) for name, op in seen.items())

    @property
    def scaling_targets_going(self) -> list[str]:
        """Logical names of the scalable targets the plan replaces or deletes (e.g. a capacity type change)."""
        return sorted({urn.rsplit("::", 1)[-1] for op, typ, urn in self.steps
                       if typ == SCALING_TARGET_TYPE and op in DESTRUCTIVE})

    def render(self) -> list[str]:
        counts = self.counts
        changes = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()) if op != "same") or "no changes"
        lines = [f"plan: {changes}" + (f" ({counts['same']} unchanged)" if counts.get("same") else "")]
        changed = [(op, typ, urn) for op, typ, urn in self.steps if op not in ("same", "read", "refresh")]
        width = max((len(typ) for _, typ, _ in changed), default=0)
        for op, typ, urn in changed:
            lines.append(f"  {op:<18} {typ:<{width}} {urn.rsplit('::', 1)[-1]}")
        return lines

    def refuse_endpoint_losses(self, allow_replace: bool) -> None:
        losses = self.endpoint_losses
        if not losses or allow_replace:
            return
        what = ", ".join(f"{op}s {name}" for op, name in losses)
        raise ReleaseFailure(EXIT_REFUSED, f"the plan {what}: callers would lose the endpoint while it is recreated "
                                           "(or for good). Nothing was deployed. If that is intended, run again "
                                           "with --allow-replace; if not, check for a renamed endpoint or a "
                                           "resource moved without an alias (docs/ARCHITECTURE.md, Update paths)")
