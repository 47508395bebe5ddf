"""release.py: arguments, exit codes, and what happens before Pulumi (validation, builds).

The stages after that (preview, up, verify, smoke test, rollback, --local) are tested in tests/releasing/ against a
fake Automation API and a fake SageMaker over HTTP. One test here runs the real CLI and is skipped without it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_artifacts import FakeBuilders, make_artifact, use_fake_builds
from pulumi import automation as auto
from pulumi_mocks import ROOT

import release
from inference.build.containers import HF_PY312, SKLEARN_1_4


@pytest.fixture
def fake_auto(monkeypatch):
    """Records whether anything reached the Automation API (the full flow is tested in tests/releasing/)."""
    state: dict[str, Any] = {"select": []}

    def select_stack(stack_name: str, work_dir: str | None = None, **kw: Any):
        state["select"].append({"stack_name": stack_name, "work_dir": work_dir, **kw})
        raise AssertionError("these tests never reach Pulumi")

    monkeypatch.setattr(auto, "select_stack", select_stack)
    return state


@pytest.fixture
def work_dir(tmp_path) -> Path:
    """A project directory whose stacks name small real artifacts."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    arts = {
        "embeddings": make_artifact(tmp_path / "e.tar.gz", HF_PY312),
        "call-time": make_artifact(tmp_path / "c.tar.gz", SKLEARN_1_4),
    }
    cfg = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    for ep in cfg["config"]["sls-endpoints:endpoints"]:
        ep["artifact"] = {"path": str(arts[ep["name"]])}
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(cfg))
    cfg["config"]["sls-endpoints:endpoints"][0]["serverless"]["memory_mb"] = 1000
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path


def run(argv: list[str]) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = release.main(argv, confirm=lambda prompt: "n", out=lambda *a: lines.append(" ".join(map(str, a))))
    return code, lines


def test_arguments_and_defaults():
    a = release.parse_args(["prod"])
    assert (a.stack, a.preview, a.yes, a.work_dir, a.refresh, a.message) == ("prod", False, False, release.ROOT,
                                                                              False, None)
    assert (a.local, a.destroy, a.allow_replace, a.wait_delay, a.wait_attempts, a.warm) == (False, False, False,
                                                                                           30.0, 60, 5)
    a = release.parse_args(["dev", "--preview", "-y", "--work-dir", "/x", "-m", "release 7", "--refresh"])
    assert (a.preview, a.yes, a.work_dir, a.message, a.refresh) == (True, True, Path("/x"), "release 7", True)


@pytest.mark.parametrize("argv", [[], ["dev", "--force"], ["dev", "--preview", "--local"],
                                  ["dev", "--destroy", "--build-only"], ["dev", "--wait-attempts", "0"]])
def test_bad_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as e:
        release.parse_args(argv)
    assert e.value.code == 2


def test_invalid_config_exits_2_before_touching_pulumi(work_dir, fake_auto):
    code, lines = run(["bad", "--yes", "--work-dir", str(work_dir)])
    assert code == release.EXIT_USAGE == 2
    assert "sls-endpoints:endpoints[0].serverless.memory_mb" in lines[-1] and "1000" in lines[-1]
    assert fake_auto["select"] == []


def test_unknown_stack_exits_2_listing_the_stacks(work_dir, fake_auto):
    code, lines = run(["staging", "--yes", "--work-dir", str(work_dir)])
    assert code == 2 and "Pulumi.staging.yaml does not exist" in lines[-1] and "bad, dev" in lines[-1]
    assert fake_auto["select"] == []


def test_build_only_builds_every_artifact_of_the_stack_and_touches_no_pulumi(fake_auto, monkeypatch, tmp_path):
    builders = use_fake_builds(monkeypatch, tmp_path, FakeBuilders())
    code, lines = run(["dev", "--build-only"])
    assert code == 0 and [r["kind"] for r in builders.built] == ["embeddings", "sklearn"]
    assert fake_auto["select"] == []
    built = [line for line in lines if line.startswith("  embeddings: sha256 ")]
    assert built and str(tmp_path) in built[0]  # where `pulumi up` will find it
    again, _ = run(["dev", "--build-only"])
    assert again == 0 and len(builders.built) == 2  # cached: `pulumi up` reuses the same bytes


def test_a_promoting_stack_never_builds(fake_auto, monkeypatch, tmp_path):
    builders = use_fake_builds(monkeypatch, tmp_path, FakeBuilders())
    code, lines = run(["prod", "--build-only"])
    assert code == 0 and builders.built == []
    assert "  embeddings: promoted from stack dev (read and copied by pulumi up)" in lines


@pytest.mark.parametrize(
    ("patch", "missing"),
    [
        (("platform.machine", lambda: "arm64"), "this is Linux/arm64"),
        (("inference.build.venvs.find_python", None), "no Python 3.12 found"),
    ],
    ids=["not x86_64", "no image python"],
)
def test_a_machine_that_cannot_build_is_its_own_error_not_a_config_error(fake_auto, monkeypatch, tmp_path, patch,
                                                                            missing):
    from inference.build.venvs import VenvUnavailable

    def no_python(version):
        raise VenvUnavailable(f"no Python {version} found (looked in ~/.pyenv/versions and on PATH)")

    target, value = patch
    monkeypatch.setattr(target, value or no_python)
    builders = use_fake_builds(monkeypatch, tmp_path, FakeBuilders())
    code, lines = run(["dev", "--build-only"])
    assert code == release.EXIT_CANNOT_BUILD == 4 and builders.built == []
    assert missing in lines[-1] and "invalid config" not in lines[-1]
    assert "build on a Linux x86_64 machine" in lines[-1] and "prebuilt artifact" in lines[-1]


