"""`python -m inference cost --stack STACK`: the monthly bill of a stack's serverless endpoints, from its config.

Why per stack: what a stack costs is fixed by its config (memory tier, provisioned concurrency, autoscaling range)
as much as by the traffic, and provisioned concurrency is billed every second it is held, requests or not. So the
estimate reads Pulumi.<stack>.yaml through the same validation `pulumi up` runs, takes each endpoint's duration
from its artifact measured here (or `--duration-ms NAME=MS`), and prices three parts per endpoint:

- provisioned concurrency held all month: concurrency x memory GB x seconds in the month (always on);
- inference duration: requests x billed ms x memory GB, at the provisioned-concurrency inference rate for the
  requests the provisioned instances absorb and at the on-demand rate for the rest;
- data processed in and out.

Only the us-east-1 on-demand prices are in the repo (inference.tools.cost.US_EAST_1, with their caveat). No
provisioned-concurrency price has been verified, so none is built in: the GB-seconds are always computed and
shown, and they are priced when `--provisioned-usd-per-gb-second` and `--provisioned-inference-usd-per-gb-second`
give the rates of https://aws.amazon.com/sagemaker/pricing/ (Serverless Inference, Provisioned Concurrency) for
the stack's region; until then the total says what it leaves out instead of inventing a figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.tools.cost import DAYS_PER_MONTH, GB, KB, US_EAST_1

SECONDS_PER_MONTH = DAYS_PER_MONTH * 24 * 3600
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StackPrices:
    """The rates one estimate uses (None: not known here, that part is shown in GB-seconds only)."""

    region: str
    compute_usd_per_gb_second: float | None  # on-demand inference duration
    data_usd_per_gb: float | None
    provisioned_usd_per_gb_second: float | None = None  # provisioned concurrency held, per GB of memory
    provisioned_inference_usd_per_gb_second: float | None = None  # duration of requests served by it
    source: str = ""


def prices_for(region: str, *, provisioned: float | None = None, provisioned_inference: float | None = None,
               compute: float | None = None, data: float | None = None) -> StackPrices:
    """The built-in on-demand rates where the repo has them (us-east-1), with any rate given on the command line."""
    known = region == US_EAST_1.region
    source = US_EAST_1.source + f", {US_EAST_1.as_of}" if known else f"no built-in prices for {region}"
    return StackPrices(
        region=region,
        compute_usd_per_gb_second=compute if compute is not None else
        US_EAST_1.compute_usd_per_gb_second if known else None,
        data_usd_per_gb=data if data is not None else US_EAST_1.data_usd_per_gb if known else None,
        provisioned_usd_per_gb_second=provisioned,
        provisioned_inference_usd_per_gb_second=provisioned_inference,
        source=source,
    )


@dataclass(frozen=True)
class EndpointLoad:
    """What one endpoint's bill depends on: its config and its traffic."""

    name: str
    memory_mb: int
    max_concurrency: int
    provisioned: int  # 0: on-demand only
    scaling: tuple[int, int] | None  # autoscaled provisioned concurrency: (min, max)
    duration_ms: float
    requests_per_day: int
    request_kb: float = 1.0
    response_kb: float = 8.0
    basis: str = ""


@dataclass(frozen=True)
class EndpointCost:
    """One endpoint's month: quantities always, dollars where the rate is known (None otherwise)."""

    name: str
    memory_mb: int
    provisioned: int
    requests_per_month: int
    billed_ms: int
    provisioned_share: float  # of the requests, served by the provisioned instances
    provisioned_gb_seconds: float  # held all month
    provisioned_range_gb_seconds: tuple[float, float] | None  # autoscaling between min and max, held all month
    inference_gb_seconds: float  # requests x billed duration x memory
    data_gb: float
    provisioned_usd: float | None
    provisioned_range_usd: tuple[float, float] | None
    inference_usd: float | None
    data_usd: float | None
    total_usd: float | None  # None when a part is not priced
    on_demand_usd: float | None  # the same traffic with no provisioned concurrency (inference + data)
    unpriced: tuple[str, ...]  # the parts left out of total_usd
    basis: str


def _usd(quantity: float, rate: float | None) -> float | None:
    return None if rate is None else quantity * rate


