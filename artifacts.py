"""Step two of a deployment, after the config is valid: find or build each endpoint's model.tar.gz, and check
that it fits the endpoint (built for its image, small enough for its memory tier).

Why a step of its own: validating the config builds nothing, so a typo never costs a model build; building
happens once here, through the one artifact cache (an unchanged recipe reuses the same bytes, so the S3 object
and the SageMaker Model stay put). A problem is a ConfigError naming the config key, like every config error.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.artifact import ArtifactError, read_manifest, sha256_file
from inference.build_cache import ARTIFACT_NAME, BUILD_DIR, artifact_key, cached_artifact
from inference.containers import Container
from inference.sizing import SERVING_OVERHEAD_MB, smallest_tier
from settings import ArtifactSource, ConfigError, EndpointSettings, Settings
from settings.rules import FRAMEWORK_REPOSITORY


@dataclass(frozen=True)
class ResolvedArtifact:
    """A model.tar.gz on disk and what its manifest says the stack needs to deploy it."""

    path: Path
    sha256: str
    framework: str
    repository: str  # the image the artifact was built for
    tag: str
    runtime: str | None
    peak_rss_mb: float | None
    program: str  # entry script inside code/ (SAGEMAKER_PROGRAM for the scikit-learn image)
    example_request: str | None = None  # a request body the handler accepts, as JSON text
    content_type: str = "application/json"
    environment: Mapping[str, str] = field(default_factory=dict)  # what the image needs to run the handler


Builder = Callable[[Mapping[str, Any], Path, Container], Path]


def _build_embeddings(recipe: Mapping[str, Any], out_dir: Path, container: Container) -> Path:
    from inference.embeddings_build import build_embeddings  # heavy (torch): only when a build is needed

    result = build_embeddings(
        recipe["model"], out_dir, runtime=recipe["runtime"], revision=recipe.get("revision"), container=container.key
    )
    return Path(result.path)


def _build_sklearn(recipe: Mapping[str, Any], out_dir: Path, container: Container) -> Path:
    from inference.sklearn_build import build_sklearn

    module, func = recipe["trainer"].split(":")
    trainer = getattr(importlib.import_module(module), func)
    estimator = trainer(out_dir / "estimator.joblib", container=container.key)
    return Path(build_sklearn(estimator, out_dir, container=container.key).path)


BUILDERS: dict[str, Builder] = {"embeddings": _build_embeddings, "sklearn": _build_sklearn}


def recipe_artifact(recipe: Mapping[str, Any], container: Container, build_dir: Path | None = None) -> Path:
    key = artifact_key({"recipe": dict(recipe), "container": container.as_dict()})
    target = (build_dir or BUILD_DIR) / f"{recipe['kind']}-{key}" / ARTIFACT_NAME
    cached_artifact(target.parent, lambda work: BUILDERS[recipe["kind"]](recipe, work, container))
    return target


def resolve_artifacts(settings: Settings) -> dict[str, ResolvedArtifact]:
    """{endpoint name: its artifact}, each found or built and checked against its endpoint."""
    out = {}
    for endpoint in settings.endpoints:
        artifact = resolve_artifact(endpoint.artifact, endpoint.image.container)
        check_fits(endpoint, artifact)
        out[endpoint.name] = artifact
    return out


def resolve_artifact(source: ArtifactSource, container: Container) -> ResolvedArtifact:
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
        path = recipe_artifact(source.recipe, container)
    except Exception as e:  # a failed build (quality gate, version skew, no file, ...) is reported on the config key
        raise ConfigError(
            f"{source.key}: building the {source.recipe['kind']} artifact for {container.image} failed: {e}"
        ) from e
    return describe(path, source.key)


def describe(path: Path, key: str) -> ResolvedArtifact:
    """What the stack needs from a built artifact's manifest (sha256, image, memory, handler)."""
    try:
        manifest = read_manifest(path)
    except ArtifactError as e:
        raise ConfigError(f"{key}: {e}; allowed: a model.tar.gz built by inference/, or a build: recipe") from e
    container = manifest.get("container") or {}
    framework = manifest.get("framework")
    if framework not in FRAMEWORK_REPOSITORY or not isinstance(container, Mapping):
        raise ConfigError(
            f"{key}: {path} has manifest framework {framework!r} and container {container!r}; allowed: an artifact "
            "built by inference/ (framework huggingface or sklearn)"
        )
    peak = (manifest.get("resources") or {}).get("peak_rss_mb")
    handler = manifest.get("handler") or {}
    example = handler.get("example_request")
    return ResolvedArtifact(
        path=Path(path).resolve(),
        sha256=sha256_file(Path(path)),
        framework=framework,
        repository=str(container.get("repository")),
        tag=str(container.get("tag")),
        runtime=manifest.get("runtime"),
        peak_rss_mb=float(peak) if isinstance(peak, int | float) else None,
        program=Path(handler.get("program") or "inference.py").name,
        example_request=None if example is None else json.dumps(example),
        content_type=handler.get("content_type") or "application/json",
        environment=dict(handler.get("environment") or {}),
    )


def check_fits(endpoint: EndpointSettings, artifact: ResolvedArtifact) -> None:
    """The artifact must be built for the endpoint's image (framework, repository and tag) and fit its tier."""
    image = endpoint.image
    key = endpoint.artifact.key
    built_for = f"{artifact.repository}:{artifact.tag}"
    if artifact.framework != endpoint.framework or artifact.repository != image.repository:
        raise ConfigError(
            f"{key}: {artifact.path} is a {artifact.framework!r} artifact built for {built_for}, but the "
            f"endpoint's image is {image.repository}:{image.tag}; allowed: an artifact built for "
            f"{FRAMEWORK_REPOSITORY[endpoint.framework]}, or image repository "
            f"{FRAMEWORK_REPOSITORY.get(artifact.framework, '?')}"
        )
    if artifact.tag != image.tag:
        raise ConfigError(
            f"{key}: {artifact.path} was built for {built_for} (its Python and packages), but the endpoint's "
            f"image tag is {image.tag!r}; allowed: image tag {artifact.tag!r}, or rebuild the artifact for this tag"
        )
    serverless = endpoint.serverless
    if serverless is not None and artifact.peak_rss_mb is not None:
        try:
            need = smallest_tier(artifact.peak_rss_mb)
        except ValueError as e:
            raise ConfigError(f"{key}: {e}") from e
        if serverless.memory_mb < need:
            raise ConfigError(
                f"{endpoint.key}.serverless.memory_mb: {serverless.memory_mb} MB is below what the artifact needs "
                f"(peak RSS {artifact.peak_rss_mb:.0f} MB + {SERVING_OVERHEAD_MB} MB serving overhead); allowed: "
                f"{need} MB or more (the smallest tier that fits)"
            )
