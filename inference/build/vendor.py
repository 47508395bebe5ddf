"""Vendor the wheels the target image lacks into an artifact's code/ directory.

Why: a serverless endpoint must not pip-install at cold start (no guaranteed network, little disk, slow), so
the onnx runtimes carry onnxruntime, tokenizers and orjson for the image's Python (3.12 for hf-2.6-py312,
3.11 for hf-2.3-py311) and platform (manylinux x86_64; the images are Ubuntu 22.04, glibc 2.35). The handler puts
code/ first on sys.path. The pins below are the one place they live; why each version was chosen (size,
NumPy 2 compatibility, the images' transformers pins) is in docs/handler-performance.md. Only what
InferenceSession imports is kept, and native libraries are stripped of their symbol tables by an ELF-capable
strip on PATH when there is one (elf_strip_tool); the tool's version is part of the build cache key
(inference.build.cache.artifact_key), so an artifact built without it is not reused once it is installed.
The torch runtime vendors nothing: the image ships torch, transformers and tokenizers (and its handler falls
back to Python's float formatting where orjson is absent).
Downloads go through `pip download --only-binary=:all: --platform ... --python-version ... --no-deps` and
are cached under .cache/wheels (gitignored), so a rebuild needs no network.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHEEL_CACHE = ROOT / ".cache" / "wheels"
# manylinux_2_28 first (onnxruntime's tag), manylinux2014 (= 2_17, tokenizers' tag) as well.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")


@dataclass(frozen=True)
class VendoredPackage:
    name: str
    version: str
    exclude: tuple[str, ...] = ()  # archive path prefixes not copied into code/

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


ONNXRUNTIME = VendoredPackage(
    "onnxruntime", "1.20.1",
    exclude=("onnxruntime/transformers/", "onnxruntime/quantization/", "onnxruntime/tools/",
             "onnxruntime/backend/", "onnxruntime/datasets/", "onnxruntime/capi/libonnxruntime.so"),
)
TOKENIZERS = VendoredPackage("tokenizers", "0.21.1", exclude=("tokenizers/tools/",))
# METADATA is orjson's README (42 kB); nothing reads it, and the int8 artifact is only ~81 kB under 25 MB with it out.
ORJSON = VendoredPackage("orjson", "3.13.0", exclude=("orjson-3.13.0.dist-info/METADATA",))
RUNTIME_PACKAGES: dict[str, tuple[VendoredPackage, ...]] = {
    "torch": (),
    "onnx": (ONNXRUNTIME, TOKENIZERS, ORJSON),
    "onnx-int8": (ONNXRUNTIME, TOKENIZERS, ORJSON),
}
# What tests install next to the vendored copies to stand in for the image (it ships NumPy; see docstring).
IMAGE_NUMPY = "numpy==2.2.6"


def image_runtime_python(python: str, *, log=None) -> Path:
    """A cached venv of the image's Python holding only the image's NumPy: importing a handler there loads the
    onnxruntime/tokenizers vendored into its code/, as the endpoint does. One definition for the build's
    quality gate and measurement and the tests that check the vendored copies."""
    from inference.build.venvs import ensure_venv

    return ensure_venv("embeddings-runtime", python, [IMAGE_NUMPY], log=log)


class VendorError(RuntimeError):
    """A wheel could not be obtained or unpacked."""


class DownloadError(VendorError):
    """A wheel could not be downloaded (no PyPI access): the machine cannot build, the recipe may be fine."""


def _matches(wheel: Path, pkg: VendoredPackage) -> bool:
    return wheel.name.lower().startswith(f"{pkg.name.replace('-', '_').lower()}-{pkg.version}-")


def download_wheel(pkg: VendoredPackage, python: str, *, cache: Path = WHEEL_CACHE, log=None) -> Path:
    """The manylinux x86_64 wheel of pkg for CPython `python` ("3.12"), from the cache or PyPI via pip."""
    dest = cache / f"cp{python.replace('.', '')}"
    dest.mkdir(parents=True, exist_ok=True)
    found = sorted(w for w in dest.glob("*.whl") if _matches(w, pkg))
    if found:
        return found[0]
    if log:
        log(f"downloading {pkg.requirement} for CPython {python} manylinux x86_64 into {dest}")
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q", "--no-deps",
           "--only-binary=:all:", "--implementation", "cp", "--python-version", python,
           *[a for p in PLATFORMS for a in ("--platform", p)], "-d", str(dest), pkg.requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(w for w in dest.glob("*.whl") if _matches(w, pkg))
    if proc.returncode != 0 or not found:
        raise DownloadError(
            f"could not download {pkg.requirement} for CPython {python} (manylinux x86_64): "
            f"{(proc.stderr or proc.stdout).strip()[-800:]}. The first build needs PyPI access; "
            f"later builds use the cache in {cache}."
        )
    return found[0]


def unpack_wheel(wheel: Path, dest: Path, exclude: tuple[str, ...] = ()) -> list[str]:
    """Extract a wheel's files into dest (skipping `exclude` prefixes and tests); returns the written paths."""
    written = []
    with zipfile.ZipFile(wheel) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            name = info.filename
            if info.is_dir() or name.startswith(exclude) or "/tests/" in name or name.startswith("tests/"):
                continue
            if name.startswith("/") or ".." in Path(name).parts:
                raise VendorError(f"{wheel.name}: unsafe path {name!r} in the wheel")
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            mode = (info.external_attr >> 16) & 0o777
            target.chmod(0o755 if mode & 0o111 else 0o644)
            written.append(name)
    return written


