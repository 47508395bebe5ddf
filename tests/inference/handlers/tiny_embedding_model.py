"""A tiny embeddings artifact directory that inference/handlers/embeddings.py's model_fn accepts, built in
milliseconds with no network and no build pipeline: the fast tests' stand-in for all-MiniLM-L6-v2.

- tokenizer.json: a `tokenizers` WordLevel model over VOCAB (lower-cased, split on whitespace, unknown words ->
  [UNK]), `[CLS] text [SEP]` with type id 1 on the text's tokens, and -- as a real tokenizer.json may carry --
  fixed padding to PADDED_TO and truncation at 512, which the handler must replace with its own (no padding,
  truncation at the manifest's max_seq_length).
- model.onnx (model-int8.onnx for the onnx-int8 runtime): an onnx.helper graph with the inputs the handler feeds
  (input_ids, attention_mask and, unless left out, token_type_ids; int64 [batch, sequence]) and one output
  last_hidden_state, float32 [batch, sequence, DIM]: every position's vector is
      EMBED[input_ids] + TYPES[token_type_ids] + attention_mask * MASKED_IN
  so a test can compute a text's token vectors (and so its sentence vector) by hand with numpy, and padding
  (mask 0, and a large EMBED[[PAD]] row) shows in any pooling that does not mask it.
- code/: the handler and its helpers, as the build stages them.
- manifest.json: written by the build's own write_manifest from the typed schema (inference/manifest.py), with
  the sha256 of every other file, which model_fn's integrity check verifies.

The torch runtime's encoder (transformers.AutoModel) is not built here; tests fake torch/transformers for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from inference.build.artifact import write_manifest
from inference.build.containers import HF_PY312
from inference.manifest import ContainerRef, HandlerInfo, Manifest, ModelInfo, TokenizerInfo

HANDLERS = Path(__file__).resolve().parents[3] / "inference" / "handlers"
NAME = "tiny-wordlevel"
DIM = 4
PADDED_TO = 12  # the padding tokenizer.json asks for (the handler must switch it off)
FILE_TRUNCATION = 512  # the truncation tokenizer.json asks for (the handler must use max_seq_length instead)
# [PAD] is not id 0, so a pad with the default pad id would show
SPECIALS = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3}
WORDS = ["the", "cat", "sat", "on", "mat", "dog", "a", "big", "red", "hello", "world", "nil", "dot", "far"]
VOCAB = {**SPECIALS, **{w: i for i, w in enumerate(WORDS, start=len(SPECIALS))}}
UNK, CLS, SEP, PAD = (SPECIALS[t] for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]"))
TEXT_TYPE = 1  # token type id of the text's own tokens ([CLS] and [SEP] have 0)

_rng = np.random.default_rng(20261202)
EMBED = _rng.integers(-4, 5, size=(len(VOCAB), DIM)).astype(np.float32)
TYPES = np.array([[0, 0, 0, 0], [1, -1, 2, 0]], dtype=np.float32)
MASKED_IN = np.array([0.5, 0.0, -0.5, 1.0], dtype=np.float32)
EMBED[PAD] = [9, 9, 9, 9]  # a padded position outweighs every real one: an unmasked max or mean shows it
# "nil" alone ([CLS] nil [SEP]) sums to the zero vector; "dot" alone sums to (0.25, 0, 0, 0), a vector shorter
# than 1 (normalising must not clamp its norm at anything but a tiny epsilon); "far" is a long vector
_frame = EMBED[CLS] + EMBED[SEP] + 2 * TYPES[0] + 3 * MASKED_IN  # [CLS] and [SEP] of a one-word text
EMBED[VOCAB["nil"]] = -_frame - TYPES[TEXT_TYPE]
EMBED[VOCAB["dot"]] = EMBED[VOCAB["nil"]] + np.array([0.25, 0, 0, 0], dtype=np.float32)
EMBED[VOCAB["far"]] = [40, -30, 20, 10]
_frame = None


def write_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordLevel(vocab=VOCAB, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single=f"[CLS]:0 $A:{TEXT_TYPE} [SEP]:0", pair=f"[CLS]:0 $A:{TEXT_TYPE} [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", CLS), ("[SEP]", SEP)])
    tok.add_special_tokens(list(SPECIALS))
    tok.enable_padding(pad_id=PAD, pad_token="[PAD]", length=PADDED_TO)
    tok.enable_truncation(max_length=FILE_TRUNCATION)
    tok.save(str(path))


def write_graph(path: Path, inputs: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")) -> None:
    """last_hidden_state = EMBED[input_ids] + TYPES[token_type_ids] + attention_mask * MASKED_IN (see above);
    inputs other than the three known names are taken and ignored (a graph the handler must refuse)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def int_input(name: str):
        return helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])

    nodes = [helper.make_node("Gather", ["embed", "input_ids"], ["tokens"], axis=0)]
    terms = ["tokens"]
    if "token_type_ids" in inputs:
        nodes.append(helper.make_node("Gather", ["types", "token_type_ids"], ["type_term"], axis=0))
        terms.append("type_term")
    if "attention_mask" in inputs:
        nodes += [helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
                  helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_3d"]),
                  helper.make_node("Mul", ["mask_3d", "masked_in"], ["mask_term"])]
        terms.append("mask_term")
    for i, term in enumerate(terms[1:], start=1):
        out = "last_hidden_state" if i == len(terms) - 1 else f"sum_{i}"
        nodes.append(helper.make_node("Add", [terms[0] if i == 1 else f"sum_{i - 1}", term], [out]))
    if len(terms) == 1:
        nodes.append(helper.make_node("Identity", ["tokens"], ["last_hidden_state"]))
    graph = helper.make_graph(
        nodes, "tiny_encoder", [int_input(n) for n in inputs],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", DIM])],
        initializer=[numpy_helper.from_array(EMBED, "embed"), numpy_helper.from_array(TYPES, "types"),
                     numpy_helper.from_array(MASKED_IN, "masked_in"),
                     numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


MODEL_FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx", "torch": "model.safetensors"}


def build_model_dir(root: Path, *, runtime: str = "onnx", pooling: str = "mean", normalize: bool | None = True,
                    max_seq_length: int = 8, max_batch: int | None = 8, max_payload_bytes: int | None = 4096,
                    inputs: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")) -> Path:
    """Write a model directory at root (created) and its manifest.json; returns root.

    normalize / max_batch / max_payload_bytes None leave the key out of the manifest (the handler's defaults).
    For the torch runtime, model.safetensors holds the tables as an .npz (read by the tests' fake AutoModel).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    write_tokenizer(root / "tokenizer.json")
    model_file = MODEL_FILES[runtime]
    if runtime == "torch":
        with open(root / model_file, "wb") as f:
            np.savez(f, embed=EMBED, types=TYPES, masked_in=MASKED_IN)
    else:
        write_graph(root / model_file, inputs)
    code = root / "code"
    code.mkdir(exist_ok=True)
    shutil.copyfile(HANDLERS / "embeddings.py", code / "inference.py")
    for helper_file in ("sls_errors.py", "sls_integrity.py"):
        shutil.copyfile(HANDLERS / helper_file, code / helper_file)
    model = ModelInfo(
        file=model_file, source="local", name=NAME, dimensions=DIM, max_seq_length=max_seq_length,
        pooling=pooling, normalize=normalize, model_has_normalize_module=bool(normalize),
        tokenizer=TokenizerInfo(file="tokenizer.json", pad_token="[PAD]", pad_id=PAD),
        onnx_inputs=None if runtime == "torch" else tuple(inputs),
    )
    manifest = Manifest(
        framework="huggingface", container=ContainerRef(**HF_PY312.as_dict()), runtime=runtime, model=model,
        handler=HandlerInfo(program="inference.py", example_request={"inputs": ["the cat sat"]},
                            max_batch=max_batch, max_payload_bytes=max_payload_bytes),
    )
    write_manifest(root, manifest)
    return root
