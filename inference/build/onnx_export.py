"""Export a sentence-transformers encoder to ONNX and quantize it to int8, deterministically.

Why: the onnx runtimes serve without torch (a small artifact, a fast cold start), and onnx-int8 is about 3x
faster than float on CPU through onnxruntime's u8s8 kernels. Plain dynamic quantization fails the quality gate
on BERT's outlier activation channels, so quantize_int8 first fuses the graph, smooths the LayerNorm-fed
inputs, runs the outlier FFN channels in float and quantizes the embedding tables per row; the measurements
behind each step and the alternatives that were dropped are in docs/int8-recipe.md. Every step is
deterministic (calibration maxima are rounded), so the same inputs give byte-identical graphs.
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



# --------------------------------------------------------------------------------------------- int8
# Knobs of the int8 recipe (each chosen against the quality gate: docs/int8-recipe.md). Changing one changes bytes.
SMOOTH_ALPHA = 0.75         # SmoothQuant migration strength for LayerNorm-fed MatMuls
SMOOTH_RATIO = 4.5          # ... applied where a LayerNorm output's largest channel >= 4.5 x its median one
OUTLIER_CHANNELS = 32       # FFN intermediate channels computed in float, per split layer
OUTLIER_RATIO = 0.0         # split a layer's FFN when its largest channel > this x the largest ordinary one (0: all)
WEIGHT_LEVELS = 63          # int8 weights on a grid of +-63 steps per output column (7-bit entropy)
TABLE_STEP = 0.2            # embedding-table step = 0.2 x the row's standard deviation
CALIBRATION_TEXTS = 300     # inference.build.corpus texts, with a seed the quality gate does not use
CALIBRATION_SEED = 20251125
_FLOAT = 1  # onnx.TensorProto.FLOAT
# model_type -> what the fusion gives on its graph (checked per build by _check_graph). BERT: Attention with
# packed q/k/v (-> QAttention); MPNet adds a relative position bias to the attention scores, which the
# Attention fusion does not match, so q/k/v stay three MatMuls (-> DynamicQuantizeMatMul); both get
# SkipLayerNormalization and FastGelu.
INT8_ARCHITECTURES = {
    "bert": "Attention, SkipLayerNormalization, FastGelu",
    "mpnet": "q/k/v MatMuls (relative position bias), SkipLayerNormalization, FastGelu",
}


def quantize_int8(src: Path, dst: Path, *, model_dir: Path) -> dict:
    """fp32 graph -> fused, smoothed, int8 graph for onnxruntime's u8s8 kernels; returns the settings used.

    model_dir gives config.json (heads, hidden size) and tokenizer.json (calibration, reachable vocabulary).
    """
    import json

    import onnx

    config = json.loads((Path(model_dir) / "config.json").read_text())
    arch = config.get("model_type")
    if arch not in INT8_ARCHITECTURES:
        raise ValueError(f"the onnx-int8 recipe does not know architecture {arch!r} "
                         f"({Path(model_dir) / 'config.json'} model_type); it knows "
                         f"{', '.join(INT8_ARCHITECTURES)}. Build this model with --runtime onnx or torch")
    missing = [k for k in ("num_attention_heads", "hidden_size", "num_hidden_layers")
               if not isinstance(config.get(k), int)]
    if missing:
        raise ValueError(f"onnx-int8 needs {', '.join(missing)} (integers) in {Path(model_dir) / 'config.json'} "
                         f"(model_type {arch!r}): build this model with --runtime onnx or torch")
    tokenizer_file = Path(model_dir) / "tokenizer.json"
    model = _fuse(src, num_heads=config["num_attention_heads"], hidden_size=config["hidden_size"])
    smooth_targets, split_targets = _layernorm_fed(model), _gelu_fed(model)
    _check_graph(model, arch, config["num_hidden_layers"], smooth_targets, split_targets)
    # One calibration pass for both steps: smoothing is exact in float, so it leaves the GELU outputs alone.
    amax = _input_absmax(model, sorted({n.input[0] for n in smooth_targets + split_targets}), tokenizer_file,
                         _calibration_texts())
    smoothed = _smooth(model, smooth_targets, amax)
    split = _split_outliers(model, split_targets, amax)
    tables = _int8_tables(model, tokenizer_file, positions=_reachable_positions(Path(model_dir), config))
    _coarsen_weights(model)
    with tempfile.TemporaryDirectory(prefix="sls-int8-") as tmp:
        mid = Path(tmp) / "prepared.onnx"
        onnx.save(model, str(mid))
        _quantize_matmuls(mid, Path(dst))
    return {"architecture": arch,
            "fusion": "onnxruntime.transformers.optimizer (" + INT8_ARCHITECTURES[arch] + "; embedding LayerNorm "
                      "left unfused so the tables stay quantizable)",
            "matmul": {"method": "onnxruntime.quantization.quantize_dynamic (QAttention, DynamicQuantizeMatMul: "
                                 "uint8 activations per tensor at run time, int8 weights per output column, "
                                 "7-bit range)",
                       "weight_levels": WEIGHT_LEVELS, "smoothquant_alpha": SMOOTH_ALPHA,
                       "smoothed_inputs": smoothed,
                       "float_outlier_channels": {"per_layer": OUTLIER_CHANNELS, "layers": split,
                                                  "ratio": OUTLIER_RATIO}},
            "embedding_tables": tables,
            "calibration": {"texts": CALIBRATION_TEXTS, "corpus": "inference.build.corpus.generate_corpus",
                            "seed": CALIBRATION_SEED}}


def _check_graph(model, arch: str, layers: int, layernorm_fed: list, gelu_fed: list) -> None:
    """Every recipe step must find its targets in this architecture's graph, one per layer; else say which.

    The steps find their targets by graph structure (a weight MatMul fed by a LayerNorm, by a GELU), not by
    node names, so a graph the fusions did not match shows up here as a count, naming the architecture.
    """
    projections = sum(3 if n.op_type == "Attention" else 1 for n in _weight_matmuls(model))
    found = {"weight MatMuls (q, k, v, attention output, FFN up, FFN down per layer)": (projections, 6 * layers),
             "LayerNorm-fed MatMuls (at least the FFN up-projection per layer)": (len(layernorm_fed), layers),
             "GELU-fed MatMuls (the FFN down-projection per layer)": (len(gelu_fed), layers)}
    wrong = [f"{what}: found {got}, expected {'at least ' if 'at least' in what else ''}{want}"
             for what, (got, want) in found.items()
             if got < want or (got != want and "at least" not in what)]
    if wrong:
        raise ValueError(f"the onnx-int8 recipe does not match the {arch} graph of this model ({layers} layers): "
                         f"{'; '.join(wrong)}. Build it with --runtime onnx or torch")


def _reachable_positions(model_dir: Path, config: dict) -> tuple[int, int] | None:
    """(rows of the position table, rows a text can reach) or None when the model does not say.

    The handler truncates every text to max_seq_length tokens; position ids run from 0 (BERT) or from 2
    (RoBERTa / MPNet: padding index 1, + 1), so the rows above cannot be looked up.
    """
    import json

    st_config = Path(model_dir) / "sentence_bert_config.json"
    table = config.get("max_position_embeddings")
    if not st_config.is_file() or not isinstance(table, int):
        return None
    max_len = json.loads(st_config.read_text()).get("max_seq_length")
    if not isinstance(max_len, int):
        return None
    # transformers' MPNet / RoBERTa embeddings count positions from padding index 1 (MPNet hard-codes it): a text
    # of n tokens looks up rows 2 .. n + 1
    offset = 2 if config.get("model_type") in ("mpnet", "roberta") else 0
    return table, min(table, max_len + offset)


def _calibration_texts() -> list[str]:
    from inference.build.corpus import SEED, generate_corpus

    assert CALIBRATION_SEED != SEED, "calibration must not use the quality gate's corpus"
    return generate_corpus(CALIBRATION_TEXTS, seed=CALIBRATION_SEED)


def _fuse(src: Path, *, num_heads: int, hidden_size: int):
    """ORT's transformer optimizer: attention and LayerNorm fusions (fewer, bigger kernels per layer)."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.use_multi_head_attention = False  # Attention: packed q/k/v weights, which quantize to QAttention
    options.enable_embed_layer_norm = False  # EmbedLayerNormalization would take the tables in float
    options.enable_gelu_approximation = True  # FastGelu (GELU's tanh form): faster, same gate figures
    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
    optimized = optimize_model(str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                               optimization_options=options, opt_level=0, use_gpu=False)
    model = optimized.model
    if not any(o.domain == "com.microsoft" for o in model.opset_import):  # what OnnxModel.save would add
        model.opset_import.add(domain="com.microsoft", version=1)
    return model


