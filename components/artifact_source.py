"""Find or build the model.tar.gz an endpoint's config names (no Pulumi import: runs during validation).

Why: `pulumi up` on a fresh clone must work, so an endpoint may name a build recipe instead of a file. A recipe
is built once with the inference/ package and kept in inference.build_cache (build/artifacts/, the cache the
demo and the bench use too), keyed by the recipe, the target container, the inference/ sources and the build
environment: an unchanged recipe reuses the same bytes (same sha256, so the S3 object and the SageMaker Model
stay put), and a changed handler or recipe rebuilds. Builds are byte-reproducible (inference/artifact.py), so
even a rebuild of unchanged inputs gives the same sha256.
"""

from __future__ import annotations

import importlib
import json
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from inference.build.artifact import ArtifactError, sha256_file
from inference.build.cache import ARTIFACT_NAME, BUILD_DIR, artifact_key, cached_artifact
from inference.build.containers import Container
from inference.manifest import read_manifest_json as read_manifest  # raw JSON until describe reads the typed Manifest
from settings import ArtifactRequest, ConfigError, ResolvedArtifact

DEFAULT_PROGRAM = "inference.py"  # the handler every inference/ artifact carries in code/

# kind -> builder(recipe, out_dir, container) -> path of the built tarball
Builder = Callable[[Mapping[str, Any], Path, Container], Path]


def _build_embeddings(recipe: Mapping[str, Any], out_dir: Path, container: Container) -> Path:
    from inference.build.embeddings import build_embeddings  # heavy (torch): only when a build is needed

    result = build_embeddings(
        recipe["model"], out_dir, runtime=recipe["runtime"], revision=recipe.get("revision"), container=container.key
    )
    return Path(result.path)


def _build_sklearn(recipe: Mapping[str, Any], out_dir: Path, container: Container) -> Path:
    """Run the recipe's trainer (`module:function(out_path, container=key) -> estimator path`), then package it.

    The trainer pickles in a venv matching the image (inference.examples.call_time.train.train_estimator does),
    because build_sklearn refuses a pickle from another scikit-learn version.
    """
    from inference.build.sklearn import build_sklearn

    module, func = recipe["trainer"].split(":")
    trainer = getattr(importlib.import_module(module), func)
    estimator = trainer(out_dir / "estimator.joblib", container=container.key)
    return Path(build_sklearn(estimator, out_dir, container=container.key).path)


BUILDERS: dict[str, Builder] = {"embeddings": _build_embeddings, "sklearn": _build_sklearn}


def cache_path(request: ArtifactRequest, digest: str | None = None, build_dir: Path | None = None) -> Path:
    """Where a recipe's artifact lives: one directory per (recipe, container, inference sources, build env)."""
    assert request.recipe is not None
    key = artifact_key({"recipe": dict(request.recipe), "container": request.container.as_dict()}, sources=digest)
    return (build_dir or BUILD_DIR) / f"{request.endpoint}-{request.recipe['kind']}-{key}" / ARTIFACT_NAME


def describe(path: Path, key: str) -> ResolvedArtifact:
    """Read a built artifact's manifest into what the stack needs (sha256, framework, image, memory)."""
    try:
        manifest = read_manifest(path)
    except ArtifactError as e:
        raise ConfigError(f"{key}: {e}; allowed: a model.tar.gz built by inference/, or a build: recipe") from e
    container = manifest.get("container") or {}
    framework = manifest.get("framework")
    if framework not in ("huggingface", "sklearn") or not isinstance(container, Mapping):
        raise ConfigError(
            f"{key}: {path} has manifest framework {framework!r} and container {container!r}; allowed: an artifact "
            "built by inference/ (framework huggingface or sklearn)"
        )
    peak = (manifest.get("resources") or {}).get("peak_rss_mb")
    handler = manifest.get("handler") or {}
    program = handler.get("program") or handler.get("entry_point") or handler.get("entry") or DEFAULT_PROGRAM
    example = handler.get("example_request")
    if example is None and (manifest.get("model") or {}).get("serving_spec"):
        example = _example_from_spec(Path(path), manifest["model"]["serving_spec"])
    if example is not None and not isinstance(example, str):
        example = json.dumps(example)
    return ResolvedArtifact(
        path=Path(path).resolve(),
        sha256=sha256_file(Path(path)),
        framework=framework,
        container=dict(container),
        runtime=manifest.get("runtime"),
        peak_rss_mb=float(peak) if isinstance(peak, int | float) else None,
        program=Path(program).name,
        example_request=example,
        content_type=handler.get("content_type") or "application/json",
        environment=dict(handler.get("environment") or {}),
    )


def _example_from_spec(tar_path: Path, member: str) -> dict[str, Any] | None:
    """One valid instance from a scikit-learn serving spec (first allowed value, or default/min), for the
    stack's ready-to-run invoke example; the swept and request-level features are left to their defaults."""
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            f = tar.extractfile(member)
            spec = json.loads(f.read()) if f else None
    except (KeyError, tarfile.TarError, OSError, ValueError):
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("features"), list):
        return None
    skip = set(spec.get("request_level") or []) | {(spec.get("sweep") or {}).get("feature")}
    instance = {}
    for feat in spec["features"]:
        if feat.get("name") in skip:
            continue
        if feat.get("type") == "category":
            instance[feat["name"]] = feat["allowed"][0]
        else:
            instance[feat["name"]] = feat.get("default", feat.get("min", 0))
    return {"instances": [instance]}


def resolve_artifact(
    request: ArtifactRequest, *, builders: Mapping[str, Builder] | None = None, build_dir: Path | None = None
) -> ResolvedArtifact:
    """The artifact an endpoint asks for: read the named file, or build the recipe once and cache it."""
    if request.path is not None:
        if not request.path.is_file():
            raise ConfigError(
                f"{request.key}: artifact {request.path} does not exist; allowed: an existing model.tar.gz (build "
                "it with `python -m inference build ...`), or replace path with a build: recipe"
            )
        return describe(request.path, request.key)
    assert request.recipe is not None
    target = cache_path(request, build_dir=build_dir or BUILD_DIR)
    builder = (builders or BUILDERS)[request.recipe["kind"]]
    try:
        cached_artifact(target.parent, lambda work: builder(request.recipe, work, request.container))
    except Exception as e:  # a failed build (quality gate, version skew, no file, ...) is reported on the config key
        raise ConfigError(
            f"{request.key}: building the {request.recipe['kind']} artifact for {request.container.image} failed: {e}"
        ) from e
    return describe(target, request.key)
