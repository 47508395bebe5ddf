"""Vendoring (inference/build/vendor.py): wheels unpacked into code/ and imported by the image's Python.

The main test: in a Python 3.12 venv (the hf-2.6-py312 image's Python) with
only NumPy installed -- no onnxruntime, tokenizers, orjson, torch or transformers -- the unpacked default artifact's
handler imports the vendored onnxruntime, tokenizers and orjson from code/ and answers a request, with the same
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

from inference.build.vendor import (
    IMAGE_NUMPY,
    ONNXRUNTIME,
    ORJSON,
    TOKENIZERS,
    StripTool,
    VendoredPackage,
    VendorError,
    download_wheel,
    elf_strip_tool,
    strip_symbols,
    unpack_wheel,
    vendor,
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
    import numpy, onnxruntime, orjson, tokenizers
    assert handler.orjson is orjson  # the handler writes its JSON with the vendored copy
    print(json.dumps({"out": out, "onnxruntime": [onnxruntime.__version__, onnxruntime.__file__],
                      "tokenizers": [tokenizers.__version__, tokenizers.__file__],
                      "orjson": [orjson.__version__, orjson.__file__], "numpy": numpy.__version__,
                      "python": "%d.%d" % sys.version_info[:2]}))
""")


@pytest.fixture(scope="module")
def image_python() -> Path:
    from inference.build.vendor import image_runtime_python
    from inference.build.venvs import VenvUnavailable

    try:
        return image_runtime_python("3.12")
    except VenvUnavailable as e:
        pytest.skip(f"no Python 3.12 here: {e}")
    except subprocess.CalledProcessError as e:
        pytest.skip(f"could not install {IMAGE_NUMPY} into a Python 3.12 venv (package index unreachable?): {e}")


@pytest.mark.slow
def test_vendored_packages_run_the_handler_in_the_images_python(image_python: Path, tmp_path: Path) -> None:
    from inference.build.artifact import read_manifest, unpack
    from inference.build.cache import default_embeddings_artifact
    from inference.handlers import embeddings as handler

    tar = default_embeddings_artifact(None, log=lambda m: print(m, file=sys.stderr))
    manifest = read_manifest(tar).to_dict()
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
    assert got["orjson"][0] == ORJSON.version and got["orjson"][1].startswith(code)
    # same embeddings as the build environment's onnxruntime/tokenizers on the same artifact
    model = handler.model_fn(str(model_dir))
    body = json.dumps({"inputs": ["vendored runtime", "a second sentence about cats"]})
    here = np.asarray(handler.predict_fn(handler.input_fn(body, "application/json"), model)["embeddings"])
    there = np.asarray(got["out"]["embeddings"])
    assert there.shape == (2, 384)
    assert (here * there).sum(axis=1).min() > 0.999
    # the symbol tables the build stripped are gone, and what the manifest says was stripped is what was
    stripped = {f for rec in manifest["vendored"] for f in rec.get("stripped", [])}
    tool = elf_strip_tool()
    if tool is not None:
        assert stripped == {"tokenizers/tokenizers.abi3.so"}
        assert {rec["stripped_with"] for rec in manifest["vendored"] if rec["stripped"]} == {tool.version}
    for rel in stripped:
        assert b".symtab" not in (model_dir / "code" / rel).read_bytes()


def test_strip_symbols_leaves_non_elf_and_already_stripped_files_alone(tmp_path: Path) -> None:
    tool = StripTool("/nonexistent/strip", "GNU strip (never run) 0")  # running it would raise
    text = tmp_path / "x.so"
    text.write_bytes(b"not an ELF file .symtab")
    assert strip_symbols(text, tool) is False and text.read_bytes() == b"not an ELF file .symtab"
    bare = tmp_path / "bare.so"
    bare.write_bytes(b"\x7fELF" + b"\0" * 60)  # ELF magic, no symbol table
    assert strip_symbols(bare, tool) is False and bare.read_bytes() == b"\x7fELF" + b"\0" * 60


