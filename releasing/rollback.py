"""Put each endpoint back on the config it served before the release, and check that it does.

Why: after a failed verify or smoke test the endpoint must serve what it served before. The stack keeps the
configs (and models) of its last releases alive, so the previous config still exists; UpdateEndpoint returns
to it without downtime. If it was deleted anyway, that is said plainly: the next deploy would then fail with
"Could not find endpoint configuration".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from .failures import ReleaseFailure
from .live import LiveState, WaitOptions, config_exists, describe, log_group, wait_in_service

IN_PROGRESS = {"Creating", "Updating", "SystemUpdating", "RollingBack"}


@dataclass(frozen=True)
class Outcome:
    """Whether `endpoint` is back where it was, and what it is in now."""

    endpoint: str
    ok: bool
    detail: str
    state: LiveState


def rollback(sm: object, name: str, before: LiveState | None, wait: WaitOptions,
             out: Callable[[str], None]) -> Outcome:
    """UpdateEndpoint back to `before.config_name`, wait for InService (boto3's waiter), verify the live config."""
    now = describe(sm, name)
    if before is None or before.missing:
        return Outcome(name, True, f"created by this release, nothing to return to; now {now.render()}", now)
    if not before.config_name:
        return Outcome(name, False, f"its config before the release is unknown ({before.render()}); now "
                                    f"{now.render()}", now)
    previous = before.config_name
    if now.status in IN_PROGRESS:
        out(f"  {name}: {now.status}; waiting before rolling back")
        try:
            now = wait_in_service(sm, name, wait)
        except ReleaseFailure as e:
            return Outcome(name, False, f"cannot roll back an endpoint that is not settled: {e.message}",
                           describe(sm, name))
    if now.config_name == previous and now.status == "InService":
        if not config_exists(sm, previous):
            return Outcome(name, False, f"serves {previous}, which no longer exists: the next deploy will fail with "
                                        "'Could not find endpoint configuration' until the stack recreates it", now)
        how = "SageMaker rolled the update back" if now.failure_reason else "the release did not change it"
        return Outcome(name, True, f"already serves its previous config {previous} ({how})", now)
    if not config_exists(sm, previous):
        return Outcome(name, False, f"cannot roll back: its previous config {previous} no longer exists (deleted "
                                    f"after the update); it stays {now.render()}", now)
    out(f"  {name}: UpdateEndpoint back to {previous}")
    try:
        sm.update_endpoint(EndpointName=name, EndpointConfigName=previous)
    except (ClientError, BotoCoreError) as e:
        hint = (f"; a Failed endpoint that SageMaker will not update must be deleted (`aws sagemaker delete-endpoint "
                f"--endpoint-name {name}`) and the stack released again" if now.status == "Failed" else "")
        return Outcome(name, False, f"UpdateEndpoint to {previous} was refused: {e}; now {now.render()}{hint}",
                       describe(sm, name))
    try:
        state = wait_in_service(sm, name, wait)
    except ReleaseFailure as e:
        return Outcome(name, False, f"rollback to {previous} did not finish: {e.message}", describe(sm, name))
    if state.config_name != previous:
        return Outcome(name, False, f"after the rollback it serves {state.config_name}, not {previous}; "
                                    f"logs: {log_group(name)}", state)
    return Outcome(name, True, f"rolled back to {previous}, InService (verified live)", state)
