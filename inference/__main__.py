"""`python -m inference <command>`: build | serve | bench | cost | demo.

Each command lives in its own module, which exposes `add_arguments(parser)` and `run(args) -> int`;
modules are imported only for the command that runs, so `serve` never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    # name: (module, help)
    "serve": ("inference.tools.serve", "serve an artifact locally like a SageMaker endpoint"),
    "bench": ("inference.tools.bench", "benchmark the embedding runtimes side by side"),
    "cost": ("inference.tools.cost", "estimate the monthly cost of an endpoint"),
    "demo": ("inference.tools.demo", "build the default artifact, serve it and send a smoke request"),
    "check": ("inference.tools.check", "check an endpoint (deployed or local): status, contract, errors, latency"),
}
BUILD_KINDS = {
    "embeddings": ("inference.build.embeddings", "a sentence-transformers embedding model"),
    "sklearn": ("inference.build.sklearn", "a fitted scikit-learn estimator or pipeline"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build a model.tar.gz artifact")
    kinds = build.add_subparsers(dest="kind", required=True)
    for kind, (module, help_) in BUILD_KINDS.items():
        p = kinds.add_parser(kind, help=help_)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
