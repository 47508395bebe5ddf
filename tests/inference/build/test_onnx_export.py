"""ONNX export and int8 quantization (inference/build/onnx_export.py) of the shipped all-MiniLM-L6-v2 weights.

Checks what the artifact relies on: the exported graph computes what the PyTorch model computes for padded
batches of any size and length (dynamic axes), both steps are byte-deterministic (reproducible artifacts),
the graph's opset / IR version load in the vendored onnxruntime, the int8 recipe has the shape its docstring
promises (fused attention, u8s8 MatMuls, float outlier channels, int8 tables without unreachable rows), and
the vocabulary pruning drops only ids the tokenizer cannot emit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.build.hub import default_model_path
from inference.build.onnx_export import (
    IR_VERSION,
    OPSET,
    OUTLIER_CHANNELS,
    export_onnx,
    quantize_int8,
    reachable_token_ids,
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    return out, export_onnx(default_model_path(), out)


@pytest.fixture(scope="module")
def quantized(exported, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("int8") / "model-int8.onnx"
    return out, quantize_int8(exported[0], out, model_dir=default_model_path())


def _batch(texts: list[str]) -> dict[str, np.ndarray]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(texts)
    return {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}


@pytest.mark.slow
def test_export_matches_pytorch_for_padded_batches_of_any_shape(exported) -> None:
    import onnxruntime as ort
    import torch
    from transformers import AutoModel

    path, names = exported
    assert names == ["input_ids", "attention_mask", "token_type_ids"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model = AutoModel.from_pretrained(str(default_model_path())).eval()
    for texts in (["one"], ["a short one", "a much longer sentence with quite a few more words in it " * 3,
                            "mid length text here"]):
        feeds = _batch(texts)
        got = session.run(None, feeds)[0]
        with torch.no_grad():
            want = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state.numpy()
        assert got.shape == want.shape == (len(texts), feeds["input_ids"].shape[1], 384)
        real = feeds["attention_mask"].astype(bool)  # padded positions are masked out by pooling
        assert np.abs(got[real] - want[real]).max() < 1e-3


@pytest.mark.slow
def test_export_is_byte_deterministic(exported, tmp_path: Path) -> None:
    again = tmp_path / "again.onnx"
    export_onnx(default_model_path(), again)
    assert again.read_bytes() == exported[0].read_bytes()


@pytest.mark.slow
def test_graph_versions_load_in_the_vendored_runtime(exported, quantized) -> None:
    import onnx

    for path in (exported[0], quantized[0]):
        m = onnx.load(str(path), load_external_data=False)
        assert m.ir_version <= IR_VERSION
        default_domain = {o.domain: o.version for o in m.opset_import}[""]
        assert default_domain == OPSET <= 21  # onnxruntime 1.20 (vendored) runs opsets up to 21


@pytest.mark.slow
def test_int8_is_deterministic_small_and_runs_every_weight_matmul_on_u8s8_kernels(exported, quantized,
                                                                                tmp_path: Path) -> None:
    import onnx

    path, settings = quantized
    again = tmp_path / "again.onnx"
    quantize_int8(exported[0], again, model_dir=default_model_path())
    assert again.read_bytes() == path.read_bytes()
    assert path.stat().st_size < 0.3 * exported[0].stat().st_size
    fp32 = onnx.load(str(exported[0])).graph
    weights = {i.name for i in fp32.initializer}
    assert len([n for n in fp32.node if n.op_type == "MatMul" and n.input[1] in weights]) == 36  # 6 x (q k v o up down)
    graph = onnx.load(str(path)).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("QAttention") == 6  # q/k/v projections + attention, int8, one kernel per layer
    assert ops.count("MatMulInteger") == 18  # attention out, FFN up, FFN down (fused to DynamicQuantizeMatMul)
    assert ops.count("SkipLayerNormalization") == 12
    assert "MatMulNBits" not in ops  # the vendored onnxruntime 1.20 has no 8-bit kernel for it
    split = settings["matmul"]["float_outlier_channels"]["layers"]
    assert split == [0, 1, 2, 3, 4, 5]  # every FFN: one-word texts need layers 3-5 split too (docs/int8-recipe.md)
    floats = [n for n in graph.node if n.op_type == "MatMul" and n.name.endswith("_float")]
    assert len(floats) == 2 * len(split)  # each split layer: a float up- and down-projection of its outliers
    halves = {i.name: tuple(i.dims) for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT16}
    casts = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Cast"}
    assert sorted(halves[casts[n.input[1]]] for n in floats) == \
        sorted([(384, OUTLIER_CHANNELS), (OUTLIER_CHANNELS, 384)] * len(split))
    # FFN-up inputs of all 6 layers, attention inputs of layers 3-5 (the others have no dominant channel)
    smooth_muls = [n for n in graph.node if n.op_type == "Mul" and n.name.startswith("sls_smooth_")]
    assert settings["matmul"]["smoothed_inputs"] == 9 == len(smooth_muls)
    int8 = onnx.TensorProto.INT8
    int8_tables = {tuple(i.dims) for i in graph.initializer if i.data_type == int8 and len(i.dims) == 2}
    word = settings["embedding_tables"]["inner.embeddings.word_embeddings.weight"]
    assert (word["rows"], 384) in int8_tables and word["of"] == 30522
    positions = settings["embedding_tables"]["inner.embeddings.position_embeddings.weight"]
    assert (positions["rows"], positions["of"]) == (256, 512)  # max_seq_length 256: no text reaches row 256
    assert not [i for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) == 2
                and i.dims[0] >= 512]  # no float table or float weight matrix left, but the outlier rows


@pytest.fixture(scope="module")
def fused(exported) -> tuple:
    """The fused float graph, its FFN down-projections and the calibration maxima of every smoothing / split
    candidate's input."""
    from inference.build.onnx_export import _calibration_texts, _fuse, _gelu_fed, _input_absmax, _layernorm_fed

    model = _fuse(exported[0], num_heads=12, hidden_size=384)
    downs = _gelu_fed(model)
    tensors = sorted({n.input[0] for n in downs + _layernorm_fed(model)})
    tokenizer_file = default_model_path() / "tokenizer.json"
    return model, downs, _input_absmax(model, tensors, tokenizer_file, _calibration_texts())


