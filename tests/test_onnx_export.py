"""ONNX export and int8 quantization (inference/onnx_export.py) of the shipped all-MiniLM-L6-v2 weights.

Checks what the artifact relies on: the exported graph computes what the PyTorch model computes for padded
batches of any size and length (dynamic axes), both steps are byte-deterministic (reproducible artifacts),
the graph's opset / IR version load in the vendored onnxruntime, and int8 keeps the chosen layer in float.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.hub import default_model_path
from inference.onnx_export import BLOCK_SIZE, IR_VERSION, OPSET, export_onnx, quantize_int8


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    return out, export_onnx(default_model_path(), out)


@pytest.fixture(scope="module")
def quantized(exported, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("int8") / "model-int8.onnx"
    return out, quantize_int8(exported[0], out)


def _batch(texts: list[str]) -> dict[str, np.ndarray]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(texts)
    return {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}


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


def test_export_is_byte_deterministic(exported, tmp_path: Path) -> None:
    again = tmp_path / "again.onnx"
    export_onnx(default_model_path(), again)
    assert again.read_bytes() == exported[0].read_bytes()


def test_graph_versions_load_in_the_vendored_runtime(exported, quantized) -> None:
    import onnx

    for path in (exported[0], quantized[0]):
        m = onnx.load(str(path), load_external_data=False)
        assert m.ir_version <= IR_VERSION
        default_domain = {o.domain: o.version for o in m.opset_import}[""]
        assert default_domain == OPSET <= 21  # onnxruntime 1.20 (vendored) runs opsets up to 21


def test_int8_is_deterministic_small_and_quantizes_every_weight_matmul_and_the_embeddings(exported, quantized,
                                                                                         tmp_path: Path) -> None:
    import onnx

    path, settings = quantized
    again = tmp_path / "again.onnx"
    quantize_int8(exported[0], again)
    assert again.read_bytes() == path.read_bytes()
    assert path.stat().st_size < 0.3 * exported[0].stat().st_size
    fp32 = onnx.load(str(exported[0])).graph
    weights = {i.name for i in fp32.initializer}
    weight_matmuls = [n for n in fp32.node if n.op_type == "MatMul" and n.input[1] in weights]
    assert len(weight_matmuls) == 36  # 6 layers x (q, k, v, attention out, FFN up, FFN down)
    graph = onnx.load(str(path)).graph
    nbits = [n for n in graph.node if n.op_type == "MatMulNBits"]
    assert len(nbits) == len(weight_matmuls)
    attrs = {a.name: a.i for a in nbits[0].attribute}
    assert attrs["bits"] == 8 and attrs["block_size"] == BLOCK_SIZE == settings["matmul"]["block_size"]
    eight_bit = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
    tables = {tuple(i.dims) for i in graph.initializer if i.data_type in eight_bit and len(i.dims) == 2}
    assert (30522, 384) in tables  # the word-embedding table, dequantized after the Gather
