"""The order of a release: validate -> artifacts -> preview (refusing a replaced endpoint) -> up -> verify the live
state -> smoke test -> on any failure, roll back; once verified, prune old releases -> summary. Also --preview,
--build-only and --destroy.

Each stage raises ReleaseFailure; this module decides what runs next (a rollback after any failure past the
point where endpoints were recorded) and which exit code the release ends with.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from inference.tools.check import Target

from . import capacity, prepare, pulumi_ops, retention
from .failures import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_ROLLBACK_FAILED,
    EXIT_SMOKE_FAILED,
    EXIT_USAGE,
    ReleaseFailure,
)
from .live import Declared, LiveState, WaitOptions, declared_endpoints, describe, sagemaker_client, snapshot, verify
from .plan import Plan
from .preflight import aws_session, require_pulumi_cli
from .rollback import Outcome, rollback
from .smoke import SmokeResult, smoke_test
from .stages import Stages
from .summary import Row, table

Out = Callable[[str], None]


def wait_options(args: argparse.Namespace) -> WaitOptions:
    return WaitOptions(delay=args.wait_delay, max_attempts=args.wait_attempts)


def release(args: argparse.Namespace, out: Out, confirm: Callable[[str], str]) -> int:
    stages = Stages(out)
    try:
        return _release(args, stages, out, confirm)
    except ReleaseFailure as f:
        out(f"error: {f.message}")
        return f.code


def _interactive() -> bool:
    return sys.stdin.isatty()


def _release(args: argparse.Namespace, stages: Stages, out: Out, confirm: Callable[[str], str]) -> int:
    with stages.stage("validate"):
        settings = prepare.load(args.work_dir, args.stack)
        out(f"{args.stack}: config valid ({len(settings.endpoints)} endpoint(s), {settings.region})")
        session = None
        if not args.build_only:
            require_pulumi_cli()
            session = aws_session(settings.region)
    with stages.stage("artifacts"):
        artifacts = prepare.artifacts(settings, build=not (args.preview or args.destroy), log=out)
        out(f"{args.stack}: artifacts:")
        for name, a in artifacts.items():
            out(f"  {name}: {prepare.describe_artifact(a)}")
    if args.build_only:
        out(f"{args.stack}: built; `pulumi up` (or `python release.py {args.stack}`) finds these in the artifact cache")
        return EXIT_OK
    if not args.preview and not args.yes and not _interactive():
        raise ReleaseFailure(EXIT_USAGE, f"refusing to {'destroy' if args.destroy else 'deploy'} without "
                                         "confirmation; pass --yes (or --preview)")
    with stages.stage("pulumi"):
        stack = pulumi_ops.select(args.stack, args.work_dir, out)
    if args.refresh:
        with stages.stage("refresh"):
            pulumi_ops.run("refresh", lambda: stack.refresh(on_output=out))
    if args.destroy:
        return _destroy(args, settings, stack, stages, out, confirm)
    with stages.stage("preview"):
        plan = Plan()
        result = pulumi_ops.run("preview", lambda: stack.preview(on_output=out, on_event=plan.on_event,
                                                                 message=args.message))
        plan.record(result)
        for line in plan.render():
            out(line)
        plan.refuse_endpoint_losses(args.allow_replace)
    if args.preview:
        return EXIT_OK
    if not args.yes and confirm(f"deploy stack {args.stack} to {settings.region}? [y/N] ").strip().lower() not in (
            "y", "yes"):
        out("cancelled")
        return EXIT_USAGE
    return _deploy(args, settings, stack, session, stages, out, plan)


def _deploy(args: argparse.Namespace, settings: Any, stack: Any, session: Any, stages: Stages, out: Out,
            plan: Plan) -> int:
    """record live state -> up -> verify -> smoke test; any failure from `up` on -> rollback; then the summary."""
    sm = sagemaker_client(session)
    wait = wait_options(args)
    names = [e.endpoint_name for e in settings.endpoints]
    scaled = capacity.autoscaled(settings)
    with stages.stage("record live state"):
        before = _record(sm, names, out)
        capacity_before = {ep.name: capacity.provisioned(sm, ep.name) for ep in scaled}
        for name, pcs in capacity_before.items():
            if pcs:
                out(f"  {name}: provisioned concurrency {pcs} (autoscaled; restored after the update)")
    going = plan.scaling_targets_going
    if going:
        with stages.stage("scaling"):
            capacity.deregister_going(session.client("application-autoscaling"), settings, going, out)
    failures: list[ReleaseFailure] = []
    declared: list[Declared] = []
    smoke: dict[str, SmokeResult] = {}
    outputs: dict[str, Any] = {}
    try:
        with stages.stage("up"):
            declared = _up(args, stack, names, out, outputs)
    except ReleaseFailure as f:
        if f.code == EXIT_LOCKED:  # another update holds the lock: this one changed nothing
            raise
        failures.append(f)
    if not failures:
        with stages.stage("verify") as stage:
            for d in declared:
                try:
                    out(f"  {d.name}: {verify(sm, d, wait).render()} (as declared)")
                except ReleaseFailure as f:
                    out(f"  {d.name}: {f.message}")
                    failures.append(f)
                    stage.fail()
    if not failures:
        with stages.stage("smoke test") as stage:
            for d in declared:
                smoke[d.name] = r = smoke_test(Target(d.name, region=settings.region), manifest=d.manifest,
                                               warm=args.warm, sagemaker_client=sm, session=session, out=out)
                if not r.ok:
                    failures.append(ReleaseFailure(EXIT_SMOKE_FAILED, f"endpoint {d.name} failed its smoke test: "
                                                                      f"{r.failures()}"))
                    stage.fail()
    outcomes: dict[str, Outcome] = {}
    if failures:
        with stages.stage("rollback") as stage:
            for name in names:
                outcomes[name] = o = rollback(sm, name, before.get(name), wait, out)
                out(f"  {name}: {'ok' if o.ok else 'FAILED'}: {o.detail}")
                if not o.ok:
                    stage.fail()
    if not failures and scaled:
        with stages.stage("capacity") as stage:
            for ep in scaled:
                try:
                    out(f"  {ep.name}: {capacity.restore(sm, ep, capacity_before[ep.name], wait)}")
                except (ReleaseFailure, ClientError, BotoCoreError) as e:  # the release stands; autoscaling adjusts
                    out(f"  {ep.name}: provisioned concurrency not restored ({e}); autoscaling will adjust it")
                    stage.fail()
    if not failures:
        with stages.stage("retention"):
            _prune(settings, declared, outputs, session, sm, out)
    with stages.stage("summary"):
        _summary(sm, names, declared, smoke, out)
    if not failures:
        out(f"{args.stack}: released")
        return EXIT_OK
    return _report_failure(failures, outcomes, out)


def _record(sm: Any, names: list[str], out: Out) -> dict[str, LiveState]:
    """Each endpoint's live config before `up`; a release that could not roll back is not started."""
    before = snapshot(sm, names)
    for name, state in before.items():
        out(f"  {name}: {state.render()}")
    unknown = [s for s in before.values() if s.error]
    if unknown:
        raise ReleaseFailure(EXIT_FAILED, "cannot read the live state of " + "; ".join(
            f"{s.name} ({s.error})" for s in unknown) + ": without it a failed release could not be rolled "
            "back, so nothing was deployed; the caller needs sagemaker:DescribeEndpoint")
    return before


