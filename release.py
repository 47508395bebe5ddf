"""Release a stack: validate its config and build its artifacts first, then `pulumi up` via the Automation API.

    python release.py dev --build-only      # validate, build every artifact the stack needs, say where they are
    python release.py dev --preview         # validate, show the plan (builds nothing)
    python release.py prod --yes            # validate, build (or promote), deploy without asking

Why a script: a release must never reach `pulumi up` with a bad config or a missing artifact, and CI needs
exit codes rather than prompts. Exit codes: 0 done, 1 the deployment failed, 2 bad arguments or config
(nothing touched), 3 Pulumi not usable (CLI missing, not logged in, stack not found), 4 this machine cannot
build the artifacts (build on a Linux x86_64 machine, or point the stack at prebuilt ones).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from artifacts import Artifact, PendingArtifact, PromotedArtifact, ResolvedArtifact, resolve_artifacts
from inference.build.cache import BuildUnavailable
from settings import PROJECT, ConfigError, Settings, read_stack_file, validate

ROOT = Path(__file__).resolve().parent
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PULUMI, EXIT_CANNOT_BUILD = 0, 1, 2, 3, 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python release.py", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack to release: the name in Pulumi.<stack>.yaml (dev, prod, ...)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--preview", action="store_true", help="show what would change; build and deploy nothing")
    mode.add_argument("--build-only", action="store_true",
                      help="build every artifact the stack needs and say where `pulumi up` will find them")
    parser.add_argument("--yes", "-y", action="store_true", help="deploy without asking (required when not a TTY)")
    parser.add_argument("--work-dir", type=Path, default=ROOT, help="directory with Pulumi.yaml (default: this repo)")
    parser.add_argument("--message", "-m", default=None, help="message recorded with the update")
    parser.add_argument("--refresh", action="store_true", help="refresh state from AWS before the update")
    return parser.parse_args(argv)


def check(args: argparse.Namespace, log: Callable[[str], None]) -> tuple[Settings, dict[str, Artifact]]:
    """The same two steps as `pulumi up` runs, from the stack file: validate, then find or build the artifacts
    (a preview builds nothing, as `pulumi preview` does)."""
    raw, region = read_stack_file(args.work_dir, args.stack)
    settings = validate(raw, stack=args.stack, region=region, project=PROJECT)
    return settings, resolve_artifacts(settings, log=log, build=not args.preview)


def describe_artifact(a: Artifact) -> str:
    if isinstance(a, ResolvedArtifact):
        return f"sha256 {a.sha256[:12]}... at {a.path}"
    if isinstance(a, PromotedArtifact):
        return f"promoted from stack {a.stack} (read and copied by pulumi up)"
    assert isinstance(a, PendingArtifact)
    return "not built yet (pulumi up builds it)"


def main(argv: list[str] | None = None, *, confirm: Callable[[str], str] = input, out=print) -> int:
    args = parse_args(argv)
    try:
        settings, artifacts = check(args, out)
    except ConfigError as e:
        out(f"error: invalid config for stack {args.stack!r}: {e}")
        return EXIT_USAGE
    except BuildUnavailable as e:
        out(f"error: stack {args.stack!r}: {e}")
        return EXIT_CANNOT_BUILD
    out(f"{args.stack}: config valid; artifacts:")
    for name, a in artifacts.items():
        out(f"  {name}: {describe_artifact(a)}")
    if args.build_only:
        out(f"{args.stack}: built; `pulumi up` (or `python release.py {args.stack}`) finds these in the artifact cache")
        return EXIT_OK
    if not args.preview and not args.yes:
        if not sys.stdin.isatty():
            out("error: refusing to deploy without confirmation; pass --yes (or --preview)")
            return EXIT_USAGE
        if confirm(f"deploy stack {args.stack} to {settings.region}? [y/N] ").strip().lower() not in ("y", "yes"):
            out("cancelled")
            return EXIT_USAGE

    from pulumi import automation as auto

    try:
        stack = auto.select_stack(stack_name=args.stack, work_dir=str(args.work_dir))
    except auto.StackNotFoundError:
        out(
            f"error: stack {args.stack!r} does not exist in this backend; create it with "
            f"`pulumi stack init {args.stack}` (after `pulumi login`, see README.md, Deploying for real)"
        )
        return EXIT_PULUMI
    except (auto.CommandError, OSError) as e:
        out(f"error: cannot use the Pulumi CLI ({e}); install it and log in, see README.md, Deploying for real")
        return EXIT_PULUMI
    try:
        if args.refresh:
            stack.refresh(on_output=out)
        if args.preview:
            stack.preview(on_output=out, message=args.message)
            return EXIT_OK
        result = stack.up(on_output=out, message=args.message)
    except auto.CommandError as e:
        out(f"error: pulumi {'preview' if args.preview else 'up'} failed: {e}")
        return EXIT_FAILED
    out(f"{args.stack}: {result.summary.result}")
    for name, value in result.outputs.items():
        out(f"  {name} = {value.value}")
    return EXIT_OK if result.summary.result == "succeeded" else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
