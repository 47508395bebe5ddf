"""Small random-weight sentence-transformers models with the layer layout of each model in the seed's matrix.

Why: only all-MiniLM-L6-v2's weights can be had offline here, yet the build must prove its int8 recipe on
every architecture the stack deploys. A model of the same architecture (same transformers class, same
layer structure, pooling and normalisation, scaled-down widths) built with a fixed seed exercises every step
of the recipe on that architecture's graph; the quality gate then compares the artifact against
sentence-transformers on the same weights. The figures say the pipeline works on the graph, not how the
real weights quantize (outlier channels are a property of trained weights).

The seed's matrix (sentence-transformers model cards, sentence_bert_config.json / modules.json):

- all-MiniLM-L6-v2: BERT, 6 layers, hidden 384, 12 heads, FFN 1536; max_seq_length 256; mean + Normalize.
- multi-qa-MiniLM-L6-cos-v1: the same layout; max_seq_length 512; mean + Normalize.
- paraphrase-MiniLM-L3-v2: BERT, 3 layers, hidden 384, 12 heads, FFN 1536; max_seq_length 128; mean, no
  Normalize module (the handler normalises every vector either way).
- all-mpnet-base-v2: MPNet, 12 layers, hidden 768, 12 heads, FFN 3072, relative attention buckets 32;
  max_seq_length 384; mean + Normalize.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """A matrix model's architecture and sentence-transformers configuration, and its scaled-down widths."""

    name: str  # the real model's Hub id
    model_type: str  # transformers model_type: "bert" | "mpnet"
    layers: int  # the real layer count (kept)
    hidden: int  # real hidden size (dimensions)
    max_seq_length: int
    normalize_module: bool
    tier_mb: int  # the seed's serverless memory tier for the real model
    tiny_hidden: int = 64
    tiny_heads: int = 4
    tiny_layers: int | None = None  # None: the real count

    @property
    def short(self) -> str:
        return self.name.rsplit("/", 1)[-1]


MATRIX: tuple[Layout, ...] = (
    Layout("sentence-transformers/all-MiniLM-L6-v2", "bert", 6, 384, 256, True, 3072),
    Layout("sentence-transformers/all-mpnet-base-v2", "mpnet", 12, 768, 384, True, 6144, tiny_layers=4),
    Layout("sentence-transformers/paraphrase-MiniLM-L3-v2", "bert", 3, 384, 128, False, 2048),
    Layout("sentence-transformers/multi-qa-MiniLM-L6-cos-v1", "bert", 6, 384, 512, True, 3072),
)


def layout(name: str) -> Layout:
    """The MATRIX entry whose Hub id or short name is `name`."""
    for entry in MATRIX:
        if name in (entry.name, entry.short):
            return entry
    raise ValueError(f"{name!r} is not in the seed's matrix; known: {', '.join(e.short for e in MATRIX)}")


def make_tiny_model(entry: Layout, out_dir: Path, *, seed: int = 0) -> Path:
    """Save a random-weight sentence-transformers model with entry's layout to out_dir (returned).

    The tokenizer is all-MiniLM-L6-v2's (a BERT WordPiece vocabulary of 30522 pieces); MPNet gets pad id 0 to
    match it, so its position ids start at 2 as in the real model (padding index + 1).
    """
    import torch
    from transformers import BertConfig, BertModel, MPNetConfig, MPNetModel

    from inference.build.hub import default_model_path

    src = default_model_path()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    widths = {"hidden_size": entry.tiny_hidden, "num_attention_heads": entry.tiny_heads,
              "intermediate_size": 4 * entry.tiny_hidden, "num_hidden_layers": entry.tiny_layers or entry.layers,
              "vocab_size": 30522}
    if entry.model_type == "bert":
        model = BertModel(BertConfig(**widths, max_position_embeddings=512), add_pooling_layer=False)
    elif entry.model_type == "mpnet":
        model = MPNetModel(MPNetConfig(**widths, max_position_embeddings=514, relative_attention_num_buckets=32,
                                       pad_token_id=0, bos_token_id=101, eos_token_id=102),
                           add_pooling_layer=False)
    else:
        raise ValueError(f"no tiny model for model_type {entry.model_type!r}; known: bert, mpnet")
    model.eval().save_pretrained(str(out_dir), safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (src / name).is_file():
            shutil.copyfile(src / name, out_dir / name)
    # the sentence-transformers files in the layout the Hub models ship (sentence-transformers 2.x)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if entry.normalize_module:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    _write_json(out_dir / "modules.json", modules)
    _write_json(out_dir / "sentence_bert_config.json", {"max_seq_length": entry.max_seq_length, "do_lower_case": False})
    _write_json(out_dir / "1_Pooling" / "config.json", {
        "word_embedding_dimension": entry.tiny_hidden, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False})
    _write_json(out_dir / "config_sentence_transformers.json", {"__version__": {"sentence_transformers": "2.0.0"}})
    return out_dir


def _write_json(path: Path, value) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2))
