"""Venvs that reproduce what the SageMaker images run, shared by the container-toolkit tests.

Each venv is built once by inference.build.venvs.ensure_venv (cached under .cache/venvs, keyed by Python version and
requirement list) from the interpreter pyenv provides for the image's Python. When that interpreter is missing a
test skips with the reason on a developer machine, and fails on CI (CI=true), where these tests must run; a
failing pip install fails it everywhere.

Versions and where they come from:
- sklearn images (aws/sagemaker-scikit-learn-container): scikit-learn/numpy/scipy/joblib as in
  inference.build.sklearn.TRAIN_REQUIREMENTS. Serving stack: sagemaker-containers==2.8.6.post2 (single-model
  serving: gunicorn + its Flask Worker and Transformer; pinned in every requirements/dependency list of that
  repository from 0.23 on) and sagemaker-inference==1.5.5 (multi-model path: HandlerService + its Transformer;
  pinned in the dependency lists of the 0.24 images and of the newest py3.12 image, while a 1.0-era
  requirements.txt pins 1.2.0; the exact 1.4-2 file was not readable, so 1.5.5 is the nearest evidence and the
  Transformer API used here is the same in both), Flask==1.1.1 with the
  itsdangerous/jinja2/MarkupSafe/Werkzeug pins that keep Flask 1.1 importable, protobuf==3.20.1, and a
  setuptools that still has pkg_resources.
- HF image 2.6.0-transformers4.51.3-cpu-py312 (aws/deep-learning-containers,
  huggingface/pytorch/inference/docker/2.6/py3/Dockerfile.cpu): Python 3.12, multi-model-server==1.1.11
  (MMS_VERSION), sagemaker-inference unpinned there (the newest, 1.10.1, here), transformers==4.51.3 (the tag),
  sagemaker-huggingface-inference-toolkit==2.6.0 (the PyPI release of that period; the Dockerfile now installs a
  git commit for its transformers-5 rebuilds), numpy unpinned. torch 2.6.0 is NOT installed: a CPU torch for
  3.12 is a separate multi-GB index here, and the onnx artifacts must not need it (see
  tests/inference/handlers/test_container_hf.py for the one toolkit call that needs an answer without torch).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from inference.build.sklearn import TRAIN_REQUIREMENTS
from inference.build.venvs import VenvUnavailable, ensure_venv


def interpreter_missing(python: str, purpose: str, error: Exception):
    """No Python `python` here: skip on a developer machine, fail on CI (CI=true) saying how to install it."""
    message = f"no Python {python} interpreter for {purpose}: {error}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}. CI must run the container-toolkit tests: install it with `pyenv install {python}` "
                    f"(any {python}.x; pyenv's versions/ or python{python} on PATH is where inference.build.venvs "
                    "looks)", pytrace=False)
    pytest.skip(message)


SKLEARN_SERVING = [
    "sagemaker-containers==2.8.6.post2",
    "sagemaker-inference==1.5.5",
    "Flask==1.1.1",
    "itsdangerous==2.0.1",
    "jinja2==3.0.3",
    "MarkupSafe==2.1.1",
    "Werkzeug==0.15.6",
    "retrying==1.3.3",
    "protobuf==3.20.1",  # sagemaker_containers/record_pb2.py was generated for protobuf 3.x
    "setuptools<81",  # sagemaker_containers/_server.py imports pkg_resources, removed in setuptools 81
]


def sklearn_toolkit_python(container_key: str) -> Path:
    """Python of a venv with the image's scikit-learn stack plus its serving toolkits (skips if impossible)."""
    from inference.build.containers import get_container

    c = get_container(container_key)
    try:
        return ensure_venv(f"toolkit-{c.key}", c.python, TRAIN_REQUIREMENTS[c.key] + SKLEARN_SERVING)
    except VenvUnavailable as e:
        interpreter_missing(c.python, f"the {c.key} image's toolkit venv", e)


HF_SERVING = [
    "sagemaker-huggingface-inference-toolkit==2.6.0",
    "sagemaker-inference==1.10.1",
    "multi-model-server==1.1.11",
    "transformers==4.51.3",
    "numpy",
]


def hf_toolkit_python(container_key: str = "hf-2.6-py312") -> Path:
    """Python of a venv with the HF image's serving toolkit and transformers (no torch; skips if impossible)."""
    from inference.build.containers import get_container

    c = get_container(container_key)
    try:
        return ensure_venv(f"toolkit-{c.key}", c.python, HF_SERVING)
    except VenvUnavailable as e:
        interpreter_missing(c.python, f"the {c.key} image's toolkit venv", e)


_TRAINED: dict[str, Path] = {}


def call_time_estimator(container_key: str) -> Path:
    """The call-time example trained (small) in the venv matching `container_key`, once per test session."""
    from inference.examples.call_time.train import train_estimator

    if container_key not in _TRAINED:
        tmp = tempfile.mkdtemp(prefix=f"sls-call-time-{container_key}-")
        atexit.register(shutil.rmtree, tmp, True)
        out = Path(tmp) / "estimator.joblib"
        try:
            _TRAINED[container_key] = train_estimator(out, container_key, n_rows=4000, seed=1)
        except VenvUnavailable as e:
            from inference.build.containers import get_container

            interpreter_missing(get_container(container_key).python, f"training for {container_key}", e)
    return _TRAINED[container_key]
