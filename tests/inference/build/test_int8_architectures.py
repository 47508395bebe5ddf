"""The onnx-int8 recipe on every architecture of the seed's matrix (inference/build/onnx_export.py).

Only all-MiniLM-L6-v2's weights are available offline, so the other models are proven on random-weight models
with their real layer layout, scaled down (inference/tools/tiny_models.py): the build must find every recipe
step's targets in that architecture's graph and pass the quality gate -- every input class -- against
sentence-transformers on the same weights. An architecture the recipe does not know fails the build naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference.build.onnx_export import INT8_ARCHITECTURES, quantize_int8
from inference.tools.tiny_models import MATRIX, layout, make_tiny_model


def test_an_architecture_the_recipe_does_not_know_fails_naming_it_and_the_runtimes_that_work(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "distilbert", "n_heads": 12, "dim": 768}))
    with pytest.raises(ValueError, match=r"does not know architecture 'distilbert'.*knows bert, mpnet.*"
                                         r"--runtime onnx or torch"):
        quantize_int8(tmp_path / "never-read.onnx", tmp_path / "out.onnx", model_dir=tmp_path)
    assert not (tmp_path / "out.onnx").exists()


def test_the_build_reports_an_unknown_architecture_as_a_build_error(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from inference.build import embeddings, onnx_export

    def unknown(src, dst, *, model_dir):
        raise ValueError("the onnx-int8 recipe does not know architecture 'distilbert'")

    monkeypatch.setattr(onnx_export, "quantize_int8", unknown)
    monkeypatch.setattr(onnx_export, "export_onnx", lambda src, out: ["input_ids", "attention_mask"])
    with pytest.raises(embeddings.BuildError, match="does not know architecture 'distilbert'"):
        embeddings.build_embeddings(None, tmp_path / "out", runtime="onnx-int8")


def test_the_matrix_names_each_seed_model_with_its_architecture_and_tier() -> None:
    assert [(e.short, e.model_type, e.hidden, e.tier_mb) for e in MATRIX] == [
        ("all-MiniLM-L6-v2", "bert", 384, 3072), ("all-mpnet-base-v2", "mpnet", 768, 6144),
        ("paraphrase-MiniLM-L3-v2", "bert", 384, 2048), ("multi-qa-MiniLM-L6-cos-v1", "bert", 384, 3072)]
    assert {e.model_type for e in MATRIX} <= set(INT8_ARCHITECTURES)
    with pytest.raises(ValueError, match="not in the seed's matrix"):
        layout("bert-base-uncased")


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(layout("paraphrase-MiniLM-L3-v2"), tmp_path_factory.mktemp("tiny-bert"))


@pytest.mark.slow
def test_a_graph_the_ffn_step_cannot_find_fails_naming_the_step_and_the_architecture(
        tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inference.build import onnx_export

    fp32 = tmp_path / "model.onnx"
    onnx_export.export_onnx(tiny_bert, fp32)
    monkeypatch.setattr(onnx_export, "_gelu_fed", lambda model: [])  # as if GELU had not been fused
    with pytest.raises(ValueError, match=r"does not match the bert graph of this model \(3 layers\): "
                                         r"GELU-fed MatMuls .*found 0, expected 3.*--runtime onnx or torch"):
        quantize_int8(fp32, tmp_path / "int8.onnx", model_dir=tiny_bert)


@pytest.mark.slow
@pytest.mark.parametrize("name", [e.short for e in MATRIX if e.short != "all-MiniLM-L6-v2"])
def test_each_matrix_architecture_builds_int8_and_passes_every_gate_class_on_the_same_weights(
        name: str, tmp_path: Path) -> None:
    import onnx

    from inference.build.artifact import read_manifest, unpack
    from inference.build.embeddings import build_embeddings

    entry = layout(name)
    model_dir = make_tiny_model(entry, tmp_path / "model")
    # the gate inside the build compares the artifact's handler with sentence-transformers on these weights, per
    # input class, and fails the build below its bars
    result = build_embeddings(model_dir, tmp_path / "out", runtime="onnx-int8", log=lambda m: None)
    manifest = read_manifest(Path(result.path)).to_dict()
    report = json.loads(Path(result.report).read_text())  # the gate's figures: in the build report beside it
    assert report["quality"]["passed"] is True and report["quality"]["by_class"]
    q = manifest["model"]["quantization"]
    layers = entry.tiny_layers or entry.layers
    assert q["architecture"] == entry.model_type
    assert q["matmul"]["float_outlier_channels"]["layers"] == list(range(layers))  # every FFN found and split
    graph = onnx.load(str(unpack(Path(result.path), tmp_path / "unpacked") / "model-int8.onnx")).graph
    ops = [n.op_type for n in graph.node]
    if entry.model_type == "bert":
        assert ops.count("QAttention") == layers and ops.count("MatMulInteger") == 3 * layers
    else:  # MPNet: q, k, v, attention output, FFN up, FFN down as int8 MatMuls (relative position bias)
        assert "QAttention" not in ops and ops.count("MatMulInteger") == 6 * layers
    assert manifest["model"]["max_seq_length"] == entry.max_seq_length
