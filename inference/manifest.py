"""The manifest.json every artifact carries: one typed schema for the builds that write it and the readers.

Why: the Pulumi program, the local tools and the handlers all read the manifest; a typed schema with one key
per fact means no reader guesses between spellings, and a malformed or outdated manifest fails with the key
named. Only what is pinned or derived from the sources goes in (an artifact's sha256 is its S3 key); what a
build measured lives beside the tarball, in model.report.json (inference/report.py). The handlers (which
cannot import this module) read `files`, `runtime`, `container`, `model` and `handler.max_batch` /
`handler.max_payload_bytes` from the JSON; keep those keys stable.
Standard library only: the Pulumi side imports it during config validation.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 3  # 3: nothing machine-dependent inside (measurements are in model.report.json)
DEFAULT_PROGRAM = "inference.py"
DEFAULT_CONTENT_TYPE = "application/json"


class ArtifactError(ValueError):
    """The artifact is missing, malformed or was changed after it was built."""


class ManifestError(ArtifactError):
    """manifest.json lacks a key or has one of the wrong type; the message names the key."""


# ------------------------------------------------------------------------------------------------ parsing
_MISSING = object()


def _get(d: Mapping[str, Any], key: str, path: str, kinds: type | tuple[type, ...], *, default: Any = _MISSING):
    """d[key] checked against kinds; a missing key takes `default` (or is an error when there is none)."""
    name = f"{path}.{key}" if path else key
    if key not in d or (d[key] is None and default is not _MISSING):
        if default is _MISSING:
            raise ManifestError(f"manifest key {name!r} is missing")
        return default
    value = d[key]
    if kinds is float and isinstance(value, int) and not isinstance(value, bool):
        return value  # JSON has one number type; an int is a valid float (and keeps its bytes on a rewrite)
    if not isinstance(value, kinds) or (isinstance(value, bool) and kinds in (int, float)):
        want = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
        raise ManifestError(f"manifest key {name!r} must be {want}, got {type(value).__name__} {value!r:.80}")
    return value


def _section(d: Mapping[str, Any], key: str, path: str = "", *, required: bool = True) -> Mapping[str, Any]:
    return _get(d, key, path, dict, **({} if required else {"default": {}}))


def _str_map(d: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, str]:
    m = _section(d, key, path, required=required)
    name = f"{path}.{key}" if path else key
    for k, v in m.items():
        if not isinstance(v, str):
            raise ManifestError(f"manifest key {name}[{k!r}] must be str, got {type(v).__name__}")
    return dict(m)


def _compact(obj: Any, keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass as a dict without its None fields (except those in keep)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)
            if getattr(obj, f.name) is not None or f.name in keep}


# ------------------------------------------------------------------------------------------------ schema
@dataclass(frozen=True)
class ContainerRef:
    """The serving image the artifact was built for (inference.build.containers.Container.as_dict())."""

    key: str
    repository: str
    tag: str
    python: str

    @property
    def image(self) -> str:
        return f"{self.repository}:{self.tag}"

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "repository": self.repository, "tag": self.tag, "python": self.python}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str = "container") -> ContainerRef:
        return cls(**{k: _get(d, k, path, str) for k in ("key", "repository", "tag", "python")})


@dataclass(frozen=True)
class HandlerInfo:
    """How the image runs the handler and how to call it."""

    program: str = DEFAULT_PROGRAM  # file name in code/ (SAGEMAKER_PROGRAM for the sklearn image)
    content_type: str = DEFAULT_CONTENT_TYPE
    example_request: Any = None  # a JSON-able request body the handler accepts, or None
    environment: dict[str, str] = field(default_factory=dict)  # what the SageMaker Model must set
    max_batch: int | None = None  # embeddings: inputs per request (413 above)
    max_payload_bytes: int | None = None  # embeddings: request body limit (413 above)
    contract: str | None = None  # sklearn: "spec" (serving_spec.json) | "generic"

    def to_dict(self) -> dict[str, Any]:
        return _compact(self, keep=("example_request",))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str = "handler") -> HandlerInfo:
        return cls(
            program=_get(d, "program", path, str),
            content_type=_get(d, "content_type", path, str, default=DEFAULT_CONTENT_TYPE),
            example_request=d.get("example_request"),
            environment=_str_map(d, "environment", path),
            max_batch=_get(d, "max_batch", path, int, default=None),
            max_payload_bytes=_get(d, "max_payload_bytes", path, int, default=None),
            contract=_get(d, "contract", path, str, default=None),
        )


@dataclass(frozen=True)
class TokenizerInfo:
    file: str
    pad_token: str
    pad_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "pad_token": self.pad_token, "pad_id": self.pad_id}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str = "model.tokenizer") -> TokenizerInfo:
        return cls(file=_get(d, "file", path, str), pad_token=_get(d, "pad_token", path, str),
                   pad_id=_get(d, "pad_id", path, int))


@dataclass(frozen=True)
class ModelInfo:
    """The model files and what the handler needs to load them; fields of the other framework stay None."""

    file: str  # the weights file at the artifact's root
    source: str | None = None  # embeddings: "package:...", "local", "hub"; sklearn: the estimator's file name
    # embeddings
    name: str | None = None
    revision: str | None = None
    dimensions: int | None = None
    max_seq_length: int | None = None
    pooling: str | None = None
    normalize: bool | None = None
    model_has_normalize_module: bool | None = None
    tokenizer: TokenizerInfo | None = None
    onnx_inputs: tuple[str, ...] | None = None
    quantization: dict[str, Any] | None = None  # the int8 recipe's parameters (see docs/int8-recipe.md)
    # sklearn
    sklearn_version: str | None = None
    serving_spec: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = _compact(self)
        if self.tokenizer is not None:
            d["tokenizer"] = self.tokenizer.to_dict()
        if self.onnx_inputs is not None:
            d["onnx_inputs"] = list(self.onnx_inputs)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str = "model") -> ModelInfo:
        tok = _get(d, "tokenizer", path, dict, default=None)
        inputs = _get(d, "onnx_inputs", path, list, default=None)
        return cls(
            file=_get(d, "file", path, str),
            **{k: _get(d, k, path, str, default=None) for k in ("source", "name", "revision", "pooling",
                                                                   "sklearn_version", "serving_spec")},
            dimensions=_get(d, "dimensions", path, int, default=None),
            max_seq_length=_get(d, "max_seq_length", path, int, default=None),
            normalize=_get(d, "normalize", path, bool, default=None),
            model_has_normalize_module=_get(d, "model_has_normalize_module", path, bool, default=None),
            tokenizer=TokenizerInfo.from_dict(tok, f"{path}.tokenizer") if tok is not None else None,
            onnx_inputs=tuple(inputs) if inputs is not None else None,
            quantization=_get(d, "quantization", path, dict, default=None),
        )


@dataclass(frozen=True)
class VendoredPackage:
    """A wheel unpacked into code/ for the image's Python (inference.build.vendor)."""

    name: str
    version: str
    wheel: str
    wheel_sha256: str
    files: int
    stripped: tuple[str, ...] = ()
    stripped_with: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "wheel": self.wheel, "wheel_sha256": self.wheel_sha256,
                "files": self.files, "stripped": list(self.stripped), "stripped_with": self.stripped_with}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str = "vendored[]") -> VendoredPackage:
        return cls(name=_get(d, "name", path, str), version=_get(d, "version", path, str),
                   wheel=_get(d, "wheel", path, str), wheel_sha256=_get(d, "wheel_sha256", path, str),
                   files=_get(d, "files", path, int), stripped=tuple(_get(d, "stripped", path, list, default=[])),
                   stripped_with=_get(d, "stripped_with", path, str, default=None))


