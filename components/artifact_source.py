"""Find or build the model.tar.gz an endpoint's config names (no Pulumi import: runs during validation).

Why: `pulumi up` on a fresh clone must work, so an endpoint may name a build recipe instead of a file. A recipe
is built once with the inference/ package and cached under build/artifacts/, keyed by the recipe, the target
container and the inference/ sources: an unchanged recipe reuses the same bytes (same sha256, so the S3 object
and the SageMaker Model stay put), and a changed handler or recipe rebuilds. Builds are byte-reproducible
(inference/artifact.py), so even a rebuild of unchanged inputs gives the same sha256.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import shutil
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from inference.artifact import ArtifactError, read_manifest, sha256_file
from inference.containers import Container
from settings import ROOT, ArtifactRequest, ConfigError, ResolvedArtifact

BUILD_DIR = ROOT / "build" / "artifacts"
ARTIFACT_NAME = "model.tar.gz"
DEFAULT_PROGRAM = "inference.py"  # the handler every inference/ artifact carries in code/

# kind -> builder(recipe, out_dir, container) -> path of the built tarball
Builder = Callable[[Mapping[str, Any], Path, Container], Path]


def _build_embeddings(recipe: Mapping[str, Any], out_dir: Path, container: Container) -> Path:
    from inference.embeddings_build import build_embeddings  # heavy (torch): only when a build is needed

    result = build_embeddings(
        recipe["model"], out_dir, runtime=recipe["runtime"], revision=recipe.get("revision"), container=container.key
    )
    return Path(result.path)


def _build_sklearn(recipe: Mapping[str, Any], out_dir: Path, container: Container) -> Path:
    """Run the recipe's trainer (`module:function(out_path, container=key) -> estimator path`), then package it.

    The trainer pickles in a venv matching the image (inference.examples.call_time.train.train_estimator does),
    because build_sklearn refuses a pickle from another scikit-learn version.
    """
    from inference.sklearn_build import build_sklearn

    module, func = recipe["trainer"].split(":")
    trainer = getattr(importlib.import_module(module), func)
    estimator = trainer(out_dir / "estimator.joblib", container=container.key)
    return Path(build_sklearn(estimator, out_dir, container=container.key).path)


BUILDERS: dict[str, Builder] = {"embeddings": _build_embeddings, "sklearn": _build_sklearn}


# inference/ modules no build imports (the CLI and the serve/bench/cost/demo tools): editing them must not
# rebuild artifacts, since a rebuild re-measures memory and may change the manifest, hence the sha256 and Model.
NOT_BUILD_INPUTS = frozenset({"__main__.py", "bench.py", "cost.py", "demo.py", "serve.py"})


def sources_digest(root: Path = ROOT / "inference") -> str:
    """sha256 over the inference/ sources a build uses: a changed handler or builder invalidates cached builds."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        if "__pycache__" in p.parts or p.relative_to(root).as_posix() in NOT_BUILD_INPUTS:
            continue
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def cache_path(request: ArtifactRequest, digest: str | None = None, build_dir: Path | None = None) -> Path:
    """Where a recipe's artifact lives: one directory per (recipe, container, inference sources)."""
    assert request.recipe is not None
    inputs = {
        "recipe": dict(request.recipe),
        "container": request.container.as_dict(),
        "sources": digest or sources_digest(),
    }
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
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
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # `pulumi preview` and a test run may ask for the same build at once
        if not target.is_file():
            builder = (builders or BUILDERS)[request.recipe["kind"]]
            work = target.parent / "work"
            shutil.rmtree(work, ignore_errors=True)
            try:
                built = builder(request.recipe, work, request.container)
            except Exception as e:  # a failed build (quality gate, version skew, ...) is reported on the config key
                raise ConfigError(
                    f"{request.key}: building the {request.recipe['kind']} artifact for {request.container.image} "
                    f"failed: {e}"
                ) from e
            if not Path(built).is_file():
                raise ConfigError(f"{request.key}: the {request.recipe['kind']} build produced no file at {built}")
            Path(built).replace(target)
            shutil.rmtree(work, ignore_errors=True)
    return describe(target, request.key)
