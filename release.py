"""Release a stack: validate, build, preview, deploy, verify the live endpoints, smoke-test them, roll back on failure.

    python release.py dev --build-only      # validate, build every artifact the stack needs, say where they are
    python release.py dev --preview         # validate, show the plan (builds nothing); refuses a replaced endpoint
    python release.py prod --yes            # the whole release without asking
    python release.py dev --local           # validate, build, serve each artifact locally, smoke-test it (no AWS)
    python release.py dev --destroy         # asks; says what protection will stop

Why a script: a release must never reach `pulumi up` with a bad config or a missing artifact, must not trust `up`
(the provider records an update SageMaker rolled back as done), and CI needs exit codes rather than prompts.
Stages (each with a header and its elapsed time): validate -> artifacts -> preview -> up -> verify -> smoke test ->
rollback (on any failure) -> summary; they live in releasing/.

Exit codes:
   0 done                                     8 the stack is locked by another update
   1 pulumi preview/up/refresh/destroy failed 9 the plan replaces or deletes an endpoint (--allow-replace)
   2 bad arguments or config, or cancelled   10 an endpoint ended Failed (rolled back)
   3 Pulumi CLI missing/unusable, no stack   11 an endpoint did not reach InService in time (rolled back)
   4 this machine cannot build the artifacts 12 the live config is not the declared one (rolled back)
   5 not logged in to a Pulumi backend       13 an endpoint failed its smoke test (rolled back)
   6 no AWS credentials                      14 the rollback failed: an endpoint is not on its previous config
   7 the AWS region is not the stack's
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from releasing.failures import (  # noqa: F401 - the exit codes are part of this script's interface
    EXIT_CANNOT_BUILD,
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PULUMI,
    EXIT_USAGE,
)

ROOT = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python release.py", description=__doc__.splitlines()[0],
                                     epilog="exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()))
    parser.add_argument("stack", help="stack to release: the name in Pulumi.<stack>.yaml (dev, prod, ...)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--preview", action="store_true", help="show what would change; build and deploy nothing")
    mode.add_argument("--build-only", action="store_true",
                      help="build every artifact the stack needs and say where `pulumi up` will find them")
    mode.add_argument("--local", action="store_true",
                      help="build, serve each artifact with the local endpoint and smoke-test it; no Pulumi, no AWS")
    mode.add_argument("--destroy", action="store_true", help="destroy the stack (asks; says what protection stops)")
    parser.add_argument("--yes", "-y", action="store_true", help="do it without asking (required when not a TTY)")
    parser.add_argument("--allow-replace", action="store_true",
                        help="deploy even when the plan replaces or deletes an endpoint")
    parser.add_argument("--work-dir", type=Path, default=ROOT, help="directory with Pulumi.yaml (default: this repo)")
    parser.add_argument("--message", "-m", help="message recorded with the update")
    parser.add_argument("--refresh", action="store_true", help="refresh state from AWS before the update")
    parser.add_argument("--wait-delay", type=float, default=30.0, metavar="S",
                        help="seconds between DescribeEndpoint polls while waiting for InService (default 30)")
    parser.add_argument("--wait-attempts", type=int, default=60, metavar="N",
                        help="polls before an endpoint counts as timed out (default 60: 30 minutes at 30 s)")
    parser.add_argument("--warm", type=int, default=5, metavar="N", help="warm requests timed by the smoke test")
    args = parser.parse_args(argv)
    if args.wait_delay < 0 or args.wait_attempts < 1 or args.warm < 0:
        parser.error("--wait-delay must be >= 0, --wait-attempts >= 1 and --warm >= 0")
    return args


def main(argv: list[str] | None = None, *, confirm: Callable[[str], str] = input, out=print) -> int:
    args = parse_args(argv)
    if args.local:
        from releasing.local import release_local

        return release_local(args, out)
    from releasing.flow import release

    return release(args, out, confirm)


if __name__ == "__main__":
    sys.exit(main())
