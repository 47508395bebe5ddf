"""Export a sentence-transformers encoder to ONNX and quantize it to int8, deterministically.

Choices (measured on all-MiniLM-L6-v2 with the quality gate of inference/quality.py):
- Export with torch.onnx.export's TorchScript exporter (dynamo=False: the dynamo exporter needs onnxscript,
  which is not installed), opset 17 and IR version 8, so the graph loads in the vendored onnxruntime
  (inference/vendor.py). Inputs input_ids, attention_mask (+ token_type_ids when the model takes them),
  dynamic batch and sequence axes; output last_hidden_state. Pooling and normalisation stay in NumPy in the
  handler, so one graph serves every pooling mode. Eager attention keeps the graph to plain ONNX ops.
- int8: every weight MatMul becomes com.microsoft.MatMulNBits with 8-bit symmetric weights in blocks of
  128 along K and accuracy_level 4 (int8 compute; activations quantized per block at run time), made by
  onnxruntime's MatMulNBitsQuantizer. The word-embedding table (the Gather on input_ids: 30522 x 384, half the
  weights) becomes com.microsoft.GatherBlockQuantized with 4-bit symmetric codes in blocks of 128 along the
  hidden axis (same quantizer, op_types_to_quantize=Gather); the small position / token-type tables get
  per-channel 8-bit codes from quantize_dynamic (dequantized after the lookup; 4-bit there costs quality for
  ~0.1 MB). 90 MB -> 17.6 MB (16.1 MB gzipped; with an 8-bit word table it was 23.1 MB / 18.5 MB gzipped).
  Measured with the gate corpus (1200 texts; reference sentence-transformers), word table at 8 / 4-bit:
  8-bit: mean cosine 0.9985, min 0.9945, top-10 overlap 0.963; 4-bit blocks of 32: 0.9973 / 0.9917 / 0.948
  (17.3 MB gzipped); 64: 0.9968 / 0.9915 / 0.944 (16.6); 128: 0.9959 / 0.9895 / 0.937 (16.1; 0.9959 /
  0.9894 / 0.935 with the handler on the vendored onnxruntime 1.22.1). 128 is the default: the gate holds
  with margin, and the artifact shrinks from 29.7 to 27.3 MB.
  GatherBlockQuantized needs INT4 tensors, so the quantizer raises the graph to opset 21 / IR 10 (what
  onnxruntime 1.22.1 runs; checked by onnx.checker, the gate and tests/test_vendor.py). The ops of the
  exported graph keep their opset-17 meaning at 21 (no Reduce*/Split/Pad/Resize in it).
  Why not quantize_dynamic for the MatMuls too (the classic recipe, ~1.5x faster at batch 32): its
  per-tensor activation quantization fails the gate on very short inputs -- a lone emoji ([CLS] [UNK]
  [SEP]) reached only cosine 0.966 (gate: min 0.98); keeping all FFN down-projections and layer 0 in float
  still gave only 0.983, at 37 MB. Blockwise activations absorb BERT's outlier channels.
  Why not 4-bit MatMuls (they would reach the 25 MB artifact target): weight error alone fails the gate --
  4-bit blocks of 32 on only the six FFN up-projections gave mean cosine 0.984, min 0.962 (fp32 compute:
  0.985 / 0.965; HQQ blocks of 64: 0.983 / 0.960); all MatMuls 4-bit: 0.961 / 0.903.
  8-bit MatMulNBits needs onnxruntime >= 1.22 at run time (vendor.py pins it).
  The ORT transformer optimizer (fused Attention/SkipLayerNorm) is left out: its contrib ops tie the graph
  to the build's onnxruntime rather than the vendored one, and the session fuses at load (ORT_ENABLE_ALL).
- Determinism: same inputs give byte-identical .onnx files (eval mode, fixed dummy inputs, no timestamps in
  the graph; the quantizers are deterministic). tests/test_onnx_export.py checks this.
"""

from __future__ import annotations

import inspect
import logging
import tempfile
from pathlib import Path

OPSET = 17
IR_VERSION = 8
OUTPUT_NAME = "last_hidden_state"
BLOCK_SIZE = 128
ACCURACY_LEVEL = 4  # MatMulNBits: int8 compute, activations quantized per block at run time
WORD_TABLE_BITS = 4
WORD_TABLE_BLOCK_SIZE = 128
# GatherBlockQuantized's INT4 tensors need opset 21 / IR 10; MatMulNBitsQuantizer raises the graph to these.
INT8_OPSET = 21
INT8_IR_VERSION = 10


