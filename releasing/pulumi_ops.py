"""The Automation API boundary: select the stack (logged in?), then preview / up / refresh / destroy, with each
Pulumi error turned into its own ReleaseFailure.

Why here: the tests fake `pulumi.automation.select_stack` and nothing else of Pulumi; every other stage works
on plain values (the plan's steps, the stack's outputs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .failures import EXIT_FAILED, EXIT_LOCKED, EXIT_NOT_LOGGED_IN, EXIT_PULUMI, ReleaseFailure
from .preflight import INSTALL_PULUMI

# What the CLI prints when no backend is logged in (or the token is missing or expired).
# Pulumi's own wording only: an AWS "Unauthorized..." error during `up` is a failed deployment, not a login problem.
NOT_LOGGED_IN = re.compile(r"pulumi login|PULUMI_ACCESS_TOKEN|not logged in|getting user info|invalid access token|"
                           r"No credentials provided", re.IGNORECASE)
LOGIN_HELP = ("log in first: `pulumi login` (Pulumi Cloud), `pulumi login --local` (a file backend in ~/.pulumi) or "
              "`pulumi login s3://bucket/prefix`; in CI set PULUMI_ACCESS_TOKEN or PULUMI_BACKEND_URL")


def select(stack_name: str, work_dir: Path, out: Callable[[str], None]) -> Any:
    """The stack through the Automation API, after checking who is logged in."""
    from pulumi import automation as auto

    try:
        stack = auto.select_stack(stack_name=stack_name, work_dir=str(work_dir))
    except auto.StackNotFoundError:
        raise ReleaseFailure(EXIT_PULUMI, f"stack {stack_name!r} does not exist in this backend; create it with "
                                          f"`pulumi stack init {stack_name}` (README.md, Deploying)") from None
    except auto.CommandError as e:
        if NOT_LOGGED_IN.search(str(e)):
            raise ReleaseFailure(EXIT_NOT_LOGGED_IN, f"not logged in to a Pulumi backend: {LOGIN_HELP}") from None
        raise ReleaseFailure(EXIT_PULUMI, f"cannot use the Pulumi CLI: {_short(e)}; {INSTALL_PULUMI}") from None
    except OSError as e:
        raise ReleaseFailure(EXIT_PULUMI, f"cannot run the Pulumi CLI ({e}); {INSTALL_PULUMI}") from None
    try:
        who = stack.workspace.who_am_i()
    except auto.CommandError as e:
        raise ReleaseFailure(EXIT_NOT_LOGGED_IN, f"not logged in to a Pulumi backend ({_short(e)}): "
                                                 f"{LOGIN_HELP}") from None
    out(f"pulumi: stack {stack_name} as {who.user}" + (f" at {who.url}" if who.url else ""))
    return stack


def run(operation: str, call: Callable[[], Any]) -> Any:
    """`call()` (stack.preview, up, refresh or destroy), its failures named: locked (8) or failed (1)."""
    from pulumi import automation as auto

    try:
        return call()
    except auto.ConcurrentUpdateError:
        raise ReleaseFailure(EXIT_LOCKED, f"pulumi {operation}: the stack is locked by another update; wait for it "
                                          "to finish, or if it crashed, `pulumi cancel` (Pulumi Cloud) or "
                                          "remove the backend's lock file (file/S3 backend)") from None
    except auto.CommandError as e:
        if NOT_LOGGED_IN.search(str(e)):
            raise ReleaseFailure(EXIT_NOT_LOGGED_IN, f"pulumi {operation}: not logged in: {LOGIN_HELP}") from None
        raise ReleaseFailure(EXIT_FAILED, f"pulumi {operation} failed: {_short(e, 2000)}") from None


def outputs(result: Any) -> dict[str, Any]:
    """The plain values of an UpResult's outputs (OutputValue.value)."""
    return {k: getattr(v, "value", v) for k, v in (result.outputs or {}).items()}


def _short(e: Exception, n: int = 400) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= n else text[: n - 3] + "..."
