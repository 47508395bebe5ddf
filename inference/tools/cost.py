"""`python -m inference cost`: monthly cost of a serverless endpoint, next to the usual recipe's.

Why: serverless bills memory tier x duration (+ data processed), so a smaller, faster artifact is cheaper in
two ways. The estimate uses the measured duration of our handler (bench.json's p50 at batch 1, or a quick
in-process measurement of an artifact) at the smallest tier that fits its measured peak RSS
(inference.build.sizing), and the usual recipe (HF container, HF_TASK=feature-extraction, 3072 MB) with the HF
pipeline's measured duration. Durations are measured on this machine; serverless vCPUs differ, so the
figures are indicative, and the price table is cited in the output so it can be checked.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inference.build.sizing import smallest_tier
from inference.limits import MEMORY_TIERS_MB

DAYS_PER_MONTH = 30
DEFAULT_BENCH = Path(__file__).resolve().parents[2] / "bench-results" / "bench.json"
USUAL_RECIPE_MEMORY_MB = 3072  # the HF feature-extraction recipe's usual serverless config
KB = 1024
GB = 1024 * 1024 * 1024


@dataclass(frozen=True)
class PriceTable:
    """On-demand SageMaker Serverless Inference prices for one region."""

    region: str
    compute_usd_per_gb_second: float  # billed per ms of duration x the memory tier in GB
    data_usd_per_gb: float  # data processed in + out
    source: str
    as_of: str
    note: str


# us-east-1 on-demand serverless inference: $0.0000200 per second per GB of memory (1024 MB $0.0000200/s ...
# 6144 MB $0.0001200/s) and $0.016 per GB of data processed in and out. These are the published figures as
# summarised in docs/aws-facts.md and public price sheets; this machine has no network to re-read
# https://aws.amazon.com/sagemaker/pricing/ itself, so the output says so.
US_EAST_1 = PriceTable(
    region="us-east-1",
    compute_usd_per_gb_second=0.0000200,
    data_usd_per_gb=0.016,
    source="third-party summaries of https://aws.amazon.com/sagemaker/pricing/ (Serverless Inference, on-demand)",
    as_of="collected 2026-11-25, not re-read from AWS",
    note="verify on the AWS page before quoting them; the free tier "
         "(150,000 s of serverless inference per month for the first 2 months) is not deducted",
)


@dataclass(frozen=True)
class Estimate:
    """One configuration's monthly cost and how it was derived."""

    label: str
    memory_mb: int
    duration_ms: float  # per request, as measured
    billed_ms: int  # duration rounded up to the millisecond, as billed
    requests_per_month: int
    gb_seconds: float
    compute_usd: float
    data_gb: float
    data_usd: float
    total_usd: float
    basis: str


def estimate(label: str, *, memory_mb: int, duration_ms: float, requests_per_day: int, request_kb: float,
             response_kb: float, prices: PriceTable = US_EAST_1, basis: str = "") -> Estimate:
    """Monthly cost of `requests_per_day` invocations lasting `duration_ms` each on a `memory_mb` tier."""
    if memory_mb not in MEMORY_TIERS_MB:
        allowed = ", ".join(map(str, MEMORY_TIERS_MB))
        raise ValueError(f"memory {memory_mb} MB is not a serverless tier; allowed: {allowed}")
    if not (duration_ms > 0 and math.isfinite(duration_ms)):
        raise ValueError(f"duration must be a positive number of milliseconds, got {duration_ms}")
    if requests_per_day < 0:
        raise ValueError(f"--requests-per-day must be >= 0, got {requests_per_day}")
    if request_kb < 0 or response_kb < 0:
        raise ValueError(f"payload sizes must be >= 0 KB, got request {request_kb} KB, response {response_kb} KB")
    requests = requests_per_day * DAYS_PER_MONTH
    billed_ms = math.ceil(duration_ms - 1e-9)
    gb_seconds = requests * (billed_ms / 1000) * (memory_mb / 1024)
    compute = gb_seconds * prices.compute_usd_per_gb_second
    data_gb = requests * (request_kb + response_kb) * KB / GB
    data = data_gb * prices.data_usd_per_gb
    return Estimate(label, memory_mb, duration_ms, billed_ms, requests, gb_seconds, compute, data_gb, data,
                    compute + data, basis)


