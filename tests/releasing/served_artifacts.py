"""Small artifacts that really serve: the client tests' fake embedder and scorer handlers packed with a real
manifest (as make_artifact packs a stub), so `release.py --local` can run its subprocess servers in seconds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from endpoint_fixtures import make_model_dir
from fake_pulumi import manifest
from pulumi_mocks import ROOT

from inference.build.artifact import pack, write_manifest
from inference.manifest import Manifest
from inference.report import BuildReport, Resources, write_report


def served_artifact(out: Path, kind: str, **config: Any) -> Path:
    """model.tar.gz at `out` whose code/inference.py is the fake handler of `kind` ("embedder" | "scorer")."""
    root = make_model_dir(out.parent / (out.name + ".src"), kind, **config)
    m = Manifest.from_dict({**manifest(kind), "model": {**manifest(kind)["model"], "file": "config.json"}})
    write_manifest(root, m)
    sha = pack(root, out)
    write_report(out, BuildReport(artifact_sha256=sha, size_bytes=out.stat().st_size, framework=m.framework,
                                  runtime=m.runtime, container=m.container.to_dict(), determined_by={"fake": True},
                                  resources=Resources(peak_rss_mb=100.0, cold_load_s=0.1)))
    return out


def local_project(work: Path, *, normalize: bool = True) -> Path:
    """A project directory whose dev stack serves the fake handlers (normalize=False: a broken embedder)."""
    work.mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", work / "Pulumi.yaml")
    arts = {"embeddings": served_artifact(work / "e.tar.gz", "embedder", normalize=normalize),
            "call-time": served_artifact(work / "c.tar.gz", "scorer")}
    cfg = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    for ep in cfg["config"]["sls-endpoints:endpoints"]:
        ep["artifact"] = {"path": str(arts[ep["name"]])}
    (work / "Pulumi.dev.yaml").write_text(yaml.safe_dump(cfg))
    return work
