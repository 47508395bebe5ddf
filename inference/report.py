"""The build report, NAME.report.json beside every NAME.tar.gz: what the build measured and what determined its bytes.

Why beside and not inside: an artifact's sha256 is its S3 key, so the tarball holds only what is pinned or
derived from the sources; figures that depend on the machine that built it (peak RSS, cold load, timings, the
quality gate's cosines on this CPU's kernels) would give each build machine its own sha256. They live here,
and sizing (the smallest memory tier) reads them from here. A report names the sha256 of the artifact it
describes; a report that does not match its artifact is ignored, never trusted.
Standard library only: the Pulumi program reads reports while deploying.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.manifest import ManifestError, _compact, _get, _str_map

REPORT_FORMAT = 1


@dataclass(frozen=True)
class Resources:
    """What the build measured for the handler in a fresh process of the image's Python (None: not measured)."""

    peak_rss_mb: float | None = None
    cold_load_s: float | None = None
    import_s: float | None = None
    model_fn_s: float | None = None
    max_batch_request_s: float | None = None
    measured_with: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _compact(self, keep=("peak_rss_mb", "cold_load_s"))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str = "resources") -> Resources:
        numbers = {k: _get(d, k, path, float, default=None)
                   for k in ("peak_rss_mb", "cold_load_s", "import_s", "model_fn_s", "max_batch_request_s")}
        return cls(**numbers, measured_with=_get(d, "measured_with", path, str, default=None))


@dataclass(frozen=True)
class Quality:
    """The embeddings build's quality gate: the built handler vs the sentence-transformers reference."""

    n: int
    mean_cosine: float
    min_cosine: float
    topk_overlap: float
    k: int
    thresholds: dict[str, float]
    passed: bool
    reference: str
    corpus: str
    computed_with: dict[str, str]
    by_class: dict[str, Any] | None = None  # per input class (e.g. by token count), when the gate reports it

    def to_dict(self) -> dict[str, Any]:
        return _compact(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str = "quality") -> Quality:
        return cls(n=_get(d, "n", path, int), mean_cosine=_get(d, "mean_cosine", path, float),
                   min_cosine=_get(d, "min_cosine", path, float), topk_overlap=_get(d, "topk_overlap", path, float),
                   k=_get(d, "k", path, int), thresholds=dict(_get(d, "thresholds", path, dict)),
                   passed=_get(d, "passed", path, bool), reference=_get(d, "reference", path, str),
                   corpus=_get(d, "corpus", path, str), computed_with=_str_map(d, "computed_with", path),
                   by_class=_get(d, "by_class", path, dict, default=None))


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform knows: int8 figures depend on it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_machine() -> dict[str, str]:
    """The machine a build ran on: the figures in a report hold for this kind of CPU."""
    return {"system": platform.system(), "machine": platform.machine(), "cpu": cpu_model(),
            "python": platform.python_version()}


@dataclass(frozen=True)
class BuildReport:
    """One build of one artifact: its identity, what determined its bytes, and what was measured."""

    artifact_sha256: str
    size_bytes: int
    framework: str
    runtime: str | None
    container: dict[str, str]
    determined_by: dict[str, Any]  # sources digest, package and tool versions, recipe: what fixes the bytes
    resources: Resources = field(default_factory=Resources)
    quality: Quality | None = None
    built_on: dict[str, str] = field(default_factory=dict)
    format: int = REPORT_FORMAT

    def to_dict(self) -> dict[str, Any]:
        d = {"format": self.format, "artifact_sha256": self.artifact_sha256, "size_bytes": self.size_bytes,
             "framework": self.framework, "runtime": self.runtime, "container": dict(self.container),
             "determined_by": dict(self.determined_by), "resources": self.resources.to_dict(),
             "built_on": dict(self.built_on)}
        if self.quality is not None:
            d["quality"] = self.quality.to_dict()
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BuildReport:
        if not isinstance(d, Mapping):
            raise ManifestError(f"a build report is a JSON object, got {type(d).__name__}")
        fmt = _get(d, "format", "", int)
        if fmt != REPORT_FORMAT:
            raise ManifestError(f"build report key 'format' is {fmt}, this code reads format {REPORT_FORMAT}")
        quality = _get(d, "quality", "", dict, default=None)
        return cls(
            artifact_sha256=_get(d, "artifact_sha256", "", str), size_bytes=_get(d, "size_bytes", "", int),
            framework=_get(d, "framework", "", str), runtime=_get(d, "runtime", "", str, default=None),
            container=_str_map(d, "container", "", required=True),
            determined_by=dict(_get(d, "determined_by", "", dict)),
            resources=Resources.from_dict(_get(d, "resources", "", dict, default={})),
            quality=Quality.from_dict(quality) if quality is not None else None,
            built_on=_str_map(d, "built_on", ""), format=fmt,
        )


def report_path(artifact: str | Path) -> Path:
    """Where the report of the artifact at `artifact` lives: model.tar.gz -> model.report.json, same folder."""
    artifact = Path(artifact)
    stem = artifact.name.removesuffix(".tar.gz") if artifact.name.endswith(".tar.gz") else artifact.stem
    return artifact.with_name(f"{stem}.report.json")


def write_report(artifact: str | Path, report: BuildReport) -> Path:
    path = report_path(artifact)
    path.write_text(report.to_json())
    return path


def read_report(artifact: str | Path, sha256: str) -> BuildReport | None:
    """The report beside `artifact` if it describes these bytes (sha256); None when absent, unreadable or another
    artifact's (a stale report beside a replaced file must not size the endpoint)."""
    path = report_path(artifact)
    try:
        report = BuildReport.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None
    return report if report.artifact_sha256 == sha256 else None


def update_report(artifact: str | Path, **determined_by: Any) -> None:
    """Add entries to the report's determined_by (the cache adds the recipe and its key after a build)."""
    path = report_path(artifact)
    if path.is_file():
        raw = json.loads(path.read_text())
        raw.setdefault("determined_by", {}).update(determined_by)
        path.write_text(json.dumps(raw, indent=1, sort_keys=True, default=str) + "\n")