def _p50_batch1(variant: dict[str, Any]) -> float:
    return float(variant["batches"]["1"]["p50_ms"])


USUAL_LABEL = "usual recipe: HF container, HF_TASK=feature-extraction"


def usual_from_bench(bench: dict[str, Any]) -> dict[str, Any]:
    """The usual recipe's inputs: the HF pipeline's p50 at batch 1 (else the reference's) at 3072 MB."""
    variants = bench.get("variants", {})
    key = "hf-pipeline" if "hf-pipeline" in variants else "reference" if "reference" in variants else None
    if key is None:
        return {}
    return {"label": USUAL_LABEL, "memory_mb": USUAL_RECIPE_MEMORY_MB, "duration_ms": _p50_batch1(variants[key]),
            "basis": f"p50 at batch 1 of {variants[key].get('label', key)} from bench.json"}


def from_bench(bench: dict[str, Any], variant: str, memory_mb: int | None) -> dict[str, Any]:
    """Our inputs from a bench.json written by `python -m inference bench`."""
    variants = bench.get("variants", {})
    if variant not in variants:
        raise ValueError(f"bench.json has no variant {variant!r}; it has: {', '.join(sorted(variants))}")
    ours = variants[variant]
    peak = ours.get("peak_rss_mb")
    mem = memory_mb or (smallest_tier(peak) if peak else None)
    if mem is None:
        raise ValueError(f"bench.json has no peak RSS for {variant!r}; pass --memory")
    machine = bench.get("machine", {}).get("cpu", "this machine")
    basis = f"p50 at batch 1 from bench.json ({machine})"
    if peak:
        basis += f"; peak RSS {peak:.0f} MB -> tier {mem} MB"
    return {"label": f"ours: {variant} artifact", "memory_mb": mem, "duration_ms": _p50_batch1(ours), "basis": basis}


def from_artifact(artifact: Path, memory_mb: int | None, runs: int = 30) -> dict[str, Any]:
    """Our inputs measured on an artifact: p50 of warm batch-1 requests (under the Python that serves it, in a
    fresh process), peak RSS from its build report (or measured)."""
    from inference.build.artifact import sha256_file
    from inference.build.measure import measure_handler, time_handler
    from inference.manifest import read_manifest
    from inference.report import read_report
    from inference.tools.serve import open_artifact, serving_python

    manifest = read_manifest(artifact)  # typed: inference.manifest.Manifest
    body = json.dumps({"inputs": "How much does a serverless embedding endpoint cost per month?"}).encode()
    python = serving_python(manifest, log=lambda msg: print(msg, file=sys.stderr))
    python_s = str(python) if python else None
    report = read_report(artifact, sha256_file(artifact))
    peak = report.resources.peak_rss_mb if report is not None else None
    with open_artifact(artifact) as model_dir:
        if peak is None:
            peak = measure_handler(model_dir, body, python=python_s)["peak_rss_mb"]
        timed = time_handler(model_dir, {"1": [body]}, python=python_s, min_calls=runs, budget_s=0.0)
    mem = memory_mb or smallest_tier(peak)
    return {"label": f"ours: {manifest.runtime or '?'} artifact", "memory_mb": mem,
            "duration_ms": statistics.median(timed["groups"]["1"]) * 1000,
            "basis": f"p50 of {runs} warm batch-1 requests on this machine; peak RSS {peak:.0f} MB -> "
                     f"tier {mem} MB"}