def _prune(settings: Any, declared: list[Declared], outputs: dict[str, Any], session: Any, sm: Any,
           out: Out) -> None:
    """Old releases beyond `releases_kept`, now that this one is verified. A failure here is reported, not fatal:
    the release itself is done, and what was not pruned is pruned by the next one."""
    bucket = outputs.get("artifact_bucket")
    tags = {"project": settings.project, "stack": settings.stack}
    for d in declared:
        if not (bucket and d.config_name):
            out(f"  {d.name}: not pruned (the stack's outputs name no bucket or config)")
            continue
        ep = retention.Endpoint(d.key, d.name, d.config_name, bucket)
        try:
            done = retention.prune(sm, session.client("s3"), ep, keep=settings.releases_kept, tags=tags, log=out)
        except Exception as e:  # noqa: BLE001 -- reported; retention never fails a verified release
            out(f"  {d.name}: not pruned ({type(e).__name__}: {e}); the next release tries again")
            continue
        out(f"  {d.name}: keeps {len(done.kept_configs)} release(s); pruned {len(done.configs)} config(s), "
            f"{len(done.models)} model(s), {len(done.artifacts)} artifact(s)")


def _up(args: argparse.Namespace, stack: Any, names: list[str], out: Out,
        outputs: dict[str, Any] | None = None) -> list[Declared]:
    """`pulumi up`, streaming its output; the endpoints its outputs declare (all outputs go into `outputs`)."""
    result = pulumi_ops.run("up", lambda: stack.up(on_output=out, message=args.message))
    if result.summary.result != "succeeded":
        raise ReleaseFailure(EXIT_FAILED, f"pulumi up ended {result.summary.result!r}")
    if outputs is not None:
        outputs.update(pulumi_ops.outputs(result))
    declared = declared_endpoints(pulumi_ops.outputs(result))
    undeclared = sorted(set(names) - {d.name for d in declared})
    if undeclared:
        raise ReleaseFailure(EXIT_FAILED, f"the stack's `endpoints` output does not name {', '.join(undeclared)}: "
                                          "the release cannot verify what it does not know")
    return declared


