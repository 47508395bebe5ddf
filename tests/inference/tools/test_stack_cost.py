"""`cost --stack`: a stack's bill from its config, provisioned concurrency priced as always on, nothing invented."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from inference.tools import cost, stack_cost
from inference.tools.stack_cost import SECONDS_PER_MONTH, EndpointLoad, endpoint_cost, prices_for

ROOT = Path(__file__).resolve().parents[3]
PC_RATE, PC_INFER_RATE = 0.5e-5, 1.5e-5  # arbitrary test rates, chosen to differ from the on-demand 2e-5


def _load(**kw) -> EndpointLoad:
    base = {"name": "e", "memory_mb": 2048, "max_concurrency": 20, "provisioned": 0, "scaling": None,
            "duration_ms": 10.0, "requests_per_day": 100_000, "request_kb": 0.0, "response_kb": 0.0}
    return EndpointLoad(**{**base, **kw})


def test_a_month_is_thirty_days_of_seconds() -> None:
    assert SECONDS_PER_MONTH == 30 * 86_400


def test_provisioned_concurrency_is_held_every_second_of_the_month_by_hand() -> None:
    # 2 x 2 GB x 2,592,000 s = 10,368,000 GB-s, whatever the traffic; priced at the given rate.
    prices = prices_for("us-east-1", provisioned=PC_RATE, provisioned_inference=PC_INFER_RATE)
    idle = endpoint_cost(_load(provisioned=2, requests_per_day=0), prices)
    assert idle.provisioned_gb_seconds == pytest.approx(10_368_000)
    assert idle.provisioned_usd == pytest.approx(10_368_000 * PC_RATE)
    assert idle.inference_usd == 0 and idle.data_usd == 0
    assert idle.total_usd == pytest.approx(10_368_000 * PC_RATE)


def test_requests_within_provisioned_concurrency_are_billed_at_its_inference_rate() -> None:
    # 100,000/day x 30 = 3e6 requests x 0.010 s x 2 GB = 60,000 GB-s; average concurrency 0.0116 < 2: all on PC.
    prices = prices_for("us-east-1", provisioned=PC_RATE, provisioned_inference=PC_INFER_RATE)
    c = endpoint_cost(_load(provisioned=2), prices)
    assert c.provisioned_share == 1.0
    assert c.inference_gb_seconds == pytest.approx(60_000)
    assert c.inference_usd == pytest.approx(60_000 * PC_INFER_RATE)
    assert c.on_demand_usd == pytest.approx(60_000 * 2e-5)  # the comparison: no provisioned concurrency at all


def test_load_above_provisioned_concurrency_spills_over_to_on_demand() -> None:
    # 864,000/day at 1 s each: average concurrency 10; 2 provisioned absorb 2/10 of the requests.
    prices = prices_for("us-east-1", provisioned=PC_RATE, provisioned_inference=PC_INFER_RATE)
    c = endpoint_cost(_load(provisioned=2, memory_mb=1024, duration_ms=1000, requests_per_day=864_000), prices)
    assert c.provisioned_share == pytest.approx(0.2)
    gb_s = 864_000 * 30 * 1.0 * 1
    assert c.inference_gb_seconds == pytest.approx(gb_s)
    assert c.inference_usd == pytest.approx(gb_s * 0.2 * PC_INFER_RATE + gb_s * 0.8 * 2e-5)


def test_on_demand_only_endpoint_is_priced_with_the_built_in_us_east_1_rates() -> None:
    c = endpoint_cost(_load(memory_mb=1024, request_kb=1, response_kb=8), prices_for("us-east-1"))
    # 3e6 x 0.010 s x 1 GB = 30,000 GB-s x $0.00002 = $0.60; data 27e6 KiB = 25.75 GiB x $0.016.
    assert c.provisioned_gb_seconds == 0 and c.provisioned_usd == 0
    assert c.inference_usd == pytest.approx(0.60)
    assert c.data_usd == pytest.approx(27_000_000 / 1_048_576 * 0.016)
    assert c.total_usd == pytest.approx(0.60 + 27_000_000 / 1_048_576 * 0.016)
    assert c.unpriced == ()


def test_without_provisioned_rates_the_total_says_what_it_leaves_out() -> None:
    c = endpoint_cost(_load(provisioned=1), prices_for("us-east-1"))
    assert c.provisioned_gb_seconds == pytest.approx(2 * SECONDS_PER_MONTH)  # still computed
    assert c.provisioned_usd is None and c.total_usd is None
    assert c.unpriced == ("provisioned concurrency", "inference on provisioned concurrency")


def test_other_regions_have_no_built_in_prices_until_given() -> None:
    unknown = endpoint_cost(_load(), prices_for("eu-west-1"))
    assert unknown.total_usd is None
    assert unknown.unpriced == ("on-demand inference", "data processed")
    given = endpoint_cost(_load(), prices_for("eu-west-1", compute=3e-5, data=0.02))
    assert given.inference_usd == pytest.approx(60_000 * 3e-5)


def test_autoscaling_range_is_priced_between_min_and_max_held_all_month() -> None:
    prices = prices_for("us-east-1", provisioned=PC_RATE, provisioned_inference=PC_INFER_RATE)
    c = endpoint_cost(_load(provisioned=2, scaling=(1, 10)), prices)
    assert c.provisioned_range_gb_seconds == pytest.approx((2 * SECONDS_PER_MONTH, 20 * SECONDS_PER_MONTH))
    assert c.provisioned_range_usd == pytest.approx((2 * SECONDS_PER_MONTH * PC_RATE, 20 * SECONDS_PER_MONTH * PC_RATE))


@pytest.mark.parametrize("kw, message", [
    ({"duration_ms": 0}, "positive number of milliseconds"),
    ({"duration_ms": float("nan")}, "positive number of milliseconds"),
    ({"requests_per_day": -1}, "requests per day must be >= 0"),
])
def test_bad_load_is_named(kw, message) -> None:
    with pytest.raises(ValueError, match=message):
        endpoint_cost(_load(**kw), prices_for("us-east-1"))


# --- reading the stack -----------------------------------------------------------------------------------------------

def test_prod_loads_come_from_its_config() -> None:
    settings = stack_cost.load_stack("prod", ROOT)
    loads, skipped = stack_cost.stack_loads(settings, requests={None: 1000, "call-time": 5}, durations={None: 7.0},
                                            request_kb=1, response_kb=8, measure=_never)
    assert skipped == []
    by_name = {load.name: load for load in loads}
    for endpoint in settings.endpoints:
        load = by_name[endpoint.name]
        assert load.memory_mb == endpoint.serverless.memory_mb
        assert load.provisioned == endpoint.serverless.provisioned_concurrency
        assert load.scaling == (endpoint.scaling.min_capacity, endpoint.scaling.max_capacity)
        assert load.duration_ms == 7.0
    assert by_name["call-time"].requests_per_day == 5 and by_name["embeddings"].requests_per_day == 1000


def _never(artifact: Path, memory_mb: int) -> tuple[float, str]:
    raise AssertionError(f"measured {artifact} although a duration was given")


def _stack_files(tmp_path: Path, artifact: Path) -> Path:
    image = "repository: sagemaker-scikit-learn\n        tag: 1.4-2-cpu-py3"
    for stack, source in (("a", f"path: {artifact}"), ("b", "promote_from: a"), ("c", "promote_from: org/proj/a")):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(
            "config:\n  aws:region: us-east-1\n  sls-endpoints:endpoints:\n    - name: scorer\n      image:\n"
            f"        {image}\n      artifact:\n        {source}\n"
            "      serverless:\n        memory_mb: 1024\n        max_concurrency: 2\n")
    return tmp_path


def test_a_promoted_endpoint_is_measured_on_the_artifact_of_the_stack_it_comes_from(tmp_path) -> None:
    artifact = tmp_path / "model.tar.gz"
    artifact.write_bytes(b"not opened: the measurement is faked")
    work = _stack_files(tmp_path, artifact)
    measured: list[tuple[Path, int]] = []

    def measure(path: Path, memory_mb: int) -> tuple[float, str]:
        measured.append((path, memory_mb))
        return 3.5, "measured"

    loads, _ = stack_cost.stack_loads(stack_cost.load_stack("b", work), requests={None: 10}, durations={},
                                      request_kb=0, response_kb=0, measure=measure, work_dir=work)
    assert measured == [(artifact, 1024)]
    assert (loads[0].duration_ms, loads[0].basis) == (3.5, "measured")


def test_an_artifact_that_is_not_here_needs_a_duration_and_nothing_is_measured(tmp_path) -> None:
    work = _stack_files(tmp_path, tmp_path / "model.tar.gz")
    with pytest.raises(ValueError) as e:
        stack_cost.stack_loads(stack_cost.load_stack("c", work), requests={None: 10}, durations={},
                               request_kb=0, response_kb=0, measure=_never, work_dir=work)
    assert "promoted from org/proj/a, another project" in str(e.value)
    assert "--duration-ms scorer=MS" in str(e.value)


@pytest.mark.parametrize("requests, durations, message", [
    ({None: 1, "nope": 2}, {None: 1.0}, "--requests-per-day: stack prod has no endpoint 'nope'; its endpoints: "
                                        "call-time, embeddings"),
    ({None: 1}, {"nope": 1.0}, "--duration-ms: stack prod has no endpoint 'nope'"),
    ({"embeddings": 1}, {None: 1.0}, "no traffic given for endpoint 'call-time'"),
])
def test_per_endpoint_values_must_name_the_stacks_endpoints(requests, durations, message) -> None:
    with pytest.raises(ValueError, match=message):
        stack_cost.stack_loads(stack_cost.load_stack("prod", ROOT), requests=requests, durations=durations,
                               request_kb=0, response_kb=0, measure=_never)


# --- the command -----------------------------------------------------------------------------------------------------

def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cost.add_arguments(parser)
    return cost.run(parser.parse_args(argv))


def test_command_prices_prod_with_given_provisioned_rates(capsys) -> None:
    rc = _run(["--stack", "prod", "--requests-per-day", "100000", "--duration-ms", "10", "--json",
               "--provisioned-usd-per-gb-second", str(PC_RATE),
               "--provisioned-inference-usd-per-gb-second", str(PC_INFER_RATE)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    emb = next(e for e in out["endpoints"] if e["name"] == "embeddings")
    held = 2 * 2 * SECONDS_PER_MONTH  # prod: 2 provisioned at 2048 MB
    assert emb["provisioned_usd"] == pytest.approx(held * PC_RATE)
    assert emb["total_usd"] == pytest.approx(held * PC_RATE + 60_000 * PC_INFER_RATE + emb["data_usd"])
    assert out["prices"]["provisioned_usd_per_gb_second"] == PC_RATE


def test_command_table_names_the_unpriced_parts_and_the_flags(capsys) -> None:
    assert _run(["--stack", "prod", "--requests-per-day", "1000", "--duration-ms", "10"]) == 0
    out = capsys.readouterr().out
    assert "not priced" in out
    assert "--provisioned-usd-per-gb-second" in out and "aws.amazon.com/sagemaker/pricing" in out
    assert "the same traffic on demand only: $" in out


@pytest.mark.parametrize("argv, message", [
    (["--stack", "prod", "--requests-per-day", "1", "--memory", "2048"], "--memory does not apply to --stack"),
    (["--stack", "nope", "--requests-per-day", "1"], "allowed stacks: dev, prod"),
    (["--stack", "prod", "--requests-per-day", "lots"], "--requests-per-day 'lots': expected N or ENDPOINT=N"),
    (["--stack", "prod", "--requests-per-day", "1", "--requests-per-day", "2"], "given twice for every endpoint"),
    (["--requests-per-day", "embeddings=1", "--duration-ms", "3"], "ENDPOINT=N values apply to --stack only"),
])
def test_command_bad_input_exits_2_naming_it(argv, message, capsys) -> None:
    assert _run(argv) == 2
    assert message in capsys.readouterr().err


def test_table_ends_with_the_stacks_total_under_the_total_column(capsys) -> None:
    argv = ["--stack", "prod", "--requests-per-day", "1000", "--duration-ms", "10",
            "--provisioned-usd-per-gb-second", str(PC_RATE), "--provisioned-inference-usd-per-gb-second",
            str(PC_INFER_RATE)]
    assert _run([*argv, "--json"]) == 0
    expected = sum(e["total_usd"] for e in json.loads(capsys.readouterr().out)["endpoints"])
    assert _run(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    header, total = lines[2], next(line for line in lines if line.startswith("stack "))
    assert len(total) == len(header) and total.split() == ["stack", f"{expected:,.2f}"]