def endpoint_cost(load: EndpointLoad, prices: StackPrices) -> EndpointCost:
    """One endpoint's month. The provisioned instances absorb the average concurrency up to their number
    (requests/s x duration); the share above it is billed on demand. Bursts are not modelled."""
    if not (load.duration_ms > 0 and math.isfinite(load.duration_ms)):
        raise ValueError(f"{load.name}: duration must be a positive number of milliseconds, got {load.duration_ms}")
    if load.requests_per_day < 0:
        raise ValueError(f"{load.name}: requests per day must be >= 0, got {load.requests_per_day}")
    gb = load.memory_mb / 1024
    requests = load.requests_per_day * DAYS_PER_MONTH
    billed_ms = math.ceil(load.duration_ms - 1e-9)
    inference_gb_s = requests * (billed_ms / 1000) * gb
    average_concurrency = load.requests_per_day / 86400 * (billed_ms / 1000)
    share = 0.0
    if load.provisioned:
        share = 1.0 if average_concurrency <= load.provisioned else load.provisioned / average_concurrency
    held_gb_s = load.provisioned * gb * SECONDS_PER_MONTH
    held_range = None
    if load.scaling is not None:
        held_range = (load.scaling[0] * gb * SECONDS_PER_MONTH, load.scaling[1] * gb * SECONDS_PER_MONTH)
    data_gb = requests * (load.request_kb + load.response_kb) * KB / GB

    unpriced: list[str] = []
    held_usd = _usd(held_gb_s, prices.provisioned_usd_per_gb_second) if load.provisioned else 0.0
    if held_usd is None:
        unpriced.append("provisioned concurrency")
    range_usd = None
    if held_range is not None and prices.provisioned_usd_per_gb_second is not None:
        range_usd = (held_range[0] * prices.provisioned_usd_per_gb_second,
                     held_range[1] * prices.provisioned_usd_per_gb_second)
    on_demand = _usd(inference_gb_s * (1 - share), prices.compute_usd_per_gb_second) if share < 1 else 0.0
    served = _usd(inference_gb_s * share, prices.provisioned_inference_usd_per_gb_second) if share > 0 else 0.0
    if on_demand is None:
        unpriced.append("on-demand inference")
    if served is None:
        unpriced.append("inference on provisioned concurrency")
    inference_usd = None if on_demand is None or served is None else on_demand + served
    data_usd = _usd(data_gb, prices.data_usd_per_gb)
    if data_usd is None:
        unpriced.append("data processed")
    parts = (held_usd, inference_usd, data_usd)
    total = None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
    all_on_demand = _usd(inference_gb_s, prices.compute_usd_per_gb_second)
    on_demand_total = None if all_on_demand is None or data_usd is None else all_on_demand + data_usd
    return EndpointCost(load.name, load.memory_mb, load.provisioned, requests, billed_ms, share, held_gb_s, held_range,
                        inference_gb_s, data_gb, held_usd, range_usd, inference_usd, data_usd, total, on_demand_total,
                        tuple(unpriced), load.basis)


# --- the stack's endpoints -------------------------------------------------------------------------------------------

Measure = Callable[[Path, int], tuple[float, str]]  # (artifact, memory MB) -> (duration ms, how it was measured)


def measure_artifact(artifact: Path, memory_mb: int) -> tuple[float, str]:
    """p50 of warm batch-1 requests on this machine, in the Python of the image that serves the artifact."""
    from inference.tools.cost import from_artifact

    measured = from_artifact(artifact, memory_mb)
    return float(measured["duration_ms"]), f"{measured['basis']} ({artifact})"


def load_stack(stack: str, work_dir: Path = ROOT) -> Any:
    """The stack's validated settings, read from Pulumi.<stack>.yaml exactly as `python release.py` reads them."""
    from settings import PROJECT, read_stack_file, validate

    raw, region = read_stack_file(work_dir, stack)
    return validate(raw, stack=stack, region=region, project=PROJECT)


def artifact_here(endpoint: Any, work_dir: Path = ROOT) -> tuple[Path | None, str]:
    """The endpoint's artifact if it is on this machine (a path, a cached build, or what the stack it is promoted
    from builds), else (None, why not)."""
    from inference.build.cache import cached_recipe_artifact

    source = endpoint.artifact
    if source.path is not None:
        return (source.path, "") if source.path.is_file() else (None, f"{source.path} does not exist")
    if source.recipe is not None:
        built = cached_recipe_artifact(source.recipe, endpoint.image.container)
        return (built, "") if built is not None else (None, "its artifact is not built here yet")
    if source.promote_from is not None and "/" not in source.promote_from:
        try:
            origin = load_stack(source.promote_from, work_dir)
        except ValueError as e:
            return None, f"stack {source.promote_from!r} it is promoted from cannot be read: {e}"
        same = [e for e in origin.endpoints if e.name == endpoint.name]
        if not same:
            return None, f"stack {source.promote_from!r} it is promoted from has no endpoint {endpoint.name!r}"
        return artifact_here(same[0], work_dir)
    if source.promote_from is not None:
        return None, f"it is promoted from {source.promote_from}, another project"
    return None, f"it is downloaded from {source.uri}"


