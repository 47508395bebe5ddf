"""Stage headers with elapsed time, and the summary table."""

from __future__ import annotations

import pytest

from releasing.stages import Stages
from releasing.summary import Row, table


def test_each_stage_has_a_header_and_its_outcome_with_elapsed_time():
    lines: list[str] = []
    ticks = iter([10.0, 12.5, 20.0, 20.25])
    stages = Stages(lines.append, clock=lambda: next(ticks))
    with stages.stage("up"):
        lines.append("output")
    with pytest.raises(RuntimeError), stages.stage("verify"):
        raise RuntimeError("boom")
    assert lines == ["== up", "output", "-- up: ok (2.5 s)", "== verify", "-- verify: failed (0.2 s)"]
    assert stages.done == [("up", "ok", 2.5), ("verify", "failed", 0.25)]


def test_the_summary_has_one_aligned_row_per_endpoint():
    lines = table([Row("embeddings-dev", "InService, smoke ok", "ab" * 32, "emb-config-1", 812.04, 41.5),
                   Row("call-time-dev", "missing")])
    assert lines[0].split() == ["endpoint", "status", "artifact", "sha256", "config", "cold", "ms", "warm", "ms"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["embeddings-dev", "InService,", "smoke", "ok", "abababababab...", "emb-config-1",
                                "812.0", "41.5"]
    assert lines[3].split() == ["call-time-dev", "missing", "-", "-", "-", "-"]
    assert lines[2].index("emb-config-1") == lines[0].index("config")  # columns line up


def test_a_stage_that_carries_on_past_a_failure_still_ends_failed():
    lines: list[str] = []
    stages = Stages(lines.append, clock=lambda: 0.0)
    with stages.stage("smoke test") as stage:
        stage.fail()
        lines.append("the next endpoint is still tested")
    assert lines[-1] == "-- smoke test: failed (0.0 s)"


def test_each_row_shows_a_short_sha_the_config_and_latencies_to_a_tenth_of_a_ms():
    assert Row("e", "InService", "0123456789abcdef", "c-1", 0.0, 12.345).cells() == (
        "e", "InService", "0123456789ab...", "c-1", "0.0", "12.3")
    assert Row("e", "missing").cells() == ("e", "missing", "-", "-", "-", "-")


def test_the_table_pads_each_column_to_its_widest_cell_and_rules_the_header():
    assert table([Row("embeddings-dev", "ok", None, "c", 1.0, 2.0)]) == [
        "endpoint        status  artifact sha256  config  cold ms  warm ms",
        "--------------  ------  ---------------  ------  -------  -------",
        "embeddings-dev  ok      -                c       1.0      2.0",
    ]
    assert table([]) == ["endpoint  status  artifact sha256  config  cold ms  warm ms",
                         "--------  ------  ---------------  ------  -------  -------"]


def test_stages_time_themselves_with_the_monotonic_clock_by_default():
    import time

    assert Stages(print).clock is time.monotonic
    lines: list[str] = []
    stages = Stages(lines.append)
    with stages.stage("validate") as s:
        assert s.name == "validate" and s.failed is False
    assert stages.done[0][:2] == ("validate", "ok") and 0 <= stages.done[0][2] < 5