def test_real_cli_preview_of_dev(tmp_path, monkeypatch):
    """With the Pulumi CLI and AWS credentials present: a real preview of dev against a local file backend."""
    if shutil.which("pulumi") is None:
        pytest.skip("the Pulumi CLI is not installed here (see README.md, Deploying for real)")
    import boto3

    if boto3.Session().get_credentials() is None:
        pytest.skip("no AWS credentials: a preview resolves the caller identity and images")
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "")
    auto.create_or_select_stack(stack_name="dev", work_dir=str(release.ROOT))
    code, lines = run(["dev", "--preview"])
    assert code == 0, "\n".join(lines[-20:])
    assert any("aws:sagemaker:Endpoint" in line or "sagemaker" in line for line in lines), json.dumps(lines[-20:])


def test_every_exit_code_is_documented_in_the_module_docstring_and_readme():
    from releasing.failures import EXIT_CODES

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Releasing"):]
    for code in EXIT_CODES:
        assert f" {code} " in release.__doc__, code
        assert f"| {code} |" in section, code


def test_the_help_says_what_each_option_does_and_lists_the_exit_codes(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping
    with pytest.raises(SystemExit) as e:
        release.parse_args(["--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python release.py [-h] [--preview | --build-only | --local | --destroy] [--yes] "
                           "[--allow-replace] [--work-dir WORK_DIR] [--message MESSAGE] [--refresh] [--wait-delay S] "
                           "[--wait-attempts N] [--warm N] stack")
    for said in [
        "Release a stack: validate, build, preview, deploy, verify the live endpoints, smoke-test them, roll back on "
        "failure. positional arguments:",
        "stack stack to release: the name in Pulumi.<stack>.yaml (dev, prod, ...)",
        "--preview show what would change; build and deploy nothing",
        "--build-only build every artifact the stack needs and say where `pulumi up` will find them",
        "--local build, serve each artifact with the local endpoint and smoke-test it; no Pulumi, no AWS",
        "--destroy destroy the stack (asks; says what protection stops)",
        "--yes, -y do it without asking (required when not a TTY)",
        "--allow-replace deploy even when the plan replaces or deletes an endpoint",
        "--work-dir WORK_DIR directory with Pulumi.yaml (default: this repo)",
        "--message MESSAGE, -m MESSAGE message recorded with the update",
        "--refresh refresh state from AWS before the update",
        "--wait-delay S seconds between DescribeEndpoint polls while waiting for InService (default 30)",
        "--wait-attempts N polls before an endpoint counts as timed out (default 60: 30 minutes at 30 s)",
        "--warm N warm requests timed by the smoke test",
        "exit codes: 0 done; 1 pulumi preview/up/refresh/destroy failed; 2 bad arguments or config, or confirmation "
        "refused (nothing touched); 3 Pulumi CLI",
        "13 an endpoint failed its smoke test (rolled back); 14 the rollback failed: an endpoint is not back on its "
        "previous config",
    ]:
        assert said in text, said


@pytest.mark.parametrize("argv", [["dev", "--wait-delay", "-0.5"], ["dev", "--warm", "-1"],
                                  ["dev", "--wait-attempts", "-3"]])
def test_negative_waits_and_warm_requests_are_refused_saying_the_limits(argv, capsys):
    with pytest.raises(SystemExit) as e:
        release.parse_args(argv)
    assert e.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.endswith(" error: --wait-delay must be >= 0, --wait-attempts >= 1 and --warm >= 0")


def test_the_smallest_allowed_waits_and_the_other_flags_parse():
    a = release.parse_args(["dev", "--wait-delay", "0", "--wait-attempts", "1", "--warm", "0", "--allow-replace",
                            "--yes", "--message", "m"])
    assert (a.wait_delay, a.wait_attempts, a.warm, a.allow_replace, a.yes, a.message) == (0.0, 1, 0, True, True, "m")
    assert isinstance(a.wait_delay, float) and isinstance(a.wait_attempts, int)
    for flag in ("--local", "--destroy", "--build-only"):
        a = release.parse_args(["dev", flag])
        assert [a.local, a.destroy, a.build_only] == [flag == "--local", flag == "--destroy", flag == "--build-only"]


def test_main_sends_local_to_the_local_release_and_the_rest_to_the_flow(monkeypatch):
    import releasing.flow
    import releasing.local

    calls = []
    monkeypatch.setattr(releasing.local, "release_local", lambda args, out: calls.append(("local", args, out)) or 13)
    monkeypatch.setattr(releasing.flow, "release", lambda args, out, confirm: calls.append(("flow", args, out,
                                                                                           confirm)) or 9)

    def out(*a):
        pass

    def confirm(prompt):
        return "n"

    assert release.main(["dev", "--local", "--warm", "2"], confirm=confirm, out=out) == 13
    assert calls[-1][0] == "local" and calls[-1][1].warm == 2 and calls[-1][2] is out
    assert release.main(["prod", "--preview"], confirm=confirm, out=out) == 9
    assert calls[-1][0] == "flow" and calls[-1][1].stack == "prod" and calls[-1][2:] == (out, confirm)


def test_main_asks_with_input_and_prints_by_default(monkeypatch):
    import releasing.flow

    seen = []
    monkeypatch.setattr(releasing.flow, "release", lambda args, out, confirm: seen.append((out, confirm)) or 0)
    assert release.main(["dev"]) == 0 and seen == [(print, input)]
