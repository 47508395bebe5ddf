"""Cached virtualenvs that match a SageMaker container's Python and package versions.

Why: an artifact must work in the image that serves it (Python 3.9/3.10 for the scikit-learn images,
3.12 for the HuggingFace DLC), so training, vendoring checks and the container-toolkit tests run in a
venv of that Python, built once from pyenv's interpreters and cached under .cache/venvs/ (gitignored),
keyed by the Python version and the exact requirement list.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("SLS_VENV_CACHE", ROOT / ".cache" / "venvs"))


class VenvUnavailable(RuntimeError):
    """No interpreter of the wanted Python version is installed here."""


def find_python(version: str) -> Path:
    """A python executable of `major.minor` version: pyenv's, or one on PATH."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(pyenv_root.glob(f"{version}.*/bin/python"), reverse=True) if pyenv_root.is_dir() else []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    for c in candidates:
        if c.exists():
            return c
    raise VenvUnavailable(f"no Python {version} found (looked in {pyenv_root} and on PATH for python{version})")


def ensure_venv(name: str, python: str, requirements: list[str], *, log=None) -> Path:
    """Create (once) a venv of Python `python` with `requirements`; return its python executable."""
    key = hashlib.sha256(json.dumps([python, sorted(requirements)]).encode()).hexdigest()[:12]
    venv = CACHE / f"{name}-py{python}-{key}"
    exe = venv / "bin" / "python"
    marker = venv / ".complete"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions may ask for the same venv at once
        if marker.exists():
            return exe
        base = find_python(python)
        if venv.exists():
            shutil.rmtree(venv)
        say = log or (lambda msg: print(msg, file=sys.stderr))
        say(f"creating venv {venv.name} (Python {python}): {' '.join(requirements)}")
        subprocess.run([str(base), "-m", "venv", str(venv)], check=True)
        pip = [str(exe), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "--upgrade", "pip", "setuptools", "wheel"], check=True)
        if requirements:
            subprocess.run([*pip, *requirements], check=True)
        marker.write_text(json.dumps(requirements))
        return exe