def _summary(sm: Any, names: list[str], declared: list[Declared], smoke: dict[str, SmokeResult], out: Out) -> None:
    by_name = {d.name: d for d in declared}
    rows = []
    for name in names:
        state = describe(sm, name)
        d, s = by_name.get(name), smoke.get(name)
        # the declared artifact is the one serving only while the declared config is live (not after a rollback)
        sha = d.artifact_sha256 if d and d.config_name == state.config_name else None
        rows.append(Row(name, _status(state, s), sha, state.config_name,
                        s.cold_ms if s else None, s.warm_ms if s else None))
    for line in table(rows):
        out(line)


def _report_failure(failures: list[ReleaseFailure], outcomes: dict[str, Outcome], out: Out) -> int:
    """What failed, what each endpoint is in now; the first failure's code, or 14 when a rollback failed."""
    for f in failures:
        out(f"error: {f.message}")
    rolled_back = all(o.ok for o in outcomes.values())
    if not rolled_back:
        out("error: the rollback did not put every endpoint back: "
            + "; ".join(f"{n}: {o.detail}" for n, o in outcomes.items() if not o.ok))
    out("now: " + "; ".join(f"{n} {o.state.render()}" for n, o in outcomes.items()))
    if any(o.ok and "rolled back to" in o.detail for o in outcomes.values()):
        out("note: the stack's state still names the new configs; the next release (or --refresh) reconciles it")
    return failures[0].code if rolled_back else EXIT_ROLLBACK_FAILED


def _status(state: LiveState, smoke: SmokeResult | None) -> str:
    live = "missing" if state.missing else (state.status or "unknown")
    if smoke is None:
        return live
    return f"{live}, smoke {'ok' if smoke.ok else 'FAILED'}"


def _destroy(args: argparse.Namespace, settings: Any, stack: Any, stages: Stages, out: Out,
             confirm: Callable[[str], str]) -> int:
    out(f"destroy stack {args.stack} ({settings.region}): every endpoint, model, config, role and the artifacts.")
    if settings.protect:
        out("  protection: this stack sets sls-endpoints:protect: true, so its endpoints and KMS key are protected "
            "and the destroy stops at them; unprotect on purpose first (`pulumi state unprotect -s "
            f"{args.stack} <urn>`). The artifact bucket is not force-emptied, so it stays while artifacts remain.")
    else:
        out("  protection: none (sls-endpoints:protect is false); the artifact bucket is emptied and deleted.")
    if not args.yes and confirm(f"type the stack name ({args.stack}) to destroy it: ").strip() != args.stack:
        out("cancelled")
        return EXIT_USAGE
    with stages.stage("destroy"):
        try:
            result = pulumi_ops.run("destroy", lambda: stack.destroy(on_output=out, message=args.message))
        except ReleaseFailure as f:
            if "protect" in f.message:
                f.message += (" -- the destroy stopped at protected resources (sls-endpoints:protect); what was "
                              f"not protected is gone. To remove the rest on purpose: `pulumi state unprotect -s "
                              f"{args.stack} <urn>` for each, then run --destroy again")
            raise
    out(f"{args.stack}: destroy {result.summary.result}")
    return EXIT_OK if result.summary.result == "succeeded" else EXIT_FAILED