def _weight_matmuls(model) -> list:
    """MatMuls with a constant weight, and fused Attention nodes (input 1: the packed q/k/v weight)."""
    inits = {i.name for i in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type in ("MatMul", "Attention") and n.input[1] in inits]


def _producers(model) -> dict:
    return {out: n for n in model.graph.node for out in n.output}


def _layernorm_fed(model) -> list:
    """Weight MatMuls / Attention whose input a LayerNorm produces (SmoothQuant's targets)."""
    producers = _producers(model)
    norms = ("LayerNormalization", "SkipLayerNormalization")
    return [n for n in _weight_matmuls(model) if n.input[0] in producers and producers[n.input[0]].op_type in norms]


def _gelu_fed(model) -> list:
    """Weight MatMuls whose input a GELU produces: the FFN down-projections (the outlier split's targets)."""
    producers = _producers(model)
    gelus = ("BiasGelu", "Gelu", "FastGelu")
    return [n for n in _weight_matmuls(model)
            if n.op_type == "MatMul" and n.input[0] in producers and producers[n.input[0]].op_type in gelus]


def _input_absmax(model, tensors: list[str], tokenizer_file: Path, texts: list[str]) -> dict:
    """Per-channel max |x| of the named float tensors over the calibration texts (one text per run: no padding).

    Rounded to 3 significant digits so that float noise between machines cannot change the artifact's bytes.
    """
    import numpy as np
    import onnx
    import onnxruntime as ort
    from tokenizers import Tokenizer

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    have = {o.name for o in probe.graph.output}
    probe.graph.output.extend(onnx.helper.make_tensor_value_info(t, _FLOAT, None) for t in tensors if t not in have)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    tok = Tokenizer.from_file(str(tokenizer_file))
    tok.no_padding()
    tok.enable_truncation(512)
    amax = {t: np.zeros(0, dtype=np.float32) for t in tensors}
    for text in texts:
        e = tok.encode(text)
        feeds = {"input_ids": [e.ids], "attention_mask": [e.attention_mask], "token_type_ids": [e.type_ids]}
        outs = session.run(tensors, {k: np.array(v, dtype=np.int64) for k, v in feeds.items() if k in names})
        for t, v in zip(tensors, outs, strict=True):
            a = np.abs(v.reshape(-1, v.shape[-1])).max(axis=0)
            amax[t] = a if amax[t].size == 0 else np.maximum(amax[t], a)
    return {t: np.array([float(f"{x:.3g}") for x in a], dtype=np.float64) for t, a in amax.items()}