def render(estimates: list[Estimate], prices: PriceTable, requests_per_day: int) -> str:
    lines = [f"Monthly estimate for {requests_per_day:,} requests/day ({DAYS_PER_MONTH}-day month), {prices.region}:",
             ""]
    header = (f"{'configuration':<58} {'memory':>7} {'p50 ms':>8} {'GB-s/mo':>11} {'compute $':>10} {'data $':>8} "
              f"{'total $':>9}")
    lines += [header, "-" * len(header)]
    for e in estimates:
        lines.append(f"{e.label:<58} {e.memory_mb:>5}MB {e.duration_ms:>8.2f} {e.gb_seconds:>11,.1f} "
                     f"{e.compute_usd:>10.2f} {e.data_usd:>8.2f} {e.total_usd:>9.2f}")
    if len(estimates) == 2 and estimates[0].total_usd > 0:
        lines.append(f"\nthe usual recipe costs {estimates[1].total_usd / estimates[0].total_usd:.1f}x ours")
    lines.append("")
    for e in estimates:
        lines.append(f"- {e.label}: {e.basis}")
    lines += [
        "",
        f"Prices: compute ${prices.compute_usd_per_gb_second:.7f} per GB-second (billed per ms x memory tier), "
        f"data ${prices.data_usd_per_gb:.3f} per GB in+out; source {prices.source}, as of {prices.as_of}; "
        f"{prices.note}.",
        "Durations were measured on this machine; serverless vCPUs differ (and scale with the memory tier), so "
        "these figures are indicative. Cold starts are not included.",
    ]
    return "\n".join(lines)


def per_endpoint(values: list[str] | None, flag: str, kind: type) -> dict[str | None, Any]:
    """`N` (every endpoint) and `NAME=N` (one endpoint) values of a repeatable flag, as {name or None: N}."""
    out: dict[str | None, Any] = {}
    for value in values or []:
        name, _, number = value.rpartition("=")
        try:
            parsed = kind(number)
        except ValueError:
            raise ValueError(f"{flag} {value!r}: expected N or ENDPOINT=N with N a number") from None
        key = name or None
        if key in out:
            raise ValueError(f"{flag} given twice for {name or 'every endpoint'}")
        out[key] = parsed
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--artifact", type=Path, help="measure this model.tar.gz here (in-process p50, manifest peak RSS)")
    src.add_argument("--bench", type=Path, help="use a bench.json (default: bench-results/bench.json)")
    src.add_argument("--stack", help="price a stack's serverless endpoints from Pulumi.STACK.yaml (memory, "
                                     "provisioned concurrency, autoscaling), each at its artifact's measured duration")
    parser.add_argument("--variant", default="onnx-int8", help="which bench.json variant is ours (default onnx-int8)")
    parser.add_argument("--memory", type=int, choices=MEMORY_TIERS_MB,
                        help="memory tier in MB (default: smallest tier that fits the measured peak RSS)")
    parser.add_argument("--requests-per-day", action="append", required=True, metavar="[ENDPOINT=]N",
                        help="average invocations per day (with --stack: N for every endpoint, ENDPOINT=N for one; "
                             "repeatable)")
    parser.add_argument("--payload-kb", type=float, default=1.0, help="request size in KB (default 1)")
    parser.add_argument("--response-kb", type=float, default=8.0,
                        help="response size in KB (default 8: one 384-d embedding as JSON)")
    parser.add_argument("--duration-ms", action="append", metavar="[ENDPOINT=]MS",
                        help="override our measured duration per request (with --stack: MS or ENDPOINT=MS)")
    parser.add_argument("--usual-duration-ms", type=float, help="override the usual recipe's duration per request")
    parser.add_argument("--provisioned-usd-per-gb-second", type=float,
                        help="--stack: price of provisioned concurrency held, per GB of memory per second")
    parser.add_argument("--provisioned-inference-usd-per-gb-second", type=float,
                        help="--stack: price of inference duration on provisioned concurrency, per GB-second")
    parser.add_argument("--usd-per-gb-second", type=float,
                        help="--stack: on-demand inference price (built in for us-east-1 only)")
    parser.add_argument("--data-usd-per-gb", type=float,
                        help="--stack: data processed price (built in for us-east-1 only)")
    parser.add_argument("--json", action="store_true", help="print the estimates as JSON instead of a table")