# Strip tools that read ELF, in order of preference ("gstrip": Homebrew's binutils on macOS, where "strip" is
# Apple's Mach-O-only tool).
STRIP_TOOLS = ("strip", "gstrip", "llvm-strip")


@dataclass(frozen=True)
class StripTool:
    path: str
    version: str  # the tool's own version line: part of the build cache key and of the manifest


def elf_strip_tool() -> StripTool | None:
    """The first tool on PATH that strips ELF files (GNU binutils or LLVM, by its --version); None if none."""
    for name in STRIP_TOOLS:
        path = shutil.which(name)
        if path is None:
            continue
        try:
            proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
        if proc.returncode != 0 or not lines:
            continue
        if lines[0].startswith("GNU strip"):
            return StripTool(path, lines[0])
        llvm = [ln for ln in lines if ln.startswith("LLVM version")]
        if llvm:
            return StripTool(path, f"llvm-strip ({llvm[0]})")
    return None


def strip_symbols(path: Path, tool: StripTool | None) -> bool:
    """`--strip-unneeded` an ELF file that has a symbol table; True if it was stripped."""
    data = path.read_bytes()
    if tool is None or data[:4] != b"\x7fELF" or b".symtab" not in data:
        return False
    proc = subprocess.run([tool.path, "--strip-unneeded", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise VendorError(f"{tool.version} failed on {path.name}: {(proc.stderr or proc.stdout).strip()[-500:]}")
    return True


def vendor(code_dir: Path, runtime: str, python: str, *, cache: Path = WHEEL_CACHE, log=None) -> list[dict]:
    """Unpack the runtime's pinned packages into code_dir; returns manifest records of what was vendored."""
    if runtime not in RUNTIME_PACKAGES:
        raise VendorError(f"unknown runtime {runtime!r}; allowed: {', '.join(RUNTIME_PACKAGES)}")
    tool = elf_strip_tool() if RUNTIME_PACKAGES[runtime] else None
    if RUNTIME_PACKAGES[runtime] and tool is None and log:
        log(f"no ELF strip tool on PATH (tried {', '.join(STRIP_TOOLS)}): vendored native libraries keep their "
            "symbol tables, ~0.5 MB more in the artifact (over the 25 MB target). Install binutils (Debian/Ubuntu: "
            "apt-get install binutils; macOS: brew install binutils, then put $(brew --prefix binutils)/bin, "
            "which holds gstrip, on PATH) and rebuild.")
    records = []
    for pkg in RUNTIME_PACKAGES[runtime]:
        wheel = download_wheel(pkg, python, cache=cache, log=log)
        files = unpack_wheel(wheel, code_dir, pkg.exclude)
        stripped = [f for f in files if f.endswith(".so") and strip_symbols(code_dir / f, tool)]
        records.append({"name": pkg.name, "version": pkg.version, "wheel": wheel.name,
                        "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(), "files": len(files),
                        "stripped": stripped, "stripped_with": tool.version if stripped and tool else None})
    return records