def _insert_after_producers(model, new_nodes: list) -> None:
    """Insert each node right after the node producing its first input (one pass: protobuf copies on extend)."""
    nodes = list(model.graph.node)
    for new in new_nodes:
        at = next((i + 1 for i, n in enumerate(nodes) if new.input[0] in n.output), 0)
        nodes.insert(at, new)
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def _set_init(model, name: str, array) -> None:
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            init.CopyFrom(numpy_helper.from_array(array, name))
            return
    model.graph.initializer.append(numpy_helper.from_array(array, name))


def _smooth(model, fed: list, amax: dict) -> int:
    """SmoothQuant (Xiao et al. 2022) for MatMuls fed by a LayerNorm: x/s and diag(s) W, exact in float.

    BERT's LayerNorm outputs carry a few outlier channels; per-tensor uint8 activations would spend their
    range on them. s_j = max|x_j|^a / max|W_j|^(1-a) moves that range into the (per-column) weights. The
    LayerNorm output also feeds the residual, so the 1/s is an explicit Mul in front of the MatMuls rather
    than folded into the LayerNorm; as each Mul costs time, only outputs whose largest channel reaches
    SMOOTH_RATIO x their median channel are smoothed. Returns the number of smoothed tensors.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    tensors = sorted(x for x in {n.input[0] for n in fed} if amax[x].max() >= SMOOTH_RATIO * np.median(amax[x]))
    inits = {i.name: i for i in model.graph.initializer}
    muls = []
    for i, x in enumerate(tensors):
        consumers = [n for n in fed if n.input[0] == x]
        weights = [numpy_helper.to_array(inits[n.input[1]]) for n in consumers]
        wmax = np.max([np.abs(w).max(axis=1) for w in weights], axis=0)
        s = np.power(np.maximum(amax[x], 1e-5), SMOOTH_ALPHA) / np.power(np.maximum(wmax, 1e-5), 1 - SMOOTH_ALPHA)
        inv_name, out = f"sls_smooth_{i}_inv", f"{x}_smoothed"
        _set_init(model, inv_name, (1.0 / s).astype(np.float32))
        for n, w in zip(consumers, weights, strict=True):
            _set_init(model, n.input[1], (w * s[:, None]).astype(np.float32))
            n.input[0] = out
        muls.append(helper.make_node("Mul", [x, inv_name], [out], name=f"sls_smooth_{i}"))
    _insert_after_producers(model, muls)
    return len(tensors)


def _split_outliers(model, targets: list, amax: dict, *, half: bool = True) -> list[int]:
    """FFNs with outlier channels: those OUTLIER_CHANNELS intermediate channels become a small float FFN.

    FFN(x) = gelu(x Wu + bu) Wd. A few intermediate channels (after GELU) reach ~5x the range of every other
    one, and a per-tensor uint8 activation would spend its range on them. Splitting the FFN by intermediate
    channel is exact in float: gelu(x Wu[:, k] + bu[k]) Wd[k] (int8) + gelu(x Wu[:, o] + bu[o]) Wd[o] (float,
    for MiniLM a [., 384] x [384, 32] and a [., 32] x [32, 384] product) -- LLM.int8()'s decomposition with
    calibrated, fixed channels, without a mask or gather pass over the [., 1536] activations. Only layers whose
    largest channel exceeds OUTLIER_RATIO x the largest ordinary one are split (0: every layer, which one-word
    texts need: docs/int8-recipe.md, "Short inputs"). The
    float weights are stored as float16 (half=True) behind a Cast, which onnxruntime folds at load (a smaller
    artifact). Returns the indices of the layers split.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    producers = _producers(model)
    nodes = list(model.graph.node)
    split = []
    for i, down in enumerate(targets):
        gelu = producers[down.input[0]]
        up = producers.get(gelu.input[0])
        if up is None or up.op_type != "MatMul" or up.input[1] not in inits:
            continue
        a = np.sort(amax[down.input[0]])[::-1]
        if a.size <= OUTLIER_CHANNELS or a[0] < OUTLIER_RATIO * a[OUTLIER_CHANNELS]:
            continue
        wu, wd = numpy_helper.to_array(inits[up.input[1]]), numpy_helper.to_array(inits[down.input[1]])
        bias = numpy_helper.to_array(inits[gelu.input[1]]) if len(gelu.input) > 1 and gelu.input[1] else None
        out = np.sort(np.argsort(-amax[down.input[0]], kind="stable")[:OUTLIER_CHANNELS])
        keep = np.setdiff1d(np.arange(wd.shape[0]), out)
        base = f"sls_outlier_{i}"
        layer = {"up": up, "gelu": gelu, "down": down, "wu": wu, "wd": wd, "bias": bias}
        ordinary = _ffn_part(model, layer, base, "int8", keep, half=False)
        outliers = _ffn_part(model, layer, base, "outlier", out, half=half)
        replacement = ordinary + outliers + [helper.make_node(
            "Add", [ordinary[-1].output[0], outliers[-1].output[0]], [down.output[0]], name=f"{base}_add")]
        nodes[nodes.index(up):nodes.index(up) + 1] = replacement
        nodes.remove(gelu)
        nodes.remove(down)
        split.append(i)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    # the replaced weights, unless another node shares them (an exporter merges identical initializers, e.g.
    # the all-zero biases of a freshly initialised model)
    used = {x for n in model.graph.node for x in n.input}
    for init in [t for t in model.graph.initializer if t.name not in used]:
        model.graph.initializer.remove(init)
    return split


