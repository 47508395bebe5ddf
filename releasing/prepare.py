"""The first two steps of every release, as `pulumi up` runs them, from the stack file: validate the config,
then find, build or promote each endpoint's artifact (a preview builds nothing, as `pulumi preview` does)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from artifacts import Artifact, PendingArtifact, PromotedArtifact, ResolvedArtifact, resolve_artifacts
from inference.build.cache import BuildUnavailable
from settings import PROJECT, ConfigError, Settings, read_stack_file, validate

from .failures import EXIT_CANNOT_BUILD, EXIT_USAGE, ReleaseFailure


def load(work_dir: Path, stack: str) -> Settings:
    try:
        raw, region = read_stack_file(work_dir, stack)
        return validate(raw, stack=stack, region=region, project=PROJECT)
    except ConfigError as e:
        raise ReleaseFailure(EXIT_USAGE, f"invalid config for stack {stack!r}: {e}") from None


def artifacts(settings: Settings, *, build: bool, log: Callable[[str], None]) -> dict[str, Artifact]:
    try:
        return resolve_artifacts(settings, log=log, build=build)
    except ConfigError as e:
        raise ReleaseFailure(EXIT_USAGE, f"invalid config for stack {settings.stack!r}: {e}") from None
    except BuildUnavailable as e:
        raise ReleaseFailure(EXIT_CANNOT_BUILD, f"stack {settings.stack!r}: {e}") from None


def describe_artifact(a: Artifact) -> str:
    if isinstance(a, ResolvedArtifact):
        return f"sha256 {a.sha256[:12]}... at {a.path}"
    if isinstance(a, PromotedArtifact):
        return f"promoted from stack {a.stack} (read and copied by pulumi up)"
    assert isinstance(a, PendingArtifact)
    return "not built yet (pulumi up builds it)"
