"""Fixtures shared by the stack tests: a two-endpoint raw config over small real artifacts, and the real program
run per stack file under AWS-like mocks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fake_artifacts import make_artifact, use_fake_builds
from pulumi_mocks import ORGANIZATION, AwsMocks, ProgramRun, run_program, stack_config

from inference.build.containers import HF_PY311, HF_PY312, SKLEARN_1_2, SKLEARN_1_4


def pytest_collection_modifyitems(config, items) -> None:
    """Under mutmut, the fastest tests first: mutmut 3.8.1 hands pytest a mutant's tests as an unordered set, so
    with -x a mutant a unit test kills in a tenth of a second would often wait for a program run or a moto-backed
    release test first.
    The durations are those mutmut recorded (mutants/mutmut-stats.json); outside mutmut nothing changes."""
    stats = Path("mutmut-stats.json")
    if not os.environ.get("MUTANT_UNDER_TEST") or not stats.is_file():
        return
    durations = json.loads(stats.read_text()).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))


@pytest.fixture(scope="session")
def stack_runs(tmp_path_factory) -> dict[str, ProgramRun]:
    """dev and prod, each run once from its Pulumi.<stack>.yaml with fake artifact builds in a temporary dir; prod
    promotes from dev, so it runs second and reads dev's outputs (and S3 objects) as a StackReference would."""
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        use_fake_builds(mp, tmp_path_factory.mktemp("build"))
        for stack in ("dev", "prod"):
            mocks = AwsMocks(stacks={f"{ORGANIZATION}/sls-endpoints/{s}": r.outputs for s, r in out.items()},
                             objects=out["dev"].mocks.objects if out else None)
            run = run_program(stack_config(stack), stack, mocks=mocks)
            assert run.error is None, f"{stack}: {run.error!r}"
            out[stack] = run
    return out


@pytest.fixture
def arts(tmp_path) -> dict[str, Path]:
    """Small real artifacts: for the dev images, for older images, and one too big for 1024 MB."""
    return {
        "hf": make_artifact(tmp_path / "hf.tar.gz", HF_PY312, peak_rss_mb=300),
        "hf311": make_artifact(tmp_path / "hf311.tar.gz", HF_PY311, peak_rss_mb=300),
        "sk": make_artifact(tmp_path / "sk.tar.gz", SKLEARN_1_4, peak_rss_mb=200),
        "sk12": make_artifact(tmp_path / "sk12.tar.gz", SKLEARN_1_2, peak_rss_mb=200),
        "big": make_artifact(tmp_path / "big.tar.gz", HF_PY312, peak_rss_mb=700),
    }


@pytest.fixture
def raw(arts) -> dict[str, Any]:
    """A valid raw config (the project's keys, no prefix): a serverless embeddings and a scikit-learn endpoint."""
    return {
        "endpoints": [
            {
                "name": "embeddings",
                "image": {"repository": HF_PY312.repository, "tag": HF_PY312.tag},
                "artifact": {"path": str(arts["hf"])},
                "serverless": {"memory_mb": 1024, "max_concurrency": 5},
            },
            {
                "name": "call-time",
                "image": {"repository": SKLEARN_1_4.repository, "tag": SKLEARN_1_4.tag},
                "artifact": {"path": str(arts["sk"])},
                "serverless": {"memory_mb": 1024, "max_concurrency": 2},
            },
        ]
    }
