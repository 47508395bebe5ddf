"""The SageMaker container images an artifact can target, and what each one carries.

One table serves both sides: the build (which Python/packages to vendor for, which sklearn version to
accept) and the Pulumi program (which ECR repository and tag to resolve with get_prebuilt_ecr_image).
Tags and versions come from the SageMaker Python SDK's image_uri_config and the DLC release notes
(see docs/aws-facts.md); the image's Python decides which wheels are vendored into code/.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Container:
    """A prebuilt SageMaker serving image, named as `get_prebuilt_ecr_image` wants it."""

    key: str  # short name used on the command line and in stack config
    framework: str  # "huggingface" | "sklearn"
    repository: str  # ECR repository name (account resolved per region by pulumi-aws)
    tag: str  # full, pinned tag (the provider's default tag "1" does not exist for these repos)
    python: str  # the image's Python "major.minor": vendored wheels must match it
    packages: dict[str, str] = field(default_factory=dict)  # versions the image ships that matter to us

    @property
    def image(self) -> str:
        return f"{self.repository}:{self.tag}"

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "repository": self.repository, "tag": self.tag, "python": self.python}


HF_PY312 = Container(
    key="hf-2.6-py312",
    framework="huggingface",
    repository="huggingface-pytorch-inference",
    tag="2.6.0-transformers4.51.3-cpu-py312-ubuntu22.04",
    python="3.12",
    packages={"torch": "2.6.0", "transformers": "4.51.3"},
)
HF_PY311 = Container(
    key="hf-2.3-py311",
    framework="huggingface",
    repository="huggingface-pytorch-inference",
    tag="2.3.0-transformers4.48.0-cpu-py311-ubuntu22.04",
    python="3.11",
    packages={"torch": "2.3.0", "transformers": "4.48.0"},
)
SKLEARN_1_2 = Container(
    key="sklearn-1.2-1",
    framework="sklearn",
    repository="sagemaker-scikit-learn",
    tag="1.2-1-cpu-py3",
    python="3.9",
    packages={"scikit-learn": "1.2.1"},
)
SKLEARN_1_4 = Container(
    key="sklearn-1.4-2",
    framework="sklearn",
    repository="sagemaker-scikit-learn",
    tag="1.4-2-cpu-py3",
    python="3.10",
    packages={"scikit-learn": "1.4.2"},
)

CONTAINERS: dict[str, Container] = {c.key: c for c in (HF_PY312, HF_PY311, SKLEARN_1_2, SKLEARN_1_4)}
DEFAULT_FOR_FRAMEWORK = {"huggingface": HF_PY312, "sklearn": SKLEARN_1_4}


def get_container(key: str) -> Container:
    """Look a container up by key, or by `repository:tag`, with an error that lists what is allowed."""
    for c in CONTAINERS.values():
        if key in (c.key, c.image, c.tag):
            return c
    allowed = ", ".join(f"{c.key} ({c.image})" for c in CONTAINERS.values())
    raise ValueError(f"unknown container {key!r}; allowed: {allowed}")