def run_stack(args: argparse.Namespace) -> int:
    """`cost --stack STACK`: inference.tools.stack_cost over the stack's validated config."""
    from inference.tools import stack_cost

    try:
        for flag, value in (("--memory", args.memory), ("--usual-duration-ms", args.usual_duration_ms)):
            if value is not None:
                raise ValueError(f"{flag} does not apply to --stack (the stack's config sets each endpoint)")
        settings = stack_cost.load_stack(args.stack)
        loads, skipped = stack_cost.stack_loads(
            settings, requests=per_endpoint(args.requests_per_day, "--requests-per-day", int),
            durations=per_endpoint(args.duration_ms, "--duration-ms", float),
            request_kb=args.payload_kb, response_kb=args.response_kb)
        prices = stack_cost.prices_for(settings.region, provisioned=args.provisioned_usd_per_gb_second,
                                       provisioned_inference=args.provisioned_inference_usd_per_gb_second,
                                       compute=args.usd_per_gb_second, data=args.data_usd_per_gb)
        costs = [stack_cost.endpoint_cost(load, prices) for load in loads]
    except (ValueError, KeyError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"stack": args.stack, "prices": asdict(prices), "endpoints": [asdict(c) for c in costs],
                          "not_estimated": skipped}, indent=1))
    else:
        print(stack_cost.render(args.stack, costs, prices, skipped))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.stack:
        return run_stack(args)
    try:
        requests = per_endpoint(args.requests_per_day, "--requests-per-day", int)
        durations = per_endpoint(args.duration_ms, "--duration-ms", float)
        if set(requests) - {None} or set(durations) - {None} or len(requests) > 1 or len(durations) > 1:
            raise ValueError("ENDPOINT=N values apply to --stack only; give one --requests-per-day N "
                             "(and at most one --duration-ms MS)")
        requests_per_day, duration_ms = requests[None], durations.get(None)
        usual_in: dict[str, Any] = {}
        if args.artifact:
            ours_in = from_artifact(args.artifact, args.memory)
            bench_path = DEFAULT_BENCH
            if bench_path.is_file():
                usual_in = usual_from_bench(json.loads(bench_path.read_text()))
        else:
            bench_path = args.bench or DEFAULT_BENCH
            if not bench_path.is_file():
                if duration_ms is None:
                    raise ValueError(f"{bench_path} not found: run `python -m inference bench`, or pass --artifact "
                                     "or --duration-ms with --memory")
                ours_in = {"label": "ours", "memory_mb": args.memory or MEMORY_TIERS_MB[0],
                           "duration_ms": duration_ms, "basis": "duration given with --duration-ms"}
            else:
                bench = json.loads(bench_path.read_text())
                ours_in, usual_in = from_bench(bench, args.variant, args.memory), usual_from_bench(bench)
        if duration_ms is not None:
            ours_in = {**ours_in, "duration_ms": duration_ms, "basis": "duration given with --duration-ms"}
        if args.usual_duration_ms is not None:
            usual_in = {"label": USUAL_LABEL, "memory_mb": USUAL_RECIPE_MEMORY_MB,
                        "duration_ms": args.usual_duration_ms, "basis": "duration given with --usual-duration-ms"}
        common = {"requests_per_day": requests_per_day, "request_kb": args.payload_kb,
                  "response_kb": args.response_kb}
        estimates = [estimate(**ours_in, **common)]
        if usual_in:
            estimates.append(estimate(**usual_in, **common))
    except (ValueError, KeyError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"prices": asdict(US_EAST_1), "estimates": [asdict(e) for e in estimates]}, indent=1))
    else:
        print(render(estimates, US_EAST_1, requests_per_day))
        if not usual_in:
            print("(no usual-recipe duration: run `python -m inference bench` or pass --usual-duration-ms)")
    return 0