@pytest.mark.slow
@pytest.mark.parametrize(("ratio", "smoothed"), [(0.0, 12), (4.5, 9), (1e9, 0)])
def test_smoothing_is_exact_in_float_and_applies_where_a_channel_dominates(fused, monkeypatch: pytest.MonkeyPatch,
                                                                            ratio: float, smoothed: int) -> None:
    import onnx

    import inference.build.onnx_export as onnx_export

    model, _, amax = fused
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    monkeypatch.setattr(onnx_export, "SMOOTH_RATIO", ratio)
    assert onnx_export._smooth(copy, onnx_export._layernorm_fed(copy), amax) == smoothed
    assert len([n for n in copy.graph.node if n.op_type == "Mul" and n.name.startswith("sls_smooth_")]) == smoothed
    feeds = _batch(["🙂", "A completely ordinary sentence about the weather.", "x " * 300])
    real = feeds["attention_mask"].astype(bool)
    want = _run(model, feeds)
    assert np.abs(_run(copy, feeds) - want)[real].max() < 1e-4 * np.abs(want).max()


def _run(model, feeds: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


@pytest.mark.slow
def test_outlier_split_is_exact_in_float_and_splits_every_ffn_by_default(fused) -> None:
    import onnx

    from inference.build.onnx_export import _split_outliers

    model, downs, amax = fused
    feeds = _batch(["🙂", "A completely ordinary sentence about the weather.", "x " * 300])
    real = feeds["attention_mask"].astype(bool)
    want = _run(model, feeds)
    pooled = {}
    for half in (False, True):
        split_model = onnx.ModelProto()
        split_model.CopyFrom(model)
        assert _split_outliers(split_model, downs, amax, half=half) == [0, 1, 2, 3, 4, 5]  # OUTLIER_RATIO 0
        ops = [n.op_type for n in split_model.graph.node]
        assert ops.count("FastGelu") == 6 + 6 and "Gather" not in set(ops) - {n.op_type for n in model.graph.node}
        got = _run(split_model, feeds)
        if not half:  # float32 weights: the same function, up to float rounding
            assert np.abs(got - want)[real].max() < 1e-4
        mask = real[:, :, None]
        v = (got * mask).sum(axis=1) / mask.sum(axis=1)
        pooled[half] = v / np.linalg.norm(v, axis=1, keepdims=True)
    w = (want * real[:, :, None]).sum(axis=1)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    assert ((pooled[True] * w).sum(axis=1) > 0.99999).all()  # float16 outlier weights: no visible change


@pytest.mark.slow
@pytest.mark.parametrize(("ratio", "layers"), [(1.0, [0, 1, 2, 3, 4, 5]), (1e9, [])])
def test_outlier_ratio_decides_which_layers_split(fused, monkeypatch: pytest.MonkeyPatch, ratio: float,
                                                  layers: list[int]) -> None:
    import onnx

    import inference.build.onnx_export as onnx_export

    model, downs, amax = fused
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    monkeypatch.setattr(onnx_export, "OUTLIER_RATIO", ratio)
    assert onnx_export._split_outliers(copy, downs, amax) == layers
    # per split layer: up / GELU / down (3 nodes) become two such triples, 2 Casts and an Add (9)
    assert len(copy.graph.node) == len(model.graph.node) + 6 * len(layers)


@pytest.mark.slow
def test_int8_weights_use_the_coarse_grid_that_makes_them_compress(quantized) -> None:
    import onnx
    from onnx import numpy_helper

    from inference.build.onnx_export import WEIGHT_LEVELS

    graph = onnx.load(str(quantized[0])).graph
    inits = {i.name: i for i in graph.initializer}
    matmul_weights = [numpy_helper.to_array(inits[n.input[1]]) for n in graph.node
                      if n.op_type in ("MatMulInteger", "QAttention")]
    assert len(matmul_weights) == 24
    distinct = max(len(np.unique(w[:, j])) for w in matmul_weights for j in range(0, w.shape[1], 97))
    assert distinct <= 2 * WEIGHT_LEVELS + 1 < 255


@pytest.mark.slow
def test_int8_weight_codes_cannot_saturate_avx2_u8s8_kernels(quantized) -> None:
    """Without VNNI, onnxruntime's u8s8 GEMM adds two uint8 x int8 products in int16 (vpmaddubsw): 255 * 127 * 2
    overflows it and the answers drift (the quality gate fails on such CPUs). Codes within +-64 cannot."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(quantized[0])).graph
    inits = {i.name: i for i in graph.initializer}
    int8_ops = ("MatMulInteger", "QAttention")
    weights = [numpy_helper.to_array(inits[n.input[1]]) for n in graph.node if n.op_type in int8_ops]
    assert len(weights) == 24
    assert all(w.dtype == np.int8 for w in weights)
    assert max(int(np.abs(w.astype(np.int32)).max()) for w in weights) * 255 * 2 <= np.iinfo(np.int16).max


@pytest.mark.slow
def test_int8_embeddings_match_the_float_graph_closely_on_unseen_texts(exported, quantized) -> None:
    import onnxruntime as ort

    texts = ["🙂", "A completely ordinary sentence about the weather.", "SELECT * FROM t WHERE id = 42;",
             "Ceci n'est pas une pipe, c'est une phrase en français.", "x " * 300]
    pooled = []
    for path in (exported[0], quantized[0]):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        # one text per call, as the handler runs int8 (activation scales are per call)
        v = np.array([session.run(None, _batch([t]))[0][0].mean(axis=0) for t in texts])
        pooled.append(v / np.linalg.norm(v, axis=1, keepdims=True))
    cosines = (pooled[0] * pooled[1]).sum(axis=1)
    assert cosines.min() > 0.98, cosines


def test_pruned_vocabulary_keeps_every_id_the_tokenizer_emits() -> None:
    from tokenizers import Tokenizer

    from inference.build.corpus import generate_corpus
    from inference.tools.bench import bench_texts

    tokenizer_file = default_model_path() / "tokenizer.json"
    keep = set(reachable_token_ids(tokenizer_file))
    tok = Tokenizer.from_file(str(tokenizer_file))
    vocab = tok.get_vocab()
    assert 1000 < len(vocab) - len(keep) < 2000  # [unusedN] (994) + continuations of punctuation / CJK (337)
    assert {vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##ing", "国", "!")} <= keep
    assert not {vocab[t] for t in ("[unused0]", "[unused993]", "##!", "##子")} & keep
    texts = generate_corpus(1200) + bench_texts() + [piece.removeprefix("##") for piece in vocab] \
        + ["[unused5] é Ünïcödé ﬁ ½ 国家 ##ing pre-trained", "".join(chr(c) for c in range(0x20, 0x3000, 7))]
    emitted = {i for e in tok.encode_batch(texts) for i in e.ids}
    assert emitted <= keep, sorted(emitted - keep)[:10]


def test_int8_refuses_a_config_it_cannot_fuse_and_says_what_to_use(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "distilbert", "n_heads": 12, "dim": 768}')
    with pytest.raises(ValueError, match=r"does not know architecture 'distilbert'.*--runtime onnx or torch"):
        quantize_int8(tmp_path / "unused.onnx", tmp_path / "out.onnx", model_dir=tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert", "hidden_size": 384}')  # a known one, incomplete
    with pytest.raises(ValueError, match=r"needs num_attention_heads, num_hidden_layers .*'bert'.*--runtime onnx"):
        quantize_int8(tmp_path / "unused.onnx", tmp_path / "out.onnx", model_dir=tmp_path)