@dataclass(frozen=True)
class Manifest:
    """manifest.json, one key per fact. `files` is filled in by inference.build.artifact.write_manifest."""

    framework: str  # "huggingface" | "sklearn" (inference.limits.FRAMEWORKS)
    container: ContainerRef
    runtime: str | None  # "torch" | "onnx" | "onnx-int8" | "sklearn"
    handler: HandlerInfo
    model: ModelInfo
    vendored: tuple[VendoredPackage, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256 of every other file in the artifact
    format: int = MANIFEST_FORMAT

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": self.format, "framework": self.framework, "container": self.container.to_dict(),
            "runtime": self.runtime, "handler": self.handler.to_dict(), "model": self.model.to_dict(),
            "vendored": [v.to_dict() for v in self.vendored],
            "files": dict(self.files),
        }
        return d

    def to_json(self) -> str:
        """The bytes written to manifest.json (sorted keys, so equal manifests give equal files)."""
        return json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Manifest:
        """Parse a manifest; ManifestError names the first missing or mistyped key."""
        if not isinstance(d, Mapping):
            raise ManifestError(f"a manifest is a JSON object, got {type(d).__name__}")
        fmt = _get(d, "format", "", int)
        if fmt != MANIFEST_FORMAT:
            raise ManifestError(f"manifest key 'format' is {fmt}, this code reads format {MANIFEST_FORMAT}: rebuild "
                                "the artifact with `python -m inference build ...`")
        files = _str_map(d, "files", "", required=True)
        vendored = []
        for i, v in enumerate(_get(d, "vendored", "", list, default=[])):
            if not isinstance(v, Mapping):
                raise ManifestError(f"manifest key 'vendored[{i}]' must be dict, got {type(v).__name__}")
            vendored.append(VendoredPackage.from_dict(v, f"vendored[{i}]"))
        return cls(
            framework=_get(d, "framework", "", str),
            container=ContainerRef.from_dict(_section(d, "container")),
            runtime=_get(d, "runtime", "", str, default=None),
            handler=HandlerInfo.from_dict(_section(d, "handler")),
            model=ModelInfo.from_dict(_section(d, "model")),
            vendored=tuple(vendored),
            files=files,
            format=fmt,
        )


# ------------------------------------------------------------------------------------------------ reading
def read_manifest_json(tar_path: str | Path) -> dict[str, Any]:
    """The manifest of a built model.tar.gz as raw JSON, without unpacking the rest (read_manifest parses it)."""
    tar_path = Path(tar_path)
    if not tar_path.is_file():
        raise ArtifactError(f"artifact {tar_path} does not exist; build it with `python -m inference build ...`")
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            member = tar.extractfile(MANIFEST_NAME)
            if member is None:
                raise KeyError(MANIFEST_NAME)
            return json.loads(member.read())
    except (KeyError, tarfile.TarError, OSError, json.JSONDecodeError) as e:
        raise ArtifactError(
            f"{tar_path} is not an artifact built by inference/ (no readable {MANIFEST_NAME}: {e})"
        ) from e


def read_manifest(artifact: str | Path) -> Manifest:
    """The typed manifest of a model.tar.gz, or of an unpacked artifact directory."""
    artifact = Path(artifact)
    if artifact.is_dir():
        try:
            raw = json.loads((artifact / MANIFEST_NAME).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ArtifactError(f"{artifact} has no readable {MANIFEST_NAME}: {e}") from e
    else:
        raw = read_manifest_json(artifact)
    try:
        return Manifest.from_dict(raw)
    except ManifestError as e:
        raise ManifestError(f"{artifact}: {e}") from e
