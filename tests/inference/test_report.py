"""inference.report: the build report beside each tarball holds what the build machine measured, names the
bytes it describes, and is ignored when it describes other bytes."""

from __future__ import annotations

import json

import pytest

from inference.manifest import ManifestError
from inference.report import BuildReport, Quality, Resources, read_report, report_path, update_report, write_report

REPORT = BuildReport(
    artifact_sha256="a" * 64, size_bytes=24_892_053, framework="huggingface", runtime="onnx-int8",
    container={"key": "hf-2.6-py312", "repository": "r", "tag": "t", "python": "3.12"},
    determined_by={"sources": "s" * 64, "packages": {"torch": "2.13.0"}, "tools": {"strip": "GNU strip 2.40"}},
    resources=Resources(peak_rss_mb=104.2, cold_load_s=0.48, measured_with="Python 3.12 venv"),
    quality=Quality(n=1200, mean_cosine=0.995, min_cosine=0.985, topk_overlap=0.93, k=10,
                    thresholds={"mean_cosine": 0.99}, passed=True, reference="st", corpus="c",
                    computed_with={"python": "3.12"}),
    built_on={"system": "Linux", "machine": "x86_64", "cpu": "AMD EPYC", "python": "3.11.7"},
)


def test_round_trip_through_json():
    assert BuildReport.from_dict(json.loads(REPORT.to_json())) == REPORT


def test_the_report_sits_beside_its_tarball(tmp_path):
    assert report_path(tmp_path / "model.tar.gz") == tmp_path / "model.report.json"
    assert report_path(tmp_path / "scorer-v2.tar.gz") == tmp_path / "scorer-v2.report.json"


def test_a_report_is_read_only_for_the_bytes_it_names(tmp_path):
    tar = tmp_path / "model.tar.gz"
    write_report(tar, REPORT)
    assert read_report(tar, "a" * 64) == REPORT
    assert read_report(tar, "b" * 64) is None  # a stale report beside a rebuilt tarball must not size anything
    assert read_report(tmp_path / "other.tar.gz", "a" * 64) is None


def test_an_unreadable_report_is_no_report(tmp_path):
    tar = tmp_path / "model.tar.gz"
    report_path(tar).write_text("{not json")
    assert read_report(tar, "a" * 64) is None


def test_a_mistyped_key_is_named():
    d = REPORT.to_dict()
    d["resources"]["peak_rss_mb"] = "big"
    with pytest.raises(ManifestError, match=r"resources\.peak_rss_mb"):
        BuildReport.from_dict(d)


def test_the_cache_adds_the_recipe_it_built(tmp_path):
    tar = tmp_path / "model.tar.gz"
    write_report(tar, REPORT)
    update_report(tar, recipe={"kind": "embeddings"}, cache_key="0123456789abcdef")
    got = read_report(tar, "a" * 64)
    assert got is not None and got.determined_by["recipe"] == {"kind": "embeddings"}
    assert got.determined_by["sources"] == "s" * 64  # what was there stays
