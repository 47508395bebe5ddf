"""releasing/prepare.py (config and artifacts, each failure with its exit code and the stack named) and
releasing/smoke.py (run_checks with the artifact or else the manifest, its report indented, its failures named)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from artifacts import PendingArtifact, PromotedArtifact, ResolvedArtifact
from inference.build.cache import BuildUnavailable
from inference.tools.check import CheckReport, CheckResult, Target
from releasing import prepare, smoke
from releasing.failures import EXIT_CANNOT_BUILD, EXIT_USAGE, ReleaseFailure
from settings import ConfigError


def test_an_invalid_stack_file_is_a_usage_error_naming_the_stack(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: sls-endpoints\nruntime: python\n")
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  aws:region: us-east-1\n  sls-endpoints:endpoints: 3\n")
    with pytest.raises(ReleaseFailure) as f:
        prepare.load(tmp_path, "bad")
    assert f.value.code == EXIT_USAGE and f.value.message.startswith("invalid config for stack 'bad': ")


def test_load_reads_the_stack_file_and_its_region(work_dir):
    settings = prepare.load(work_dir, "dev")
    assert (settings.stack, settings.region, settings.project) == ("dev", "us-east-1", "sls-endpoints")


SETTINGS = SimpleNamespace(stack="dev")


@pytest.mark.parametrize("build", [True, False])
def test_artifacts_resolves_with_the_build_flag_and_the_log(monkeypatch, build):
    seen = []
    monkeypatch.setattr(prepare, "resolve_artifacts", lambda s, log, build: seen.append((s, log, build)) or {"a": 1})
    assert prepare.artifacts(SETTINGS, build=build, log=print) == {"a": 1}
    assert seen == [(SETTINGS, print, build)]


@pytest.mark.parametrize(("error", "code", "said"), [
    (ConfigError("artifact.path: no such file"), EXIT_USAGE,
     "invalid config for stack 'dev': artifact.path: no such file"),
    (BuildUnavailable("embeddings", "no Python 3.12"), EXIT_CANNOT_BUILD,
     "stack 'dev': cannot build embeddings on this machine: no Python 3.12. Two ways forward"),
])
def test_an_artifact_that_cannot_be_had_stops_with_its_own_code(monkeypatch, error, code, said):
    def resolve(*a, **kw):
        raise error

    monkeypatch.setattr(prepare, "resolve_artifacts", resolve)
    with pytest.raises(ReleaseFailure) as f:
        prepare.artifacts(SETTINGS, build=True, log=print)
    assert f.value.code == code and f.value.message.startswith(said)


def test_each_kind_of_artifact_is_described():
    resolved = ResolvedArtifact(Path("/cache/x.tar.gz"), "0123456789abcdef" * 4, None)
    assert prepare.describe_artifact(resolved) == "sha256 0123456789ab... at /cache/x.tar.gz"
    assert prepare.describe_artifact(PromotedArtifact("scorer", "dev", "scorer-dev")) == (
        "promoted from stack dev (read and copied by pulumi up)")
    assert prepare.describe_artifact(PendingArtifact("scorer", {"kind": "sklearn"}, None)) == (
        "not built yet (pulumi up builds it)")


def report(*results: CheckResult, cold=None, warm=None) -> CheckReport:
    return CheckReport(Target("e"), kind="sklearn", results=list(results), cold_ms=cold, warm_ms=warm)


@pytest.fixture
def checks(monkeypatch):
    calls = []
    answer = [report(CheckResult("status", True, "InService"), cold=80.5, warm=4.25)]

    def run_checks(target, **kw):
        calls.append((target, kw))
        return answer[0]

    monkeypatch.setattr(smoke, "run_checks", run_checks)
    return calls, answer


def test_the_smoke_test_checks_the_endpoint_with_the_manifest_and_indents_the_report(checks):
    calls, _ = checks
    lines: list[str] = []
    manifest = {"framework": "sklearn"}
    r = smoke.smoke_test(Target("e", region="us-east-1"), manifest=manifest, warm=3, sagemaker_client="sm",
                         session="session", out=lines.append)
    assert calls == [(Target("e", region="us-east-1"), {"artifact": None, "manifest": manifest, "warm_requests": 3,
                                                        "sagemaker_client": "sm", "session": "session"})]
    assert r.endpoint == "e" and r.ok is True and (r.cold_ms, r.warm_ms) == (80.5, 4.25)
    assert lines and all(line.startswith("  ") for line in lines)
    assert lines[0] == "  endpoint e (region (default)): kind sklearn"


def test_an_artifact_takes_precedence_over_the_manifest(checks):
    calls, _ = checks
    smoke.smoke_test(Target("e"), manifest={"framework": "sklearn"}, artifact=Path("/a.tar.gz"), out=print)
    assert calls[0][1] == {"artifact": Path("/a.tar.gz"), "manifest": None, "warm_requests": 5,
                           "sagemaker_client": None, "session": None}


def test_a_failed_smoke_test_names_each_failed_check(checks):
    _, answer = checks
    answer[0] = report(CheckResult("status", True, "InService"), CheckResult("unit norm", False, "norm 2.0"),
                       CheckResult("batch", False, "3 texts, 2 vectors"))
    r = smoke.smoke_test(Target("e"), out=print)
    assert r.ok is False and r.failures() == "unit norm: norm 2.0; batch: 3 texts, 2 vectors"
