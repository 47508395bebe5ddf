"""The quality gate (inference/build/quality.py) and its corpus (inference/build/corpus.py).

Gate logic is checked on constructed embeddings whose figures are known by construction (rotations by a
chosen angle, swapped rows); the real onnx-int8 artifact's figures are checked from its manifest, which the
build computed on the full corpus against sentence-transformers.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.build.corpus import DEFAULT_SIZE, corpus_kinds, generate_corpus
from inference.build.quality import (
    MIN_MEAN_COSINE,
    MIN_MIN_COSINE,
    MIN_TOPK_OVERLAP,
    TOKEN_CLASSES,
    QualityGateError,
    check_gate,
    compare,
    token_class,
    token_counts,
)


def _random_unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _tilt(e: np.ndarray, angle: float, seed: int = 1) -> np.ndarray:
    """Each row rotated by exactly `angle` radians towards a random orthogonal direction: cosine = cos(angle)."""
    r = np.random.default_rng(seed).normal(size=e.shape)
    r -= (r * e).sum(axis=1, keepdims=True) * e
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    return np.cos(angle) * e + np.sin(angle) * r


def test_identical_embeddings_score_perfectly() -> None:
    e = _random_unit(200, 32)
    report = compare(e, e.copy())
    assert report.mean_cosine == pytest.approx(1.0) and report.min_cosine == pytest.approx(1.0)
    assert report.topk_overlap == 1.0 and report.passed
    assert check_gate(report) is report


def test_cosines_are_measured_per_row_and_scale_does_not_matter() -> None:
    e = _random_unit(100, 16)
    cand = _tilt(e, math.acos(0.995)) * 7.5  # unnormalised candidate: the gate normalises
    report = compare(e, cand)
    assert report.mean_cosine == pytest.approx(0.995, abs=1e-9)
    assert report.min_cosine == pytest.approx(0.995, abs=1e-9)


def test_one_bad_row_fails_on_min_cosine_only() -> None:
    e = _random_unit(300, 64)
    cand = e.copy()
    cand[17] = _tilt(e[17:18], math.acos(0.95))[0]
    report = compare(e, cand)
    assert report.min_cosine == pytest.approx(0.95, abs=1e-9)
    assert report.mean_cosine >= MIN_MEAN_COSINE
    assert [f.split()[0] + " " + f.split()[1] for f in report.failures] == ["min cosine"]
    with pytest.raises(QualityGateError, match=r"min cosine 0\.9500 < 0\.98"):
        check_gate(report)


def test_uniformly_tilted_embeddings_fail_the_mean() -> None:
    e = _random_unit(300, 64)
    report = compare(e, _tilt(e, math.acos(0.985)))
    assert report.mean_cosine == pytest.approx(0.985, abs=1e-9)
    assert any(f.startswith("mean cosine") for f in report.failures)
    assert not any(f.startswith("min cosine") for f in report.failures)


def test_scrambled_neighbourhoods_fail_the_topk_overlap() -> None:
    # 30 tight clusters of 10; the candidate assigns rows to the wrong texts, so neighbour sets are scrambled
    rng = np.random.default_rng(3)
    centers = _random_unit(30, 48, seed=4)
    ref = np.repeat(centers, 10, axis=0) + rng.normal(scale=0.05, size=(300, 48))  # 30 clusters of 10
    cand = ref[rng.permutation(300)]
    report = compare(ref, cand)
    assert report.topk_overlap < MIN_TOPK_OVERLAP
    assert any(f.startswith("top-10") for f in report.failures)


def test_topk_overlap_counts_shared_neighbours() -> None:
    # swapping two rows changes the neighbour sets of those two points (and of points near them) only
    ref = _random_unit(50, 8, seed=5)
    report_same = compare(ref, ref)
    assert report_same.topk_overlap == 1.0
    cand = ref.copy()
    cand[[0, 1]] = cand[[1, 0]]
    report = compare(ref, cand)
    assert 0.0 < report.topk_overlap < 1.0


def test_shape_mismatch_and_tiny_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        compare(_random_unit(20, 8), _random_unit(21, 8))
    with pytest.raises(ValueError, match="more than k=10"):
        compare(_random_unit(10, 8), _random_unit(10, 8))


def test_manifest_figures_are_rounded_and_carry_thresholds() -> None:
    e = _random_unit(50, 8)
    d = compare(e, _tilt(e, 0.01)).as_manifest()
    assert d["thresholds"] == {"mean_cosine": MIN_MEAN_COSINE, "min_cosine": MIN_MIN_COSINE,
                               "topk_overlap": MIN_TOPK_OVERLAP}
    assert d["passed"] is True and d["mean_cosine"] == round(d["mean_cosine"], 6)


@pytest.mark.parametrize(("pieces", "name"), [(0, "1-3 tokens"), (1, "1-3 tokens"), (3, "1-3 tokens"),
                                               (4, "4-16 tokens"), (16, "4-16 tokens"), (17, "17-64 tokens"),
                                               (64, "17-64 tokens"), (65, "65+ tokens"), (10_000, "65+ tokens")])
def test_token_classes_cover_every_length_without_overlap(pieces: int, name: str) -> None:
    assert token_class(pieces) == name
    assert [c[0] for c in TOKEN_CLASSES] == ["1-3 tokens", "4-16 tokens", "17-64 tokens", "65+ tokens"]


def test_a_class_below_the_bars_fails_the_gate_though_the_overall_figures_pass() -> None:
    e = _random_unit(400, 64)
    counts = [2] * 40 + [10] * 360  # one text in ten is a one-word query
    cand = e.copy()
    cand[:40] = _tilt(e[:40], math.acos(0.985))  # every short text at 0.985: class mean < 0.99
    report = compare(e, cand, counts=counts)
    assert report.mean_cosine >= MIN_MEAN_COSINE and report.min_cosine >= MIN_MIN_COSINE  # overall: fine
    assert not report.passed
    assert "1-3 tokens: mean cosine 0.9850 < 0.99" in report.failures
    assert all(f.startswith("1-3 tokens: ") for f in report.failures)  # (random neighbours move too)
    assert report.per_class()["1-3 tokens"]["n"] == 40 and report.per_class()["4-16 tokens"]["min_cosine"] == 1.0
    with pytest.raises(QualityGateError, match="1-3 tokens: mean cosine"):
        check_gate(report)
    assert "1-3 tokens" in report.summary() and "FAIL" in report.summary().splitlines()[1]


def test_per_class_figures_are_those_of_the_class_rows_and_absent_classes_are_left_out() -> None:
    e = _random_unit(300, 32)
    cand = e.copy()
    cand[5] = _tilt(e[5:6], math.acos(0.97))[0]
    report = compare(e, cand, counts=[70] * 100 + [20] * 200)
    assert [c.name for c in report.classes] == ["17-64 tokens", "65+ tokens"]
    by_name = {c.name: c for c in report.classes}
    assert by_name["65+ tokens"].min_cosine == pytest.approx(0.97)
    assert by_name["17-64 tokens"].min_cosine == pytest.approx(1.0)
    assert by_name["65+ tokens"].n == 100
    assert compare(e, cand).classes == ()  # without token counts: overall figures only
    with pytest.raises(ValueError, match="3 token counts for 300 texts"):
        compare(e, cand, counts=[1, 2, 3])
    assert "classes" not in report.as_manifest()  # the overall figures keep their manifest shape


def test_token_counts_leave_out_the_special_tokens_and_do_not_truncate() -> None:
    from inference.build.hub import default_model_path

    counts = token_counts(default_model_path() / "tokenizer.json", ["ok", "lol", "hello world", "word " * 600])
    assert counts == [1, 2, 2, 600]  # lol = lo ##l


# --------------------------------------------------------------------------------------------- corpus
def test_corpus_is_deterministic_distinct_and_large_enough() -> None:
    a, b = generate_corpus(), generate_corpus()
    assert a == b and len(a) == DEFAULT_SIZE >= 1000
    assert len(set(a)) == len(a) and all(t.strip() for t in a)
    assert generate_corpus(50, seed=1) != generate_corpus(50, seed=2)


def test_corpus_covers_every_kind_the_gate_needs() -> None:
    texts = generate_corpus()
    assert {"short", "long", "list", "numbers", "non_english", "code", "emoji"} <= set(corpus_kinds())
    assert any(len(t.split()) <= 2 for t in texts)  # short
    assert sum(len(t.split()) > 400 for t in texts) >= 20  # past a 256-token max_seq_length
    assert any(any(ord(c) > 0x1F000 for c in t) for t in texts)  # emoji
    assert any(any("\u4e00" <= c <= "\u9fff" for c in t) for t in texts)  # CJK
    assert any(any("\u0400" <= c <= "\u04ff" for c in t) for t in texts)  # Cyrillic
    assert any("def " in t or "SELECT" in t for t in texts)  # code
    assert any(any(ch.isdigit() for ch in t) for t in texts)


def test_one_to_three_token_queries_are_a_fifth_of_the_corpus_in_every_kind_and_language() -> None:
    from inference.build.hub import default_model_path

    texts = generate_corpus()
    assert {"one_word", "two_words"} <= set(corpus_kinds())
    counts = token_counts(default_model_path() / "tokenizer.json", texts)
    short = [t for t, c in zip(texts, counts, strict=True) if c <= 3]
    assert len(short) >= 0.2 * len(texts)
    assert any(len(t) == 1 and not t.isalnum() and ord(t) < 0x2000 for t in short)  # a lone punctuation mark
    assert any(t.isdigit() for t in short)  # a number
    assert any(any(ord(c) > 0x1F000 for c in t) and " " not in t for t in short)  # a lone emoji
    assert any(t.isupper() and len(t) >= 3 for t in short)  # an acronym
    assert any(any("\u3040" <= c <= "\u9fff" for c in t) for t in short)  # Japanese / Chinese
    # (a Russian word is 4+ pieces in this English vocabulary, but it is in the corpus as a one-word query)
    assert any(any("\u0400" <= c <= "\u04ff" for c in t) and " " not in t for t in texts)
    assert sum(len(t.split()) == 2 for t in short) >= 20  # two-word queries


def test_corpus_size_is_validated() -> None:
    with pytest.raises(ValueError, match="corpus size"):
        generate_corpus(0)


# --------------------------------------------------------------------------------------------- real artifact
def recorded_quality(tar: Path) -> dict:
    """The gate's figures as the build recorded them: in the build report beside the tarball."""
    from inference.build.artifact import sha256_file
    from inference.report import read_report

    report = read_report(tar, sha256_file(tar))
    assert report is not None and report.quality is not None, f"no build report with quality beside {tar}"
    return report.quality.to_dict()


