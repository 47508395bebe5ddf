"""Quality gate: a built embeddings artifact must reproduce sentence-transformers' embeddings of its model.

Reference = SentenceTransformer(model_dir).encode(texts, normalize_embeddings=True) in the build env.
Candidate = the artifact's own handler (input_fn -> predict_fn, the request path an endpoint runs) on the
staged artifact. Over the corpus of inference/build/corpus.py (>= 1000 varied texts):
  mean cosine(reference_i, candidate_i) >= 0.99, min >= 0.98, and mean top-10 nearest-neighbour overlap
  (|NN10_ref(i) & NN10_cand(i)| / 10, self excluded) >= 0.9.
The build stores the figures in manifest["quality"] and fails below the gate.
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


class QualityGateError(RuntimeError):
    """The candidate embeddings are too far from the reference."""


@dataclass(frozen=True)
class QualityReport:
    n: int
    mean_cosine: float
    min_cosine: float
    topk_overlap: float
    k: int = TOP_K
    thresholds: dict[str, float] = field(default_factory=lambda: {
        "mean_cosine": MIN_MEAN_COSINE, "min_cosine": MIN_MIN_COSINE, "topk_overlap": MIN_TOPK_OVERLAP})

    @property
    def failures(self) -> list[str]:
        t = self.thresholds
        out = []
        if not self.mean_cosine >= t["mean_cosine"]:
            out.append(f"mean cosine {self.mean_cosine:.4f} < {t['mean_cosine']}")
        if not self.min_cosine >= t["min_cosine"]:
            out.append(f"min cosine {self.min_cosine:.4f} < {t['min_cosine']}")
        if not self.topk_overlap >= t["topk_overlap"]:
            out.append(f"top-{self.k} neighbour overlap {self.topk_overlap:.4f} < {t['topk_overlap']}")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        return (f"quality over {self.n} texts: mean cosine {self.mean_cosine:.4f} (>= {MIN_MEAN_COSINE}), "
                f"min {self.min_cosine:.4f} (>= {MIN_MIN_COSINE}), top-{self.k} overlap {self.topk_overlap:.4f} "
                f"(>= {MIN_TOPK_OVERLAP}): {'PASS' if self.passed else 'FAIL'}")

    def as_manifest(self) -> dict[str, Any]:
        """Rounded (so a rebuild writes the same bytes) figures + thresholds for manifest['quality']."""
        d = asdict(self)
        for key in ("mean_cosine", "min_cosine", "topk_overlap"):
            d[key] = round(float(d[key]), 6)
        d["passed"] = self.passed
        d["reference"] = "sentence-transformers encode(normalize_embeddings=True)"
        return d


def _unit(x):
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array [texts, dimensions], got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def compare(reference, candidate, k: int = TOP_K) -> QualityReport:
    """Cosine agreement and top-k neighbour overlap of two [n, d] embedding matrices of the same texts."""
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
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(nr.tolist(), nc.tolist(), strict=True)])
    return QualityReport(n=n, mean_cosine=float(cos.mean()), min_cosine=float(cos.min()),
                         topk_overlap=float(overlap), k=k)


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
