"""Export a sentence-transformers encoder to ONNX and quantize it to int8, deterministically.

Choices (measured on all-MiniLM-L6-v2 with the quality gate of inference/quality.py):
- Export with torch.onnx.export's TorchScript exporter (dynamo=False: the dynamo exporter needs onnxscript,
  which is not installed), opset 17 and IR version 8, so the graph loads in the vendored onnxruntime
  (inference/vendor.py pins a release that runs opset <= 21 / IR <= 10). Inputs input_ids, attention_mask
  (+ token_type_ids when the model takes them), dynamic batch and sequence axes; output last_hidden_state.
  Pooling and normalisation stay in NumPy in the handler, so one graph serves every pooling mode.
  Eager attention is used for export so the graph is plain ONNX ops (no SDPA-specific patterns).
- int8: onnxruntime.quantization.quantize_dynamic, per-channel QInt8 weights for every weight MatMul and the
  embedding Gathers (the word-embedding table is half the model: quantizing it takes the file from 58 to
  23 MB). Activations are quantized per call (uint8), as dynamic quantization does. The FFN down-projection
  of the first `keep_fp32_ffn` layers stays float: it is the most sensitive matrix (GELU outputs have large
  outliers), and keeping the first one costs ~1.7 MB while lifting the minimum cosine by ~0.005.
  The ORT transformer optimizer (fused Attention/SkipLayerNorm) gave the same quality and is left out: its
  contrib ops tie the graph to the build's onnxruntime version rather than the vendored one.
- Determinism: same inputs give byte-identical .onnx files (eval mode, fixed dummy inputs, no timestamps in
  the graph; quantize_dynamic is deterministic). tests/test_onnx_export.py checks this.
"""

from __future__ import annotations

import inspect
import logging
import tempfile
from pathlib import Path

OPSET = 17
IR_VERSION = 8
OUTPUT_NAME = "last_hidden_state"


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


def ffn_down_projections(model_path: Path) -> list[str]:
    """Names of the MatMul nodes whose weight maps the FFN's wide intermediate back to hidden size, in order."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model_path)).graph
    shapes = {i.name: numpy_helper.to_array(i).shape for i in graph.initializer}
    out = []
    for node in graph.node:
        if node.op_type == "MatMul" and len(node.input) == 2 and node.input[1] in shapes:
            shape = shapes[node.input[1]]
            if len(shape) == 2 and shape[0] > shape[1]:
                out.append(node.name)
    return out


def quantize_int8(src: Path, dst: Path, *, keep_fp32_ffn: int = 1) -> dict:
    """Dynamic int8 quantization of src into dst; returns the settings used (recorded in the manifest)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep = ffn_down_projections(src)[:keep_fp32_ffn] if keep_fp32_ffn > 0 else []
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # "consider pre-processing" noise
    quantize_dynamic(
        str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gather"], nodes_to_exclude=keep,
        extra_options={"MatMulConstBOnly": True},
    )
    return {"method": "onnxruntime.quantization.quantize_dynamic", "weight_type": "QInt8", "per_channel": True,
            "op_types": ["MatMul", "Gather"], "kept_fp32": keep}
