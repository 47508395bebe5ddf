"""Quality gate: a built embeddings artifact must reproduce sentence-transformers' embeddings of its model.

Reference = SentenceTransformer(model_dir).encode(texts, normalize_embeddings=True) in the build env.
Candidate = the artifact's own handler (input_fn -> predict_fn, the request path an endpoint runs) on the
staged artifact. Over the corpus of inference/build/corpus.py (>= 1000 varied texts):
  mean cosine(reference_i, candidate_i) >= 0.99, min >= 0.98, and mean top-10 nearest-neighbour overlap
  (|NN10_ref(i) & NN10_cand(i)| / 10, self excluded) >= 0.9.
The same three bars hold per input class (TOKEN_CLASSES: word pieces per text, special tokens not counted):
int8 errors concentrate on texts of one to three pieces, which an overall figure over a corpus of mostly
longer texts hides. The build records the figures and fails below the gate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MIN_MEAN_COSINE = 0.99
MIN_MIN_COSINE = 0.98
MIN_TOPK_OVERLAP = 0.9
TOP_K = 10
# Input classes by word pieces per text (special tokens not counted): (name, fewest, most; None = no limit).
TOKEN_CLASSES: tuple[tuple[str, int, int | None], ...] = (
    ("1-3 tokens", 1, 3), ("4-16 tokens", 4, 16), ("17-64 tokens", 17, 64), ("65+ tokens", 65, None))


class QualityGateError(RuntimeError):
    """The candidate embeddings are too far from the reference."""


@dataclass(frozen=True)
class ClassFigures:
    """The gate's figures over the texts of one input class (top-k neighbours still sought in the whole corpus)."""

    name: str
    n: int
    mean_cosine: float
    min_cosine: float
    topk_overlap: float

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean_cosine": round(self.mean_cosine, 6), "min_cosine": round(self.min_cosine, 6),
                "topk_overlap": round(self.topk_overlap, 6)}


@dataclass(frozen=True)
class QualityReport:
    n: int
    mean_cosine: float
    min_cosine: float
    topk_overlap: float
    k: int = TOP_K
    thresholds: dict[str, float] = field(default_factory=lambda: {
        "mean_cosine": MIN_MEAN_COSINE, "min_cosine": MIN_MIN_COSINE, "topk_overlap": MIN_TOPK_OVERLAP})
    classes: tuple[ClassFigures, ...] = ()  # per TOKEN_CLASSES class present, when compare() got token counts

    @property
    def failures(self) -> list[str]:
        out = _failures(self, self.thresholds, self.k, "")
        for c in self.classes:
            out += _failures(c, self.thresholds, self.k, f"{c.name}: ")
        return out

    def per_class(self) -> dict[str, dict[str, Any]]:
        """{class name: {n, mean_cosine, min_cosine, topk_overlap}}, rounded, for the build's records."""
        return {c.name: c.as_dict() for c in self.classes}

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        lines = [f"quality over {self.n} texts: mean cosine {self.mean_cosine:.4f} (>= {MIN_MEAN_COSINE}), "
                 f"min {self.min_cosine:.4f} (>= {MIN_MIN_COSINE}), top-{self.k} overlap {self.topk_overlap:.4f} "
                 f"(>= {MIN_TOPK_OVERLAP}): {'PASS' if self.passed else 'FAIL'}"]
        lines += [f"  {c.name:>13}: {c.n:5d} texts, mean {c.mean_cosine:.4f}, min {c.min_cosine:.4f}, "
                  f"top-{self.k} {c.topk_overlap:.4f}: "
                  f"{'FAIL' if _failures(c, self.thresholds, self.k, '') else 'PASS'}" for c in self.classes]
        return "\n".join(lines)

    def as_manifest(self) -> dict[str, Any]:
        """Rounded overall figures + thresholds for the build report's `quality` (inference/report.py); the
        per-class figures are per_class(), its `by_class`."""
        d = asdict(self)
        d.pop("classes")
        for key in ("mean_cosine", "min_cosine", "topk_overlap"):
            d[key] = round(float(d[key]), 6)
        d["passed"] = self.passed
        d["reference"] = "sentence-transformers encode(normalize_embeddings=True)"
        return d


