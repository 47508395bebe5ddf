"""The one cache of built artifacts (build/artifacts/), shared by the Pulumi program, the demo, the bench and tests.

Why: a build takes a minute and re-measures memory, so an artifact is built once and reused while nothing it
is made from changes -- and then its bytes (hence its sha256, the S3 object and the SageMaker Model) stay put.
An artifact is named by its recipe (the `build:` block of a stack's endpoint, or the demo's default) and its
target container: `recipe_artifact` keys it on those, on the model tree when the recipe's model is a local
folder (the packaged default weights included), on the sources that shape the bytes (inference/build/,
handlers/, limits.py, manifest.py, and a sklearn recipe's trainer package) and on the build environment's
package versions and tools. A build runs under a file lock, in a scratch folder, and its model.tar.gz is moved
into place only when complete, so concurrent callers (`pulumi preview` and a test run) share one build.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from inference.build.containers import DEFAULT_FOR_FRAMEWORK, Container
from inference.limits import DEFAULT_EMBEDDING_RUNTIME
from inference.report import report_path, update_report

ROOT = Path(__file__).resolve().parents[2]
INFERENCE = ROOT / "inference"
BUILD_DIR = ROOT / "build" / "artifacts"
ARTIFACT_NAME = "model.tar.gz"
# What in inference/ shapes an artifact's bytes; tools/, __main__.py and examples/ do not (a sklearn recipe's
# trainer package is added per recipe, see recipe_sources).
BUILD_SOURCES = ("build", "handlers", "limits.py", "manifest.py")
# Build-environment packages whose version can change what a build writes.
BUILD_PACKAGES = ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime", "tokenizers", "numpy",
                  "scikit-learn")
# The default artifact: the packaged all-MiniLM-L6-v2 weights (model None) for the default HF image. A stack
# recipe `{kind: embeddings, runtime: onnx-int8}` normalises to the same, so the demo and the stack share it.
DEFAULT_EMBEDDINGS_RECIPE: Mapping[str, Any] = {"kind": "embeddings", "model": None,
                                                "runtime": DEFAULT_EMBEDDING_RUNTIME, "revision": None}

Log = Callable[[str], None]
BUILD_PLATFORM = ("Linux", "x86_64")  # the vendored wheels are manylinux x86_64; the gate runs them here


class BuildUnavailable(RuntimeError):
    """This machine cannot build the artifact (platform, interpreter, package index): the config may be fine."""

    def __init__(self, what: str, missing: str):
        super().__init__(
            f"cannot build {what} on this machine: {missing}. Two ways forward: build on a Linux x86_64 machine "
            "with the image's Python and PyPI access (e.g. a CI runner: `python release.py STACK --build-only`), "
            "then deploy from there; or point the stack at a prebuilt artifact (artifact.path, artifact.uri + "
            "sha256, or artifact.promote_from)"
        )
        self.missing = missing


def check_can_build(container: Container, what: str) -> None:
    """BuildUnavailable unless this machine has what every build needs: Linux x86_64 and the image's Python."""
    import platform

    from inference.build.venvs import VenvUnavailable, find_python

    here = (platform.system(), platform.machine())
    if here != BUILD_PLATFORM:
        raise BuildUnavailable(what, f"builds need {'/'.join(BUILD_PLATFORM)} (the vendored wheels and the quality "
                                     f"gate run as in the image), this is {'/'.join(here)}")
    try:
        find_python(container.python)
    except VenvUnavailable as e:
        raise BuildUnavailable(what, f"{e} (the image {container.image} runs Python {container.python}; "
                                     "pyenv install it, or use a machine that has it)") from e
# kind -> builder(recipe, out_dir, container) -> path of the built tarball
Builder = Callable[[Mapping[str, Any], Path, Container], Path]