def _ffn_part(model, layer: dict, base: str, part: str, idx, *, half: bool) -> list:
    """Nodes of a layer's FFN restricted to the intermediate channels idx, its output last (weights: float16
    behind a Cast if half). Part "int8" keeps the original MatMul names (quantized later); any other part's
    MatMuls are named <original>_<part>_float, which _quantize_matmuls and _coarsen_weights leave in float."""
    import numpy as np
    from onnx import TensorProto, helper

    up, gelu, down = layer["up"], layer["gelu"], layer["down"]
    prefix, suffix = f"{base}_{part}", "" if part == "int8" else "_float"
    made = []
    for key, w in (("wu", layer["wu"][:, idx]), ("wd", layer["wd"][idx])):
        if half:
            _set_init(model, f"{prefix}_{key}_f16", w.astype(np.float16))
            made.append(helper.make_node("Cast", [f"{prefix}_{key}_f16"], [f"{prefix}_{key}"], to=TensorProto.FLOAT,
                                         name=f"{prefix}_{key}_cast"))
        else:
            _set_init(model, f"{prefix}_{key}", w.astype(np.float32))
    gelu_inputs = [f"{prefix}_u"]
    if layer["bias"] is not None:
        _set_init(model, f"{prefix}_bias", layer["bias"][idx].astype(np.float32))
        gelu_inputs.append(f"{prefix}_bias")
    return made + [
        helper.make_node("MatMul", [up.input[0], f"{prefix}_wu"], [f"{prefix}_u"], name=f"{up.name}_{part}{suffix}"),
        helper.make_node(gelu.op_type, gelu_inputs, [f"{prefix}_g"], domain=gelu.domain, name=f"{gelu.name}_{part}"),
        helper.make_node("MatMul", [f"{prefix}_g", f"{prefix}_wd"], [f"{prefix}_y"],
                         name=f"{down.name}_{part}{suffix}"),
    ]


