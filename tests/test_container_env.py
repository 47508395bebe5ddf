"""tests/container_env.py: a missing image interpreter skips the container-toolkit tests locally, fails them on CI."""

from __future__ import annotations

from pathlib import Path

import container_env
import pytest

from inference.build import venvs


@pytest.fixture
def no_image_pythons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty venv cache and an interpreter lookup that finds nothing, as on a machine without pyenv's Pythons."""
    monkeypatch.setattr(venvs, "CACHE", tmp_path / "venvs")

    def find_python(version: str) -> Path:
        raise venvs.VenvUnavailable(f"no Python {version} found (looked in /nowhere and on PATH)")

    monkeypatch.setattr(venvs, "find_python", find_python)


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_a_missing_interpreter_skips_locally(no_image_pythons, monkeypatch: pytest.MonkeyPatch, ci) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no Python 3.10 interpreter"):
        container_env.sklearn_toolkit_python("sklearn-1.4-2")


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_a_missing_interpreter_fails_on_ci_with_how_to_install_it(no_image_pythons, monkeypatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=r"no Python 3\.10 interpreter.*`pyenv install 3\.10`"):
        container_env.sklearn_toolkit_python("sklearn-1.4-2")
    with pytest.raises(pytest.fail.Exception, match=r"no Python 3\.12 interpreter.*`pyenv install 3\.12`"):
        container_env.hf_toolkit_python("hf-2.6-py312")