def _failures(figures, thresholds: dict[str, float], k: int, prefix: str) -> list[str]:
    out = []
    if not figures.mean_cosine >= thresholds["mean_cosine"]:
        out.append(f"{prefix}mean cosine {figures.mean_cosine:.4f} < {thresholds['mean_cosine']}")
    if not figures.min_cosine >= thresholds["min_cosine"]:
        out.append(f"{prefix}min cosine {figures.min_cosine:.4f} < {thresholds['min_cosine']}")
    if not figures.topk_overlap >= thresholds["topk_overlap"]:
        out.append(f"{prefix}top-{k} neighbour overlap {figures.topk_overlap:.4f} < {thresholds['topk_overlap']}")
    return out


def token_class(pieces: int) -> str:
    """The TOKEN_CLASSES name of a text of `pieces` word pieces (special tokens not counted; 0 counts as 1)."""
    for name, low, high in TOKEN_CLASSES:
        if max(pieces, 1) >= low and (high is None or pieces <= high):
            return name
    raise AssertionError(f"TOKEN_CLASSES does not cover {pieces}")


def token_counts(tokenizer_file: Path, texts: Sequence[str]) -> list[int]:
    """Word pieces per text as the model's tokenizer cuts it, special tokens not counted, no truncation."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    tok.no_padding()
    tok.no_truncation()
    return [sum(1 for s in e.special_tokens_mask if not s) for e in tok.encode_batch(list(texts))]


def _unit(x):
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array [texts, dimensions], got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def compare(reference, candidate, k: int = TOP_K, counts: Sequence[int] | None = None) -> QualityReport:
    """Cosine agreement and top-k neighbour overlap of two [n, d] embedding matrices of the same texts.

    counts (word pieces per text, token_counts()) adds the figures per TOKEN_CLASSES class.
    """
    import numpy as np

    ref, cand = _unit(reference), _unit(candidate)
    if ref.shape != cand.shape:
        raise ValueError(f"reference {ref.shape} and candidate {cand.shape} embeddings differ in shape")
    n = ref.shape[0]
    if n <= k:
        raise ValueError(f"need more than k={k} texts for a top-{k} neighbour overlap, got {n}")
    cos = (ref * cand).sum(axis=1)

    def neighbours(e):
        sim = e @ e.T
        np.fill_diagonal(sim, -np.inf)
        return np.argpartition(-sim, k, axis=1)[:, :k]

    nr, nc = neighbours(ref), neighbours(cand)
    overlaps = np.array([len(set(a) & set(b)) / k for a, b in zip(nr.tolist(), nc.tolist(), strict=True)])
    classes = []
    if counts is not None:
        if len(counts) != n:
            raise ValueError(f"{len(counts)} token counts for {n} texts")
        names = np.array([token_class(c) for c in counts])
        for name, _, _ in TOKEN_CLASSES:
            rows = names == name
            if rows.any():
                classes.append(ClassFigures(name=name, n=int(rows.sum()), mean_cosine=float(cos[rows].mean()),
                                            min_cosine=float(cos[rows].min()),
                                            topk_overlap=float(overlaps[rows].mean())))
    return QualityReport(n=n, mean_cosine=float(cos.mean()), min_cosine=float(cos.min()),
                         topk_overlap=float(overlaps.mean()), k=k, classes=tuple(classes))


def check_gate(report: QualityReport, what: str = "artifact") -> QualityReport:
    """Raise QualityGateError naming every failed threshold; return the report when it passes."""
    if not report.passed:
        raise QualityGateError(
            f"{what} fails the quality gate: {'; '.join(report.failures)} ({report.summary()}). "
            "Use a less aggressive runtime (--runtime onnx or torch) or keep more layers in float."
        )
    return report


def reference_embeddings(model_dir: Path, texts: Sequence[str], batch_size: int = 32):
    """sentence-transformers' own normalised embeddings of texts (the reference the gate compares to)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)


def handler_embeddings(artifact_dir: Path, texts: Sequence[str], batch_size: int):
    """Embeddings through the handler's request path (input_fn -> predict_fn) on a staged artifact dir."""
    import numpy as np

    from inference.handlers import embeddings as handler

    model = handler.model_fn(str(artifact_dir))
    out = []
    for i in range(0, len(texts), batch_size):
        body = json.dumps({"inputs": list(texts[i:i + batch_size])}).encode()
        out.extend(handler.predict_fn(handler.input_fn(body, "application/json"), model)["embeddings"])
    return np.asarray(out, dtype=np.float32)
