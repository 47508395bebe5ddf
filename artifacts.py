"""Step two of a deployment, after the config is valid: find each endpoint's model.tar.gz and check that it fits the
endpoint (built for its image, small enough for its memory tier).

Sources (settings.ArtifactSource): `build` (built once through the one artifact cache; an unchanged recipe reuses
the same bytes, so the S3 object and the SageMaker Model stay put), `path` (a file), `uri` + `sha256` (an S3
object built elsewhere: downloaded, verified against the sha256, then uploaded to the stack's own bucket as any
local file), and `promote_from` (another stack's deployed artifact: nothing happens here; the program reads it
through a StackReference and copies it, see promotion.py).

A preview builds nothing: `resolve_artifacts(..., build=False)` returns a PendingArtifact for a recipe that is
not built yet, which the program shows as "known after up". A problem with the config is a ConfigError naming
its key; a machine that cannot build is inference.build.cache.BuildUnavailable (the config may be fine).
Light on purpose: no torch, onnxruntime or sentence-transformers is imported unless a build runs.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.build import cache
from inference.build.artifact import sha256_file
from inference.build.containers import Container
from inference.build.sizing import SERVING_OVERHEAD_MB, smallest_tier
from inference.manifest import ArtifactError, Manifest, read_manifest
from inference.report import BuildReport, read_report
from settings import ArtifactSource, ConfigError, EndpointSettings, Settings
from settings.rules import BUILD_KINDS, FRAMEWORK_REPOSITORY

Log = Callable[[str], None]
FETCHED_DIR = "fetched"  # below the cache's BUILD_DIR: objects named by `uri`, one folder per sha256


@dataclass(frozen=True)
class ResolvedArtifact:
    """A model.tar.gz on disk, its sha256 (its S3 key), its manifest and its build report (when it has one)."""

    path: Path
    sha256: str
    manifest: Manifest
    report: BuildReport | None = None

    @property
    def peak_rss_mb(self) -> float | None:
        return self.report.resources.peak_rss_mb if self.report is not None else None

    @property
    def example_request(self) -> str | None:
        """A request body the handler accepts, as JSON text (the stack's ready-to-run invoke example)."""
        example = self.manifest.handler.example_request
        return None if example is None else json.dumps(example)


@dataclass(frozen=True)
class PendingArtifact:
    """A recipe not built yet, during a preview: its bytes (so its sha256 and manifest) are known after `up`."""

    key: str
    recipe: Mapping[str, Any]
    container: Container

    @property
    def framework(self) -> str:
        return BUILD_KINDS[self.recipe["kind"]]


@dataclass(frozen=True)
class PromotedArtifact:
    """Another stack's deployed artifact: read, verified and copied by the program (promotion.py), never built."""

    key: str
    stack: str
    endpoint: str  # the endpoint of that stack whose artifact this is (same name)


Artifact = ResolvedArtifact | PendingArtifact | PromotedArtifact


def resolve_artifacts(settings: Settings, log: Log | None = None, *, build: bool = True) -> dict[str, Artifact]:
    """{endpoint name: its artifact}, each found (or built, when `build`) and checked against its endpoint."""
    out: dict[str, Artifact] = {}
    for endpoint in settings.endpoints:
        source = endpoint.artifact
        if source.promote_from is not None:
            out[endpoint.name] = PromotedArtifact(source.key, source.promote_from, endpoint.name)
            continue
        artifact = resolve_artifact(source, endpoint.image.container, log, build=build, region=settings.region)
        if isinstance(artifact, ResolvedArtifact):
            check_fits(endpoint, artifact.manifest, artifact.peak_rss_mb, str(artifact.path))
        out[endpoint.name] = artifact
    return out


def resolve_artifact(source: ArtifactSource, container: Container, log: Log | None = None, *, build: bool = True,
                     region: str | None = None) -> ResolvedArtifact | PendingArtifact:
    """The artifact a source names: the file, the verified download of the uri, or the recipe's build for
    `container` (built once, cached; without `build`, a PendingArtifact unless already built)."""
    if source.path is not None:
        if not source.path.is_file():
            raise ConfigError(
                f"{source.key}: artifact {source.path} does not exist; allowed: an existing model.tar.gz (build "
                "it with `python -m inference build ...`), or replace path with a build: recipe"
            )
        return describe(source.path, source.key)
    if source.uri is not None:
        assert source.sha256 is not None
        return describe(fetch(source.uri, source.sha256, source.key, log, region=region), source.key)
    assert source.recipe is not None
    if not build:
        cached = cache.cached_recipe_artifact(source.recipe, container)
        if cached is None:
            if log:
                log(f"{source.key}: the {source.recipe['kind']} artifact for {container.image} is not built yet; "
                    "`pulumi up` builds it (or build it first: `python release.py STACK --build-only`)")
            return PendingArtifact(source.key, dict(source.recipe), container)
        return describe(cached, source.key)
    try:
        path = cache.recipe_artifact(source.recipe, container, log=log)
    except cache.BuildUnavailable:
        raise  # the machine, not the config: its own error (release.py exits with its own code)
    except Exception as e:  # a failed build (quality gate, version skew, ...) is reported on the config key
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
    sha = sha256_file(Path(path))
    return ResolvedArtifact(path=Path(path).resolve(), sha256=sha, manifest=manifest, report=read_report(path, sha))


def fetch(uri: str, sha256: str, key: str, log: Log | None = None, *, region: str | None = None,
          build_dir: Path | None = None) -> Path:
    """The object at s3://bucket/key downloaded into the cache and verified against `sha256` (reused once there).

    The stack then uploads these verified bytes to its own bucket, so what deploys is what was checked.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    target = Path(build_dir or cache.BUILD_DIR) / FETCHED_DIR / sha256 / cache.ARTIFACT_NAME
    if target.is_file() and sha256_file(target) == sha256:
        return target
    bucket, _, object_key = uri.removeprefix("s3://").partition("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if log:
        log(f"{key}: downloading {uri} to verify its sha256 ...")
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(fd)
    try:
        try:
            boto3.client("s3", region_name=region).download_file(bucket, object_key, tmp)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "?")
            raise ConfigError(f"{key}: cannot read {uri} ({code}: {e}); allowed: an S3 object these credentials "
                              "can read (s3:GetObject on it, kms:Decrypt on its key)") from e
        except BotoCoreError as e:
            raise ConfigError(
                f"{key}: cannot read {uri} ({e}); allowed: an S3 object these credentials can read"
            ) from e
        got = sha256_file(Path(tmp))
        if got != sha256:
            raise ConfigError(f"{key}: {uri} has sha256 {got}, but the config says {sha256}; allowed: the sha256 of "
                              "the object's bytes (the object changed, or the config names another build)")
        Path(tmp).replace(target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def check_fits(endpoint: EndpointSettings, m: Manifest, peak: float | None, where: str) -> None:
    """The artifact must be built for the endpoint's image (framework, repository and tag) and fit its tier.

    `peak` is the build report's measured peak RSS (None: not measured, the tier is not checked).
    """
    image = endpoint.image
    key = endpoint.artifact.key
    built_for = m.container.image
    if m.framework != endpoint.framework or m.container.repository != image.repository:
        raise ConfigError(
            f"{key}: {where} is a {m.framework!r} artifact built for {built_for}, but the "
            f"endpoint's image is {image.repository}:{image.tag}; allowed: an artifact built for "
            f"{FRAMEWORK_REPOSITORY[endpoint.framework]}, or image repository {FRAMEWORK_REPOSITORY[m.framework]}"
        )
    if m.container.tag != image.tag:
        raise ConfigError(
            f"{key}: {where} was built for {built_for} (its Python and packages), but the endpoint's "
            f"image tag is {image.tag!r}; allowed: image tag {m.container.tag!r}, or rebuild the artifact for this tag"
        )
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