def reachable_token_ids(tokenizer_file: Path) -> list[int]:
    """Vocabulary ids the tokenizer can emit: the word table keeps only these rows.

    BERT-style WordPiece vocabularies carry entries no input can produce: [unusedN] slots (the pre-tokenizer
    splits brackets off), accented forms (the normalizer strips accents), '##' continuations of characters
    the pre-tokenizer always isolates (punctuation, CJK). A piece is kept when normalizing and
    pre-tokenizing it (a continuation after a letter) leaves it one unchanged word; special tokens are
    always kept. Tokenizers without a normalizer/pre-tokenizer keep every id.
    """
    import json

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    spec = json.loads(tok.to_str())
    vocab = tok.get_vocab(with_added_tokens=True)
    prefix = (spec.get("model") or {}).get("continuing_subword_prefix") or "##"
    if tok.normalizer is None or tok.pre_tokenizer is None or (spec.get("model") or {}).get("type") != "WordPiece":
        return sorted(vocab.values())
    added = {t["content"] for t in spec.get("added_tokens", [])}

    def one_word(text: str) -> bool:
        words = tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(text))
        return len(words) == 1 and words[0][0] == text

    keep = []
    for piece, i in vocab.items():
        if piece in added:
            keep.append(i)
        elif piece.startswith(prefix) and len(piece) > len(prefix):
            if one_word("a" + piece[len(prefix):]):
                keep.append(i)
        elif one_word(piece):
            keep.append(i)
    return sorted(keep)