def export_onnx(model_dir: Path, out_path: Path, *, opset: int = OPSET) -> list[str]:
    """Export the transformer of a sentence-transformers dir to out_path; returns the graph's input names."""
    import onnx
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    params = inspect.signature(model.forward).parameters
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if "token_type_ids" in params else [])

    class _Encoder(torch.nn.Module):
        """Positional inputs -> last_hidden_state, the only output the handler pools."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

    dummy = tuple(torch.ones(2, 8, dtype=torch.long) if n != "token_type_ids" else torch.zeros(2, 8, dtype=torch.long)
                  for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, OUTPUT_NAME]}
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sls-onnx-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        with torch.no_grad():
            torch.onnx.export(_Encoder(model), dummy, str(raw), dynamo=False, opset_version=opset,
                              input_names=names, output_names=[OUTPUT_NAME], dynamic_axes=axes,
                              do_constant_folding=True)
        graph = onnx.load(str(raw))
    graph.ir_version = min(graph.ir_version, IR_VERSION)
    onnx.checker.check_model(graph)
    onnx.save(graph, str(out_path))
    return names


def _word_table_gathers(model) -> list[str]:
    """Names of the Gather nodes that look up a graph input (input_ids) in an initializer: the vocabulary table."""
    inits = {i.name for i in model.graph.initializer}
    return [n.name for n in model.graph.node
            if n.op_type == "Gather" and n.input[0] in inits and n.input[1] == "input_ids"]


def quantize_int8(src: Path, dst: Path, *, block_size: int = BLOCK_SIZE,
                  word_table_block_size: int = WORD_TABLE_BLOCK_SIZE) -> dict:
    """8-bit blockwise weight MatMuls, a 4-bit blockwise word table, 8-bit other tables; returns the settings."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # "consider pre-processing" noise
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.ERROR)  # opset-21 notice
    config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=True, accuracy_level=ACCURACY_LEVEL,
                                          bits=8)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), bits=8, block_size=block_size, is_symmetric=True,
                                     accuracy_level=ACCURACY_LEVEL, algo_config=config)
    quantizer.process()
    word = _word_table_gathers(quantizer.model.model)
    if len(word) != 1:
        raise ValueError(f"{src}: expected one Gather of input_ids in a weight table (the word embeddings), "
                         f"found {word or 'none'}")
    with tempfile.TemporaryDirectory(prefix="sls-int8-") as tmp:
        matmuls, tables = Path(tmp) / "matmul-int8.onnx", Path(tmp) / "tables-int8.onnx"
        quantizer.model.save_model_to_file(str(matmuls), use_external_data_format=False)
        quantize_dynamic(str(matmuls), str(tables), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["Gather"], nodes_to_exclude=word)
        model = onnx.load(str(tables))
    # After quantize_dynamic the other tables are uint8 Gathers; only the word table is still a float Gather.
    others = [n.name for n in model.graph.node if n.op_type == "Gather" and n.name not in word]
    gather_config = DefaultWeightOnlyQuantConfig(block_size=word_table_block_size, is_symmetric=True,
                                                 bits=WORD_TABLE_BITS, op_types_to_quantize=("Gather",),
                                                 quant_axes=(("Gather", 1),))
    gathers = MatMulNBitsQuantizer(model, algo_config=gather_config, nodes_to_exclude=others)
    gathers.process()
    out = gathers.model.model
    if [n.name for n in out.graph.node if n.op_type == "GatherBlockQuantized"] != [f"{word[0]}_Q4"]:
        raise ValueError(f"{src}: the word-embedding table {word[0]} was not block-quantized")
    versions = ({o.domain: o.version for o in out.opset_import}.get(""), out.ir_version)
    if versions != (INT8_OPSET, INT8_IR_VERSION):
        raise ValueError(f"quantized graph has opset / IR {versions}, expected {(INT8_OPSET, INT8_IR_VERSION)} "
                         "(what the vendored onnxruntime runs, inference/vendor.py)")
    onnx.checker.check_model(out)
    onnx.save(out, str(dst))
    return {"matmul": {"method": "onnxruntime MatMulNBitsQuantizer (com.microsoft.MatMulNBits)", "bits": 8,
                       "block_size": block_size, "symmetric": True, "accuracy_level": ACCURACY_LEVEL},
            "word_embeddings": {"method": "onnxruntime MatMulNBitsQuantizer (com.microsoft.GatherBlockQuantized)",
                                "bits": WORD_TABLE_BITS, "block_size": word_table_block_size, "symmetric": True},
            "gather": {"method": "onnxruntime.quantization.quantize_dynamic", "bits": 8, "per_channel": True,
                       "nodes": "the other embedding tables (position, token type)"}}