def stack_loads(settings: Any, *, requests: Mapping[str | None, int], durations: Mapping[str | None, float],
                request_kb: float, response_kb: float, measure: Measure = measure_artifact,
                work_dir: Path = ROOT) -> tuple[list[EndpointLoad], list[str]]:
    """Each serverless endpoint's load; the endpoints that are not serverless, named with why they are left out.
    `requests`/`durations` map an endpoint name (or None: every endpoint) to its value."""
    names = {e.name for e in settings.endpoints}
    for flag, given in (("--requests-per-day", requests), ("--duration-ms", durations)):
        unknown = sorted(k for k in given if k is not None and k not in names)
        if unknown:
            raise ValueError(f"{flag}: stack {settings.stack} has no endpoint {', '.join(map(repr, unknown))}; "
                             f"its endpoints: {', '.join(sorted(names))}")
    skipped: list[str] = []
    plans: list[tuple[Any, int, float | Path]] = []  # (endpoint, requests/day, duration ms or artifact to measure)
    for endpoint in settings.endpoints:  # every input checked before anything is measured
        if endpoint.serverless is None:
            skipped.append(f"{endpoint.name}: an instance endpoint, billed per instance-hour (not estimated here)")
            continue
        per_day = requests.get(endpoint.name, requests.get(None))
        if per_day is None:
            raise ValueError(f"--requests-per-day: no traffic given for endpoint {endpoint.name!r}; pass "
                             f"--requests-per-day N (every endpoint) or --requests-per-day {endpoint.name}=N")
        duration = durations.get(endpoint.name, durations.get(None))
        if duration is None:
            artifact, why = artifact_here(endpoint, work_dir)
            if artifact is None:
                raise ValueError(
                    f"{endpoint.key}: no duration for endpoint {endpoint.name!r}: {why}; pass --duration-ms "
                    f"{endpoint.name}=MS, or build it first (`python release.py {settings.stack} --build-only`)")
        plans.append((endpoint, per_day, duration if duration is not None else artifact))
    loads: list[EndpointLoad] = []
    for endpoint, per_day, given in plans:
        sls = endpoint.serverless
        if isinstance(given, Path):
            duration, basis = measure(given, sls.memory_mb)
        else:
            duration, basis = given, "duration given with --duration-ms"
        scaling = (endpoint.scaling.min_capacity, endpoint.scaling.max_capacity) if endpoint.scaling else None
        loads.append(EndpointLoad(endpoint.name, sls.memory_mb, sls.max_concurrency, sls.provisioned_concurrency or 0,
                                  scaling, duration, per_day, request_kb, response_kb, basis))
    return loads, skipped


# --- output ----------------------------------------------------------------------------------------------------------

def _money(usd: float | None) -> str:
    return "not priced" if usd is None else f"{usd:,.2f}"


def render(stack: str, costs: list[EndpointCost], prices: StackPrices, skipped: list[str]) -> str:
    lines = [f"Monthly estimate for stack {stack} ({DAYS_PER_MONTH}-day month, {prices.region}):", ""]
    header = (f"{'endpoint':<16} {'memory':>7} {'prov.':>5} {'req/mo':>11} {'ms':>5} {'held GB-s':>12} "
              f"{'held $':>11} {'infer GB-s':>11} {'infer $':>11} {'data $':>11} {'total $':>11}")
    lines += [header, "-" * len(header)]
    for c in costs:
        lines.append(f"{c.name:<16} {c.memory_mb:>5}MB {c.provisioned:>5} {c.requests_per_month:>11,} "
                     f"{c.billed_ms:>5} {c.provisioned_gb_seconds:>12,.0f} {_money(c.provisioned_usd):>11} "
                     f"{c.inference_gb_seconds:>11,.1f} {_money(c.inference_usd):>11} {_money(c.data_usd):>11} "
                     f"{_money(c.total_usd):>11}")
    totals = [c.total_usd for c in costs]
    if costs and all(t is not None for t in totals):
        total = f"{sum(t for t in totals if t is not None):,.2f}"
        lines.append("stack" + total.rjust(len(header) - len("stack")))  # under the total column
    lines.append("")
    for c in costs:
        notes = [c.basis]
        if c.provisioned:
            notes.append(f"{c.provisioned_share:.0%} of requests on provisioned concurrency")
        if c.provisioned_range_gb_seconds is not None:
            lo, hi = c.provisioned_range_gb_seconds
            held = f"autoscaling holds {lo:,.0f}-{hi:,.0f} GB-s"
            if c.provisioned_range_usd is not None:
                held += f" (${c.provisioned_range_usd[0]:,.2f}-${c.provisioned_range_usd[1]:,.2f})"
            notes.append(held)
        if c.unpriced:
            notes.append("not in the total: " + ", ".join(c.unpriced))
        if c.provisioned and c.on_demand_usd is not None:
            notes.append(f"the same traffic on demand only: ${c.on_demand_usd:,.2f}")
        lines.append(f"- {c.name}: " + "; ".join(notes))
    lines += [f"- {s}" for s in skipped]
    lines.append("")
    if any(c.unpriced for c in costs):
        lines.append(
            "Some parts are not priced: no rate for them is built in. Give the rates of "
            "https://aws.amazon.com/sagemaker/pricing/ for " + prices.region + " with "
            "--provisioned-usd-per-gb-second and --provisioned-inference-usd-per-gb-second (Serverless Inference, "
            "Provisioned Concurrency), or --usd-per-gb-second and --data-usd-per-gb (on-demand).")
    lines.append(f"On-demand prices: {prices.source}. Provisioned concurrency is billed for every second it is held, "
                 "requests or not. Durations measured on this machine are indicative (serverless vCPUs differ); "
                 "cold starts and the free tier are not included.")
    return "\n".join(lines)
