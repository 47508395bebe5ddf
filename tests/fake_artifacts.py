"""Small real artifacts for stack tests: a real tarball with a real manifest, built in milliseconds.

Why: the stack only reads an artifact's manifest and sha256; building the 20 MB embedding model for every
test would add minutes and test nothing more. These go through inference.build.artifact.write_manifest + pack,
the same code every real build uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inference.build.artifact import pack, write_manifest
from inference.build.containers import Container
from inference.manifest import ContainerRef, HandlerInfo, Manifest, ModelInfo
from inference.report import BuildReport, Resources, write_report

RUNTIME = {"huggingface": "onnx-int8", "sklearn": "sklearn"}


def make_artifact(
    out: Path,
    container: Container,
    *,
    peak_rss_mb: float | None = 300.0,
    framework: str | None = None,
    payload: bytes = b"weights",
    tag: str | None = None,
) -> Path:
    """Write a model.tar.gz at `out` built 'for' container (framework/tag overridable to make bad artifacts)."""
    root = out.parent / (out.name + ".src")
    (root / "code").mkdir(parents=True, exist_ok=True)
    (root / "code" / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    (root / "model.bin").write_bytes(payload)
    container_info = {**container.as_dict(), **({"tag": tag} if tag else {})}
    manifest = Manifest(
        framework=framework or container.framework,
        container=ContainerRef(**container_info),
        runtime=RUNTIME[container.framework],
        handler=HandlerInfo(program="inference.py"),
        model=ModelInfo(file="model.bin"),
    )
    write_manifest(root, manifest)
    sha = pack(root, out)
    if peak_rss_mb is not None:  # what a real build measures goes into the report beside the tarball
        write_report(out, BuildReport(
            artifact_sha256=sha, size_bytes=out.stat().st_size, framework=manifest.framework,
            runtime=manifest.runtime, container=container_info, determined_by={"fake": True},
            resources=Resources(peak_rss_mb=peak_rss_mb, cold_load_s=1.0)))
    return out


class FakeBuilders(dict):
    """Stand-ins for the real builders: same signature, records what was built."""

    def __init__(self, peak_rss_mb: float | None = 300.0):
        super().__init__(embeddings=self._build, sklearn=self._build)
        self.peak_rss_mb = peak_rss_mb
        self.built: list[Mapping[str, Any]] = []

    def _build(self, recipe: Mapping[str, Any], out_dir: Path, container: Container) -> Path:
        self.built.append(dict(recipe))
        out_dir.mkdir(parents=True, exist_ok=True)
        payload = repr(sorted(recipe.items())).encode()  # different recipes give different bytes
        return make_artifact(out_dir / "model.tar.gz", container, peak_rss_mb=self.peak_rss_mb, payload=payload)


def use_fake_builds(monkeypatch: Any, build_dir: Path, builders: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """Make the artifact cache build with `builders` into `build_dir` (the one place tests patch it)."""
    from inference.build import cache

    builders = builders if builders is not None else FakeBuilders()
    monkeypatch.setattr(cache, "BUILDERS", builders)
    monkeypatch.setattr(cache, "BUILD_DIR", build_dir)
    return builders