@pytest.mark.slow
def test_the_int8_artifact_passes_the_gate_as_recorded_by_its_build() -> None:
    from inference.build.artifact import read_manifest
    from inference.build.cache import default_embeddings_artifact

    tar = default_embeddings_artifact("onnx-int8", log=lambda m: print(m, file=sys.stderr))
    q = recorded_quality(tar)
    assert read_manifest(tar).runtime == "onnx-int8"
    assert q["n"] >= 1000 and q["passed"] is True
    assert set(q["by_class"]) == {c[0] for c in TOKEN_CLASSES}  # the gate per input class, as the build ran it
    assert q["mean_cosine"] >= MIN_MEAN_COSINE and q["min_cosine"] >= MIN_MIN_COSINE
    assert q["topk_overlap"] >= MIN_TOPK_OVERLAP


@pytest.mark.slow
def test_the_recorded_int8_figures_are_those_of_the_vendored_handler_under_the_image_python(tmp_path) -> None:
    """Recompute the gate the way the endpoint serves (code/inference.py with the vendored onnxruntime +
    tokenizers in a venv of the image's Python) and find exactly the figures the build stored."""
    from inference.build.artifact import read_manifest, unpack
    from inference.build.cache import default_embeddings_artifact
    from inference.build.hub import default_model_path
    from inference.build.measure import embed_with_handler
    from inference.build.quality import reference_embeddings
    from inference.build.vendor import image_runtime_python
    from inference.build.venvs import VenvUnavailable

    tar = default_embeddings_artifact("onnx-int8", log=lambda m: print(m, file=sys.stderr))
    manifest = read_manifest(tar).to_dict()
    try:
        python = image_runtime_python(manifest["container"]["python"])
    except VenvUnavailable as e:
        pytest.skip(f"no Python {manifest['container']['python']} here: {e}")
    unpack(tar, tmp_path / "model")
    q = recorded_quality(tar)
    texts = generate_corpus(q["n"])
    candidate, info = embed_with_handler(tmp_path / "model", texts, manifest["handler"]["max_batch"],
                                         python=str(python))
    assert info["python_version"].startswith(q["computed_with"]["python"] + ".")
    assert {k: v["version"] for k, v in info["packages"].items()} == {
        k: v for k, v in q["computed_with"].items() if k != "python"}
    assert all(Path(p["file"]).is_relative_to(tmp_path / "model" / "code")
               for k, p in info["packages"].items() if k in ("onnxruntime", "tokenizers", "orjson"))
    report = compare(reference_embeddings(default_model_path(), texts), candidate,
                     counts=token_counts(default_model_path() / "tokenizer.json", texts))
    again = report.as_manifest()
    assert {k: again[k] for k in ("n", "mean_cosine", "min_cosine", "topk_overlap")} == {
        k: q[k] for k in ("n", "mean_cosine", "min_cosine", "topk_overlap")}
    # and every input class holds the bars, one-word queries included
    assert [c.name for c in report.classes] == [c[0] for c in TOKEN_CLASSES]
    assert report.passed, report.summary()
