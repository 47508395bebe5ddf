"""Autoscaled variants through an update: their provisioned concurrency kept, their scaling out of the way.

Why: pulumi-aws never sets UpdateEndpoint's RetainAllVariantProperties (API default false), so every update resets
a variant's provisioned concurrency to the new config's value, undoing what Application Auto Scaling had set
under load: an endpoint scaled out to 8 drops back to the config's 2 in the middle of a release. The release
records each autoscaled variant's live provisioned concurrency before `up` and, once the new version is
verified, sets it back (within the scaling bounds) with UpdateEndpointWeightsAndCapacities, which changes
serverless capacity without a new config; the autoscaler carries on from there.

And: SageMaker refuses an UpdateEndpoint that changes an autoscaled variant's capacity (serverless <-> instances,
provisioned concurrency on <-> off) while its scalable target is registered, but Pulumi updates the endpoint
before it replaces the target that depends on it. When the plan replaces or deletes a scalable target, the
release deregisters it first (`deregister_going`); `up` then registers the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .live import WaitOptions, wait_in_service

Out = Callable[[str], None]


@dataclass(frozen=True)
class Autoscaled:
    """An endpoint whose provisioned concurrency Application Auto Scaling manages, and its bounds."""

    name: str
    min_capacity: int
    max_capacity: int


def autoscaled(settings: Any) -> list[Autoscaled]:
    """The stack's serverless endpoints with provisioned concurrency and scaling."""
    return [Autoscaled(ep.endpoint_name, ep.scaling.min_capacity, ep.scaling.max_capacity)
            for ep in settings.endpoints
            if ep.scaling is not None and ep.serverless is not None and ep.serverless.provisioned_concurrency]


def provisioned(sm: Any, name: str) -> dict[str, int]:
    """{variant: live provisioned concurrency}; empty when the endpoint does not exist yet or has none."""
    try:
        variants = sm.describe_endpoint(EndpointName=name).get("ProductionVariants", [])
    except (ClientError, BotoCoreError):
        return {}
    out = {}
    for v in variants:
        pc = (v.get("CurrentServerlessConfig") or {}).get("ProvisionedConcurrency")
        if pc:
            out[v["VariantName"]] = int(pc)
    return out


def restore(sm: Any, ep: Autoscaled, before: dict[str, int], wait: WaitOptions) -> str:
    """Set each variant's provisioned concurrency back to what it was before the release (within the bounds)."""
    if not before:
        return "nothing to restore (no provisioned concurrency before the release)"
    now = provisioned(sm, ep.name)
    wanted = {v: min(max(pc, ep.min_capacity), ep.max_capacity) for v, pc in before.items()}
    changes = [{"VariantName": v, "ServerlessUpdateConfig": {"ProvisionedConcurrency": pc}}
               for v, pc in wanted.items() if now.get(v) != pc]
    if not changes:
        return f"provisioned concurrency {wanted} kept"
    sm.update_endpoint_weights_and_capacities(EndpointName=ep.name, DesiredWeightsAndCapacities=changes)
    wait_in_service(sm, ep.name, wait)
    return f"provisioned concurrency back to {wanted} (the update had reset it to {now or 'none'})"


def deregister_going(autoscaling: Any, settings: Any, targets: list[str], out: Out) -> list[str]:
    """Deregister the live scalable target of each endpoint whose target (`<key>-scaling-target`) the plan replaces
    or deletes; returns the resource ids deregistered."""
    by_key = {ep.name: ep.endpoint_name for ep in settings.endpoints}
    done = []
    for target in targets:
        key = target.removesuffix("-scaling-target")
        name = by_key.get(key)
        if name is None:
            continue
        resource = f"endpoint/{name}/variant/AllTraffic"
        live = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])
        for t in live.get("ScalableTargets", []):
            autoscaling.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource,
                                                   ScalableDimension=t["ScalableDimension"])
            out(f"  {name}: deregistered its scalable target ({t['ScalableDimension']}) before the update changes "
                "its capacity; `up` registers the new one")
            done.append(resource)
    return done