def tree_digest(root: Path, h: Any, skip: Iterable[str] = ()) -> None:
    """Feed every file below root (path + bytes, sorted; no caches, dotfiles or bytecode) into hash h.

    skip: paths relative to root; one ending in "/" skips a folder.
    """
    skip = tuple(skip)
    for p in sorted(Path(root).rglob("*")):
        rel = p.relative_to(root).as_posix()
        if any(rel == s or (s.endswith("/") and rel.startswith(s)) for s in skip):
            continue
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".") and p.suffix != ".pyc":
            h.update(rel.encode() + b"\0")
            with open(p, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
            h.update(b"\0")


def sources_digest(root: Path = INFERENCE, extra: Iterable[Path] = ()) -> str:
    """sha256 over the sources that shape an artifact: BUILD_SOURCES below root, then each extra path.

    Derived from the folders, so a new module in build/ or handlers/ counts without being listed anywhere.
    """
    h = hashlib.sha256()
    for path in [*(Path(root) / name for name in BUILD_SOURCES), *map(Path, extra)]:
        h.update(f"{path.name}\0".encode())
        if path.is_dir():
            tree_digest(path, h)
        elif path.is_file():
            h.update(path.read_bytes())
        h.update(b"\1")
    return h.hexdigest()


def _package_versions() -> dict[str, str]:
    versions = {}
    for pkg in BUILD_PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "absent"
    return versions


def _tool_versions() -> dict[str, str]:
    """Build tools whose presence or version changes the bytes a build writes."""
    from inference.build.vendor import elf_strip_tool

    strip = elf_strip_tool()
    return {"strip": strip.version if strip else "absent"}


def build_inputs(extra_sources: Iterable[Path] = ()) -> dict[str, Any]:
    """What determines a build's bytes besides its recipe and model: our sources, the build Python, package and
    tool versions. Recorded in each build report, and hashed into the cache key."""
    return {"sources": sources_digest(extra=extra_sources), "python": ".".join(map(str, sys.version_info[:2])),
            "packages": _package_versions(), "tools": _tool_versions()}


def artifact_key(inputs: Mapping[str, Any], trees: Iterable[Path] = (), *, sources: str | None = None) -> str:
    """16 hex digits naming a build: inputs (JSON-able), the trees it reads, our sources, the build env."""
    h = hashlib.sha256()
    h.update(json.dumps({"inputs": inputs, "python": list(sys.version_info[:2]), "packages": _package_versions(),
                         "tools": _tool_versions(), "sources": sources or sources_digest()},
                        sort_keys=True, default=str).encode())
    for tree in trees:
        tree_digest(Path(tree), h)
    return h.hexdigest()[:16]


def cached_artifact(directory: Path, build: Callable[[Path], Path], *,
                    log: Callable[[str], None] | None = None) -> Path:
    """directory/model.tar.gz: reused if present, else build(scratch_dir) -> tarball, moved into place.

    Exceptions from build propagate (the caller words them for its user); a build that returns no file is a
    RuntimeError. The scratch folder is removed either way.
    """
    directory = Path(directory)
    target = directory / ARTIFACT_NAME
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            if log:
                log(f"reusing {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} (inputs unchanged)")
            return target
        work = directory / "work"
        shutil.rmtree(work, ignore_errors=True)
        try:
            built = Path(build(work))
            if not built.is_file():
                raise RuntimeError(f"the build produced no file at {built}")
            if report_path(built).is_file():  # the report first: a tarball in place is a complete entry
                report_path(built).replace(report_path(target))
            built.replace(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


# ------------------------------------------------------------------------------------------------ recipes
def normalize_recipe(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe with its kind's defaults filled in, so equal builds get equal keys however they were spelled."""
    recipe = dict(recipe)
    if recipe.get("kind") == "embeddings":
        return {**DEFAULT_EMBEDDINGS_RECIPE, **{k: v for k, v in recipe.items() if v is not None}}
    return recipe


def recipe_sources(recipe: Mapping[str, Any]) -> list[Path]:
    """Source paths a recipe adds to BUILD_SOURCES: a sklearn trainer's package folder (or its lone module)."""
    trainer = recipe.get("trainer")
    if recipe.get("kind") != "sklearn" or not trainer:
        return []
    module = str(trainer).split(":")[0]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise ValueError(f"trainer module {module!r} cannot be found on sys.path")
    origin = Path(spec.origin)
    return [origin.parent] if "." in module else [origin]


def recipe_trees(recipe: Mapping[str, Any]) -> list[Path]:
    """Model folders a recipe reads: the packaged default weights, or a local model folder (a Hub id is pinned
    by its revision, which is in the recipe)."""
    if recipe.get("kind") != "embeddings":
        return []
    model = recipe.get("model")
    if model is None or str(model) == "":
        from inference.build.hub import default_model_path

        return [default_model_path()]
    path = Path(str(model)).expanduser()
    return [path] if path.is_dir() else []


def recipe_key(recipe: Mapping[str, Any], container: Container, *, sources: str | None = None) -> str:
    """The cache key of a recipe built for container (see the module docstring for what it covers)."""
    recipe = normalize_recipe(recipe)
    return artifact_key({"recipe": recipe, "container": container.as_dict()}, recipe_trees(recipe),
                        sources=sources or sources_digest(extra=recipe_sources(recipe)))


def build_embeddings_recipe(recipe: Mapping[str, Any], out_dir: Path, container: Container) -> Path:
    from inference.build.embeddings import build_embeddings  # heavy (torch): only when a build is needed

    result = build_embeddings(recipe.get("model"), out_dir, runtime=recipe.get("runtime") or DEFAULT_EMBEDDING_RUNTIME,
                              revision=recipe.get("revision"), container=container.key)
    return Path(result.path)


def build_sklearn_recipe(recipe: Mapping[str, Any], out_dir: Path, container: Container) -> Path:
    """Run the recipe's trainer (`module:function(out_path, container=key) -> estimator path`), then package it.

    The trainer pickles in a venv matching the image (inference.examples.call_time.train.train_estimator does),
    because build_sklearn refuses a pickle from another scikit-learn version.
    """
    from inference.build.sklearn import build_sklearn

    module, func = recipe["trainer"].split(":")
    trainer = getattr(importlib.import_module(module), func)
    estimator = trainer(out_dir / "estimator.joblib", container=container.key)
    return Path(build_sklearn(estimator, out_dir, container=container.key).path)


BUILDERS: dict[str, Builder] = {"embeddings": build_embeddings_recipe, "sklearn": build_sklearn_recipe}


def recipe_artifact(recipe: Mapping[str, Any], container: Container, *, builders: Mapping[str, Builder] | None = None,
                    build_dir: Path | None = None, log: Log | None = None) -> Path:
    """build_dir/<kind>-<key>/model.tar.gz for recipe and container: reused when present, else built once.

    builders and build_dir default to this module's BUILDERS and BUILD_DIR, looked up at call time (tests
    monkeypatch them). Build errors propagate unchanged: the caller words them for its user.
    """
    recipe = normalize_recipe(recipe)
    kind = recipe["kind"]
    builder = (builders if builders is not None else BUILDERS)[kind]
    key = recipe_key(recipe, container)
    directory = Path(build_dir or BUILD_DIR) / f"{kind}-{key}"

    def build(work: Path) -> Path:
        import subprocess

        from inference.build.vendor import DownloadError

        what = f"the {kind} artifact for {container.image}"
        check_can_build(container, what)
        if log:
            log(f"building {what} (first run only: a minute or more) ...")
        try:
            built = builder(recipe, work, container)
        except DownloadError as e:
            raise BuildUnavailable(what, f"no access to PyPI ({str(e).splitlines()[0][:300]})") from e
        except subprocess.CalledProcessError as e:
            if "pip" not in " ".join(map(str, e.cmd)):
                raise
            raise BuildUnavailable(what, f"pip could not install the image-matching venv ({e})") from e
        update_report(built, recipe=recipe, cache_key=key)
        return built

    return cached_artifact(directory, build, log=log)


def cached_recipe_artifact(recipe: Mapping[str, Any], container: Container, *,
                           build_dir: Path | None = None) -> Path | None:
    """The recipe's artifact if it is already built, else None: never builds (what `pulumi preview` uses)."""
    recipe = normalize_recipe(recipe)
    target = Path(build_dir or BUILD_DIR) / f"{recipe['kind']}-{recipe_key(recipe, container)}" / ARTIFACT_NAME
    return target if target.is_file() else None


def default_embeddings_artifact(runtime: str | None = None, *, model: str | Path | None = None,
                                log: Log | None = None, build_dir: Path | None = None) -> Path:
    """The default recipe's artifact (packaged MiniLM, onnx-int8, default HF image), or another runtime/model of
    it: what the demo, the bench and the tests serve, and the one the dev stack's `embeddings` endpoint names."""
    recipe = {**DEFAULT_EMBEDDINGS_RECIPE, "runtime": runtime or DEFAULT_EMBEDDING_RUNTIME,
              "model": str(model) if model is not None else None}
    return recipe_artifact(recipe, DEFAULT_FOR_FRAMEWORK["huggingface"], build_dir=build_dir, log=log)
