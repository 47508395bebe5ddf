"""Vendoring (inference/vendor.py): wheels unpacked into code/ and imported by the image's Python.

The main test is the one issue 3 asks for: in a Python 3.12 venv (the hf-2.6-py312 image's Python) with
only NumPy installed -- no onnxruntime, tokenizers, torch or transformers -- the unpacked default artifact's
handler imports the vendored onnxruntime and tokenizers from code/ and answers a request, with the same
embeddings the build environment computes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from inference.vendor import (
    IMAGE_NUMPY,
    ONNXRUNTIME,
    TOKENIZERS,
    VendoredPackage,
    VendorError,
    download_wheel,
    unpack_wheel,
)

_CHILD = textwrap.dedent("""
    import importlib, importlib.util, json, sys
    code, model_dir = sys.argv[1], sys.argv[2]
    sys.path.insert(0, code)
    for banned in ("torch", "transformers"):
        assert importlib.util.find_spec(banned) is None, banned + " must not be installed in this venv"
    handler = importlib.import_module("inference")  # code/inference.py, as the HF toolkit imports it
    model = handler.model_fn(model_dir)
    body = json.dumps({"inputs": ["vendored runtime", "a second sentence about cats"]})
    out = json.loads(handler.output_fn(handler.predict_fn(handler.input_fn(body, "application/json"), model),
                                       "application/json"))
    import numpy, onnxruntime, tokenizers
    print(json.dumps({"out": out, "onnxruntime": [onnxruntime.__version__, onnxruntime.__file__],
                      "tokenizers": [tokenizers.__version__, tokenizers.__file__], "numpy": numpy.__version__,
                      "python": "%d.%d" % sys.version_info[:2]}))
""")


@pytest.fixture(scope="module")
def image_python() -> Path:
    from inference.vendor import image_runtime_python
    from inference.venvs import VenvUnavailable

    try:
        return image_runtime_python("3.12")
    except VenvUnavailable as e:
        pytest.skip(f"no Python 3.12 here: {e}")
    except subprocess.CalledProcessError as e:
        pytest.skip(f"could not install {IMAGE_NUMPY} into a Python 3.12 venv (package index unreachable?): {e}")


def test_vendored_onnxruntime_and_tokenizers_run_the_handler_in_the_images_python(image_python: Path,
                                                                                   tmp_path: Path) -> None:
    from inference.artifact import read_manifest, unpack
    from inference.demo import cached_embeddings_artifact
    from inference.handlers import embeddings as handler

    tar = cached_embeddings_artifact(None, log=lambda m: print(m, file=sys.stderr))
    manifest = read_manifest(tar)
    if manifest["runtime"] == "torch":
        pytest.skip("the default artifact uses the torch runtime, which vendors nothing")
    assert manifest["container"]["python"] == "3.12"
    model_dir = unpack(tar, tmp_path / "model")
    proc = subprocess.run([str(image_python), "-I", "-c", _CHILD, str(model_dir / "code"), str(model_dir)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["python"] == "3.12"
    code = str(model_dir / "code")
    assert got["onnxruntime"][0] == ONNXRUNTIME.version and got["onnxruntime"][1].startswith(code)
    assert got["tokenizers"][0] == TOKENIZERS.version and got["tokenizers"][1].startswith(code)
    # same embeddings as the build environment's onnxruntime/tokenizers on the same artifact
    model = handler.model_fn(str(model_dir))
    body = json.dumps({"inputs": ["vendored runtime", "a second sentence about cats"]})
    here = np.asarray(handler.predict_fn(handler.input_fn(body, "application/json"), model)["embeddings"])
    there = np.asarray(got["out"]["embeddings"])
    assert there.shape == (2, 384)
    assert (here * there).sum(axis=1).min() > 0.999
    # the symbol tables the build stripped are gone, and what the manifest says was stripped is what was
    stripped = {f for rec in manifest["vendored"] for f in rec.get("stripped", [])}
    if shutil.which("strip"):
        assert stripped == {"tokenizers/tokenizers.abi3.so"}
    for rel in stripped:
        assert b".symtab" not in (model_dir / "code" / rel).read_bytes()


def test_strip_symbols_leaves_non_elf_and_already_stripped_files_alone(tmp_path: Path) -> None:
    from inference.vendor import strip_symbols

    text = tmp_path / "x.so"
    text.write_bytes(b"not an ELF file .symtab")
    assert strip_symbols(text) is False and text.read_bytes() == b"not an ELF file .symtab"
    bare = tmp_path / "bare.so"
    bare.write_bytes(b"\x7fELF" + b"\0" * 60)  # ELF magic, no symbol table
    assert strip_symbols(bare) is False and bare.read_bytes() == b"\x7fELF" + b"\0" * 60


def _wheel(path: Path, files: dict[str, tuple[bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


def test_unpack_wheel_skips_excluded_prefixes_and_tests_and_keeps_exec_bits(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {
        "pkg/__init__.py": (b"x = 1\n", 0o644),
        "pkg/_native.so": (b"\x7fELF", 0o755),
        "pkg/tools/big.py": (b"# dropped\n", 0o644),
        "pkg/sub/tests/test_x.py": (b"# dropped\n", 0o644),
        "pkg-1.0.dist-info/METADATA": (b"Name: pkg\nVersion: 1.0\n", 0o644),
    })
    written = unpack_wheel(wheel, tmp_path / "code", exclude=("pkg/tools/",))
    assert written == ["pkg-1.0.dist-info/METADATA", "pkg/__init__.py", "pkg/_native.so"]
    assert (tmp_path / "code/pkg/_native.so").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "code/pkg/__init__.py").stat().st_mode & 0o777 == 0o644
    assert not (tmp_path / "code/pkg/tools").exists()


def test_unpack_wheel_refuses_paths_escaping_the_target(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "evil-1.0-py3-none-any.whl", {"../escape.py": (b"", 0o644)})
    with pytest.raises(VendorError, match="unsafe path"):
        unpack_wheel(wheel, tmp_path / "code")


def test_download_uses_the_cache_without_pip(tmp_path: Path) -> None:
    cached = tmp_path / "cp312" / f"onnxruntime-{ONNXRUNTIME.version}-cp312-cp312-manylinux_2_28_x86_64.whl"
    cached.parent.mkdir()
    cached.write_bytes(b"cached")
    assert download_wheel(ONNXRUNTIME, "3.12", cache=tmp_path) == cached


def test_a_version_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VendorError, match=r"could not download onnxruntime==0\.0\.0 for CPython 3\.12"):
        download_wheel(VendoredPackage("onnxruntime", "0.0.0"), "3.12", cache=tmp_path)
