"""Step two of a deployment, after the config is valid: find or build each endpoint's model.tar.gz, and check
that it fits the endpoint (built for its image, small enough for its memory tier).

Why a step of its own: validating the config builds nothing, so a typo never costs a model build; building
happens once here, through the one artifact cache (an unchanged recipe reuses the same bytes, so the S3 object
and the SageMaker Model stay put). A problem is a ConfigError naming the config key, like every config error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inference.build import cache
from inference.build.artifact import sha256_file
from inference.build.containers import Container
from inference.build.sizing import SERVING_OVERHEAD_MB, smallest_tier
from inference.manifest import ArtifactError, Manifest, read_manifest
from settings import ArtifactSource, ConfigError, EndpointSettings, Settings
from settings.rules import FRAMEWORK_REPOSITORY

Log = Callable[[str], None]


@dataclass(frozen=True)
class ResolvedArtifact:
    """A model.tar.gz on disk, its sha256 (its S3 key) and its manifest (what the stack needs to deploy it)."""

    path: Path
    sha256: str
    manifest: Manifest

    @property
    def example_request(self) -> str | None:
        """A request body the handler accepts, as JSON text (the stack's ready-to-run invoke example)."""
        example = self.manifest.handler.example_request
        return None if example is None else json.dumps(example)


def resolve_artifacts(settings: Settings, log: Log | None = None) -> dict[str, ResolvedArtifact]:
    """{endpoint name: its artifact}, each found or built and checked against its endpoint."""
    out = {}
    for endpoint in settings.endpoints:
        artifact = resolve_artifact(endpoint.artifact, endpoint.image.container, log)
        check_fits(endpoint, artifact)
        out[endpoint.name] = artifact
    return out


def resolve_artifact(source: ArtifactSource, container: Container, log: Log | None = None) -> ResolvedArtifact:
    """The artifact a source names: the file, or the recipe's build for `container` (built once, cached)."""
    if source.path is not None:
        if not source.path.is_file():
            raise ConfigError(
                f"{source.key}: artifact {source.path} does not exist; allowed: an existing model.tar.gz (build "
                "it with `python -m inference build ...`), or replace path with a build: recipe"
            )
        return describe(source.path, source.key)
    assert source.recipe is not None
    try:
        path = cache.recipe_artifact(source.recipe, container, log=log)
    except Exception as e:  # a failed build (quality gate, version skew, no file, ...) is reported on the config key
        raise ConfigError(
            f"{source.key}: building the {source.recipe['kind']} artifact for {container.image} failed: {e}"
        ) from e
    return describe(path, source.key)


def describe(path: Path, key: str) -> ResolvedArtifact:
    """The artifact at `path` with its typed manifest; an unreadable or outdated one is named on the key."""
    try:
        manifest = read_manifest(path)
    except ArtifactError as e:
        raise ConfigError(f"{key}: {e}; allowed: a model.tar.gz built by inference/, or a build: recipe") from e
    if manifest.framework not in FRAMEWORK_REPOSITORY:
        raise ConfigError(
            f"{key}: {path} has manifest framework {manifest.framework!r}; allowed: an artifact built by "
            f"inference/ (framework {' or '.join(FRAMEWORK_REPOSITORY)})"
        )
    return ResolvedArtifact(path=Path(path).resolve(), sha256=sha256_file(Path(path)), manifest=manifest)


def check_fits(endpoint: EndpointSettings, artifact: ResolvedArtifact) -> None:
    """The artifact must be built for the endpoint's image (framework, repository and tag) and fit its tier."""
    image, m = endpoint.image, artifact.manifest
    key = endpoint.artifact.key
    built_for = m.container.image
    if m.framework != endpoint.framework or m.container.repository != image.repository:
        raise ConfigError(
            f"{key}: {artifact.path} is a {m.framework!r} artifact built for {built_for}, but the "
            f"endpoint's image is {image.repository}:{image.tag}; allowed: an artifact built for "
            f"{FRAMEWORK_REPOSITORY[endpoint.framework]}, or image repository {FRAMEWORK_REPOSITORY[m.framework]}"
        )
    if m.container.tag != image.tag:
        raise ConfigError(
            f"{key}: {artifact.path} was built for {built_for} (its Python and packages), but the endpoint's "
            f"image tag is {image.tag!r}; allowed: image tag {m.container.tag!r}, or rebuild the artifact for this tag"
        )
    peak = m.resources.peak_rss_mb
    if endpoint.serverless is not None and peak is not None:
        try:
            need = smallest_tier(peak)
        except ValueError as e:
            raise ConfigError(f"{key}: {e}") from e
        if endpoint.serverless.memory_mb < need:
            raise ConfigError(
                f"{endpoint.key}.serverless.memory_mb: {endpoint.serverless.memory_mb} MB is below what the "
                f"artifact needs (peak RSS {peak:.0f} MB + {SERVING_OVERHEAD_MB} MB serving overhead); allowed: "
                f"{need} MB or more (the smallest tier that fits)"
            )