def test_strip_symbols_really_strips_an_elf_library_with_the_tool_found_here(tmp_path: Path) -> None:
    tool = elf_strip_tool()
    if tool is None:
        pytest.skip("no ELF strip tool (binutils or llvm-strip) on this machine; the fake-tool tests below still run")
    lib = tmp_path / "lib.so"
    shutil.copy(Path(sys.executable).resolve(), lib)  # an ELF file; copy so the original is untouched
    if b".symtab" not in lib.read_bytes():
        pytest.skip(f"{sys.executable} carries no symbol table to strip")
    before = lib.stat().st_size
    assert strip_symbols(lib, tool) is True
    assert b".symtab" not in lib.read_bytes() and lib.stat().st_size < before
    assert strip_symbols(lib, tool) is False  # already stripped: left alone


def _fake_tool(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    path.chmod(0o755)


APPLE_STRIP = """\
    echo "error: strip: unrecognized option: --version" >&2
    exit 1
"""
GNU_STRIP = """\
    if [ "$1" = --version ]; then echo "GNU strip (GNU Binutils) 9.99"; echo "Copyright"; exit 0; fi
    printf '\\177ELF stripped' > "$2"
"""


def test_elf_strip_tool_passes_over_a_strip_that_only_knows_mach_o(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    _fake_tool(bin_dir, "strip", APPLE_STRIP)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert elf_strip_tool() is None
    _fake_tool(bin_dir, "gstrip", GNU_STRIP)  # Homebrew's binutils on macOS
    assert elf_strip_tool() == StripTool(str(bin_dir / "gstrip"), "GNU strip (GNU Binutils) 9.99")
    (bin_dir / "gstrip").unlink()
    _fake_tool(bin_dir, "llvm-strip", 'echo "LLVM (http://llvm.org/):"; echo "  LLVM version 17.0.6"\n')
    assert elf_strip_tool() == StripTool(str(bin_dir / "llvm-strip"), "llvm-strip (LLVM version 17.0.6)")


def _fake_runtime_wheels(cache: Path) -> None:
    """Cached 'wheels' for the onnx runtime's pins, each holding an ELF 'library' with a symbol table."""
    (cache / "cp312").mkdir(parents=True)
    for pkg in (ONNXRUNTIME, TOKENIZERS, ORJSON):
        _wheel(cache / "cp312" / f"{pkg.name}-{pkg.version}-cp312-cp312-manylinux_2_28_x86_64.whl",
               {f"{pkg.name}/_native.so": (b"\x7fELF ... .symtab ...", 0o755),
                f"{pkg.name}/__init__.py": (b"", 0o644)})


def test_vendor_without_a_strip_tool_keeps_the_symbols_and_says_how_to_get_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_runtime_wheels(tmp_path / "wheels")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    logs: list[str] = []
    records = vendor(tmp_path / "code", "onnx-int8", "3.12", cache=tmp_path / "wheels", log=logs.append)
    assert [(r["name"], r["stripped"], r["stripped_with"]) for r in records] == [
        ("onnxruntime", [], None), ("tokenizers", [], None), ("orjson", [], None)]
    assert (tmp_path / "code/tokenizers/_native.so").read_bytes() == b"\x7fELF ... .symtab ..."
    assert any("no ELF strip tool" in m and "apt-get install binutils" in m and "gstrip" in m for m in logs), logs


def test_vendor_strips_with_the_tool_it_found_and_records_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_runtime_wheels(tmp_path / "wheels")
    _fake_tool(tmp_path / "bin", "strip", GNU_STRIP)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    records = vendor(tmp_path / "code", "onnx", "3.12", cache=tmp_path / "wheels")
    assert [(r["stripped"], r["stripped_with"]) for r in records] == [
        (["onnxruntime/_native.so"], "GNU strip (GNU Binutils) 9.99"),
        (["tokenizers/_native.so"], "GNU strip (GNU Binutils) 9.99"),
        (["orjson/_native.so"], "GNU strip (GNU Binutils) 9.99")]
    assert (tmp_path / "code/tokenizers/_native.so").read_bytes() == b"\x7fELF stripped"


def test_a_failing_strip_is_an_error_naming_the_tool_and_the_file(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    _fake_tool(bin_dir, "strip", 'echo "strip: lib.so: file format not recognized" >&2; exit 1\n')
    lib = tmp_path / "lib.so"
    lib.write_bytes(b"\x7fELF ... .symtab ...")
    with pytest.raises(VendorError, match=r"GNU strip \(fake\) 1 failed on lib\.so: .*file format not recognized"):
        strip_symbols(lib, StripTool(str(bin_dir / "strip"), "GNU strip (fake) 1"))


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