def _int8_tables(model, tokenizer_file: Path, positions: tuple[int, int] | None = None) -> dict:
    """Embedding tables -> int8 rows with a float scale per row (Gather -> Cast -> Mul by the row's scale).

    Step = TABLE_STEP x the row's standard deviation (at least max|row|/127): every row gets the same relative
    precision, and gzip stores the codes at their entropy (~5 bits). The word table keeps only reachable rows
    (reachable_token_ids); input_ids are remapped by a Gather first, so every input the tokenizer can emit
    looks up exactly the row it did before. positions = (table rows, reachable rows): the position table (the
    other table with that many rows) keeps its first reachable rows (_reachable_positions).
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    graph_inputs = {i.name for i in model.graph.input}
    _set_init(model, "sls_last_axis", np.array([-1], dtype=np.int64))
    nodes, report = [], {}
    for n in model.graph.node:
        table = inits.get(n.input[0]) if n.op_type == "Gather" else None
        if table is None or len(table.dims) != 2 or table.data_type != TensorProto.FLOAT or table.dims[0] < 64:
            # (a table of a few rows, e.g. token types, stays float: a few KB, and 4 kernels fewer per run)
            nodes.append(n)
            continue
        w = numpy_helper.to_array(table)
        ids, base, out = n.input[1], f"sls_table_{len(report)}", n.output[0]
        if ids == "input_ids" and ids in graph_inputs:
            rows = np.array(reachable_token_ids(tokenizer_file), dtype=np.int64)
            remap = np.zeros(w.shape[0], dtype=np.int64)  # unreachable ids cannot occur; row 0 is a safe target
            remap[rows] = np.arange(len(rows))
            _set_init(model, f"{base}_remap", remap)
            nodes.append(helper.make_node("Gather", [f"{base}_remap", ids], [f"{base}_ids"], name=f"{base}_remap"))
            ids, w = f"{base}_ids", w[rows]
        elif positions is not None and w.shape[0] == positions[0]:
            w = w[:positions[1]]  # a larger position id cannot occur (Gather would fail loudly, never look up junk)
        scale = np.maximum(w.std(axis=1) * TABLE_STEP, np.abs(w).max(axis=1) / 127)
        scale = np.maximum(scale, 1e-12).astype(np.float32)
        codes = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
        model.graph.initializer.remove(table)
        _set_init(model, f"{base}_int8", codes)
        _set_init(model, f"{base}_scale", scale)
        nodes += [
            helper.make_node("Gather", [f"{base}_int8", ids], [f"{base}_codes"], name=f"{base}_gather"),
            helper.make_node("Cast", [f"{base}_codes"], [f"{base}_float"], to=TensorProto.FLOAT, name=f"{base}_cast"),
            helper.make_node("Gather", [f"{base}_scale", ids], [f"{base}_row_scale"], name=f"{base}_scale"),
            helper.make_node("Unsqueeze", [f"{base}_row_scale", "sls_last_axis"], [f"{base}_scale_col"],
                             name=f"{base}_unsqueeze"),
            helper.make_node("Mul", [f"{base}_float", f"{base}_scale_col"], [out], name=f"{base}_dequantize"),
        ]
        report[table.name] = {"rows": int(w.shape[0]), "of": int(table.dims[0]), "step": f"{TABLE_STEP} x row std"}
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return report


def _coarsen_weights(model) -> None:
    """Round every to-be-quantized weight to WEIGHT_LEVELS steps per output column (in float).

    quantize_dynamic (reduce_range) then stores them as int8 codes within +-WEIGHT_LEVELS, which gzip packs ~1
    bit per weight tighter than full-range codes.
    """
    import numpy as np
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    for n in _weight_matmuls(model):
        if n.name.endswith("_float"):
            continue
        w = numpy_helper.to_array(inits[n.input[1]])
        step = np.maximum(np.abs(w).max(axis=0, keepdims=True), 1e-12) / WEIGHT_LEVELS
        _set_init(model, n.input[1], (np.rint(w / step) * step).astype(np.float32))


def _quantize_matmuls(src: Path, dst: Path) -> None:
    """Every weight MatMul (but the float outlier products) and Attention -> int8: DynamicQuantizeMatMul and
    QAttention (per-column weights, activations quantized per tensor at run time).

    reduce_range keeps weight codes within +-64: without VNNI, the u8s8 kernels sum two uint8 x int8 products in
    int16 (AVX2 vpmaddubsw), which full-range codes overflow (docs/int8-recipe.md, step 5)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # "consider pre-processing" noise
    model = onnx.load(str(src))
    names = [n.name for n in _weight_matmuls(model) if not n.name.endswith("_float")]
    left = {n.name for n in model.graph.node}
    quantize_dynamic(str(src), str(dst), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul", "Attention"], nodes_to_quantize=names,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    out = onnx.load(str(dst))
    float_left = sorted(left & {n.name for n in out.graph.node if n.op_type in ("MatMul", "Attention")} & set(names))
    if float_left:
        raise ValueError(f"quantize_dynamic left {len(float_left)} weight MatMuls in float ({float_left[:3]} ...)")
    out.ir_version = min(out.ir_version, IR_VERSION)
    onnx.checker.check_model(out)
    onnx.save(out, str(dst))

