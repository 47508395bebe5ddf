"""`python -m inference check`: is this endpoint healthy and does it keep its contract? One report, exit 0 or 1.

Why: the test scripts and CLI snippets people keep beside an endpoint each check a little; this runs the same
checks against a deployed endpoint or the local one (`--endpoint-url`), through the same transport as
inference.client (retries, cold starts), and the release's smoke test can call `run_checks` as a library.

What runs: the endpoint's status and config (DescribeEndpoint; skipped against the local endpoint), the kind
(`--kind`, or probed: an embeddings request first, then a scikit-learn one), then per kind:
- embeddings: a single request (the first one: its latency is the cold figure), dimension, unit norm, a batch
  answering like single requests in order, a paraphrase closer than an unrelated sentence, unicode and emoji,
  long text (truncated, not refused), a full max batch, one over the max batch, an empty string, a malformed
  body, a non-string input, a wrong content type (each bad request: a 4xx with a reason);
- sklearn: the example request (the artifact manifest's `handler.example_request`, or --example-request) gives
  one prediction per instance; a malformed row, an empty instance list and a malformed body get a 4xx;
- then cold versus warm latency (reported, never judged).
The max batch comes from --max-batch, else the artifact's manifest (--artifact), else the handler's default.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inference.client.describe import EndpointInfo
from inference.client.embeddings import DEFAULT_MAX_BATCH
from inference.client.errors import EndpointError, EndpointRequestError, ModelRequestError
from inference.client.retry import RetryPolicy
from inference.client.transport import EndpointTransport

KINDS = ("embeddings", "sklearn")
PARAPHRASE = ("A man is playing a guitar on stage.", "Someone performs a song on the guitar.")
UNRELATED = "Quarterly tax filings are due at the end of the month."
UNICODE_TEXTS = ["naïve café déjà vu", "東京は雨です", "Привет, мир", "rocket launch 🚀🎉 👩‍💻", "ℕ ⊆ ℤ ⊂ ℚ ∫ x² dx"]
LONG_TEXT = " ".join(["serverless endpoints scale to zero and start cold"] * 400)  # ~20 KB, far over 256 tokens
NORM_TOLERANCE = 1e-3
# A text alone and in a batch: int8 activations are quantized per request, so the two differ by rounding
# (cosine 0.998 seen on MiniLM onnx-int8); below the quality gate's mean cosine, something else is wrong.
SAME_VECTOR_COSINE = 0.99
# Cold starts can take tens of seconds on serverless: the check waits for them (ModelNotReady is retried).
CHECK_RETRY = RetryPolicy(max_attempts=6, total_timeout_s=120.0)


@dataclass(frozen=True)
class Target:
    """Where the endpoint is: a deployed one (endpoint + region) or a local one (endpoint_url)."""

    endpoint: str
    region: str | None = None
    endpoint_url: str | None = None
    sagemaker_endpoint_url: str | None = None  # the control plane's URL (a moto server in tests)

    @property
    def local(self) -> bool:
        return self.endpoint_url is not None and self.sagemaker_endpoint_url is None


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    latency_ms: float | None = None
    skipped: bool = False


@dataclass
class CheckReport:
    """Per-check results; `ok` when no check failed (skipped ones do not count)."""

    target: Target
    kind: str | None = None
    max_batch: int | None = None
    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    cold_ms: float | None = None  # the first request, cold start and retries included
    warm_ms: float | None = None  # median of the warm requests after the checks

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "target": asdict(self.target), "kind": self.kind, "max_batch": self.max_batch,
                "checks": [asdict(r) for r in self.results], "notes": self.notes, "metrics": self.metrics,
                "cold_ms": self.cold_ms, "warm_ms": self.warm_ms}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def render(self) -> str:
        t = self.target
        where = f"local {t.endpoint_url}" if t.endpoint_url else f"region {t.region or '(default)'}"
        batch = f", max batch {self.max_batch}" if self.max_batch else ""
        lines = [f"endpoint {t.endpoint} ({where}): kind {self.kind or '?'}{batch}"]
        width = max((len(r.name) for r in self.results), default=10)
        for r in self.results:
            status = "SKIP" if r.skipped else "PASS" if r.ok else "FAIL"
            ms = f"  [{r.latency_ms:.1f} ms]" if r.latency_ms is not None else ""
            lines.append(f"  {status}  {r.name:<{width}}  {r.detail}{ms}")
        lines += [f"  note: {n}" for n in self.notes]
        passed = sum(r.ok and not r.skipped for r in self.results)
        skipped = sum(r.skipped for r in self.results)
        lines.append(f"{passed} passed, {len(self.failed)} failed, {skipped} skipped: "
                     f"{'OK' if self.ok else 'FAILED'}")
        return "\n".join(lines)


class CheckFailed(Exception):
    """A check's expectation did not hold; the message says what was expected and what came back."""


class _Runner:
    """Runs named checks against one transport and collects their results."""

    def __init__(self, transport: EndpointTransport, report: CheckReport):
        self.t, self.report = transport, report
        self.latencies: list[float] = []
        self.first_retries: tuple[int, int] = (0, 0)  # (retries, ModelNotReady answers) of the first request

    def run(self, name: str, check: Callable[[], str]) -> bool:
        t0 = time.perf_counter()
        try:
            detail = check()
            ok = True
        except CheckFailed as e:
            detail, ok = str(e), False
        except EndpointError as e:
            detail, ok = f"{type(e).__name__}: {e}", False
        ms = (time.perf_counter() - t0) * 1000
        self.report.results.append(CheckResult(name, ok, detail, round(ms, 2)))
        return ok

    def skip(self, name: str, why: str) -> None:
        self.report.results.append(CheckResult(name, True, f"skipped: {why}", skipped=True))

    # --------------------------------------------------------------------------------- requests
    def call(self, payload: Any) -> Any:
        t0 = time.perf_counter()
        answer = self.t.invoke_json(payload)
        if not self.latencies:
            self.first_retries = (self.t.metrics["retries"], self.t.metrics["not_ready"])
        self.latencies.append(time.perf_counter() - t0)
        return answer

    def refused(self, body: bytes, content_type: str = "application/json") -> str:
        """The reason of a 4xx for a request that must be refused (CheckFailed when it was answered)."""
        try:
            self.t.invoke(body, content_type=content_type)
        except ModelRequestError as e:
            if not 400 <= e.status < 500 or not e.reason:
                raise CheckFailed(f"expected a 4xx with a reason, got {e.status}: {e.reason!r}") from None
            return f"{e.status}: {_short(e.reason)}"
        except EndpointRequestError as e:  # refused by the front end (e.g. ValidationError): also a 4xx with reason
            return f"{e.code}: {_short(str(e))}"
        raise CheckFailed("expected a 4xx with a reason, got 200")


def _short(text: str, n: int = 110) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
                                                             or 1.0)


def _vectors(answer: Any, n: int) -> list[list[float]]:
    vectors = answer.get("embeddings") if isinstance(answer, dict) else answer
    if not isinstance(vectors, list) or len(vectors) != n:
        got = len(vectors) if isinstance(vectors, list) else type(vectors).__name__
        raise CheckFailed(f"sent {n} text(s), got {got} embeddings")
    for v in vectors:
        if not isinstance(v, list) or not v or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in v):
            raise CheckFailed("an embedding is not a non-empty flat list of finite numbers")
    return vectors


# ------------------------------------------------------------------------------------------ kind
def probe_kind(call: Callable[[Any], Any]) -> tuple[str | None, str]:
    """(kind, how it was told) by sending an embeddings request, then an empty scikit-learn one, with
    call(payload) -> answer (raising ModelRequestError for a 4xx)."""
    try:
        answer = call({"inputs": "which kind of endpoint are you?"})
        if isinstance(answer, dict) and "embeddings" in answer:
            return "embeddings", "probed: answers {\"inputs\": ...} with embeddings"
    except ModelRequestError:
        pass
    try:
        call({"instances": []})
    except ModelRequestError as e:
        if "instances" in e.reason:
            return "sklearn", f"probed: refuses an empty instance list with {e.status}: {_short(e.reason, 80)}"
    return None, "neither an embeddings nor a scikit-learn request was understood; pass --kind"


# ------------------------------------------------------------------------------------------ embeddings
def _embeddings_checks(r: _Runner, max_batch: int, dimensions: int | None) -> None:
    state: dict[str, Any] = {}

    def single() -> str:
        answer = r.call({"inputs": PARAPHRASE[0]})
        state["one"] = _vectors(answer, 1)[0]  # a single string still comes back as a list of one vector
        state["dims"] = answer.get("dimensions") if isinstance(answer, dict) else None
        return f"a single string answers [[...]] (one vector of {len(state['one'])})"

    if not r.run("single request", single):
        return

    def dimension() -> str:
        got = len(state["one"])
        if state["dims"] is not None and state["dims"] != got:
            raise CheckFailed(f"'dimensions' says {state['dims']} but the vector has {got} values")
        if dimensions is not None and got != dimensions:
            raise CheckFailed(f"expected {dimensions} dimensions (the artifact's manifest), got {got}")
        return f"{got} dimensions"

    def unit_norm() -> str:
        norm = math.sqrt(sum(x * x for x in state["one"]))
        if abs(norm - 1) > NORM_TOLERANCE:
            raise CheckFailed(f"norm {norm:.6f}; expected 1 within {NORM_TOLERANCE} (L2-normalised output)")
        return f"norm {norm:.6f}"

    def batch() -> str:
        texts = [PARAPHRASE[1], UNRELATED, PARAPHRASE[0]]
        vectors = _vectors(r.call({"inputs": texts}), 3)
        state["para"], state["unrelated"] = vectors[0], vectors[1]
        same = _cos(vectors[2], state["one"])
        nearest = max(range(3), key=lambda i: _cos(vectors[i], state["one"]))
        if same < SAME_VECTOR_COSINE or nearest != 2:
            raise CheckFailed(f"the last text of the batch is not answered by the last vector (cosine to the same "
                              f"text alone {same:.4f}, nearest is vector {nearest}): order or batching is wrong")
        return f"3 texts, 3 vectors in order (same text alone vs in batch: cosine {same:.5f})"

    r.run("dimension", dimension)
    r.run("unit norm", unit_norm)
    if r.run("batch", batch):
        def paraphrase() -> str:
            close, far = _cos(state["one"], state["para"]), max(_cos(state["one"], state["unrelated"]),
                                                                 _cos(state["para"], state["unrelated"]))
            if close <= far:
                raise CheckFailed(f"paraphrases cosine {close:.3f} is not above the unrelated sentence's {far:.3f}")
            return f"paraphrases {close:.3f} > unrelated {far:.3f}"

        r.run("paraphrase", paraphrase)

    def unicode() -> str:
        vectors = []
        for i in range(0, len(UNICODE_TEXTS), max_batch):
            chunk = UNICODE_TEXTS[i:i + max_batch]
            vectors += _vectors(r.call({"inputs": chunk}), len(chunk))
        bad = [i for i, v in enumerate(vectors) if abs(math.sqrt(sum(x * x for x in v)) - 1) > NORM_TOLERANCE]
        if bad:
            raise CheckFailed(f"unicode inputs {bad} did not give unit vectors")
        return f"{len(UNICODE_TEXTS)} texts (accents, CJK, Cyrillic, emoji, math) embedded"

    def long_text() -> str:
        answer = r.call({"inputs": [LONG_TEXT]})
        _vectors(answer, 1)
        truncated = answer.get("truncated") if isinstance(answer, dict) else None
        if truncated is None:
            return f"{len(LONG_TEXT)} characters embedded (the endpoint does not report truncation)"
        if truncated != [True]:
            raise CheckFailed(f"{len(LONG_TEXT)} characters should be reported truncated, got truncated={truncated}")
        return f"{len(LONG_TEXT)} characters embedded, reported truncated"

    def full_batch() -> str:
        texts = [f"sentence {i} of a full batch" for i in range(max_batch)]
        _vectors(r.call({"inputs": texts}), max_batch)
        return f"{max_batch} texts (the max batch) answered"

    r.run("unicode and emoji", unicode)
    r.run("long text", long_text)
    r.run("max batch", full_batch)
    over = json.dumps({"inputs": [f"text {i}" for i in range(max_batch + 1)]}).encode()
    r.run("over max batch", lambda: f"{max_batch + 1} texts refused: " + r.refused(over))
    r.run("empty string", lambda: "refused, as the handler's contract says: " + r.refused(b'{"inputs": [""]}'))
    r.run("malformed body", lambda: r.refused(b'{"inputs": ["unterminated'))
    r.run("non-string input", lambda: r.refused(b'{"inputs": [42]}'))
    r.run("wrong content type", lambda: r.refused(b"a,b", content_type="text/csv"))


# ------------------------------------------------------------------------------------------ sklearn
def _broken_instance(instance: Any) -> Any:
    """A row the model cannot take: a list row missing its last value, an object row with no fields."""
    if isinstance(instance, list):
        return instance[:-1] if len(instance) > 1 else ["not a number", "extra"]
    return {}


def _sklearn_checks(r: _Runner, example: Any) -> None:
    if not isinstance(example, dict) or not isinstance(example.get("instances"), list) or not example["instances"]:
        r.skip("example request", "no example request ({\"instances\": [...]}): pass --artifact (its manifest's "
                                  "handler.example_request) or --example-request")
    else:
        def valid() -> str:
            answer = r.call(example)
            predictions = answer.get("predictions") if isinstance(answer, dict) else None
            if not isinstance(predictions, list) or len(predictions) != len(example["instances"]):
                raise CheckFailed(f"expected {{\"predictions\": [...]}} with {len(example['instances'])} item(s), "
                                  f"got {_short(json.dumps(answer), 120)}")
            return f"{len(predictions)} prediction(s): {_short(json.dumps(predictions[0]), 80)}"

        r.run("example request", valid)
        broken = {**example, "instances": [_broken_instance(example["instances"][0])]}
        r.run("malformed row", lambda: r.refused(json.dumps(broken).encode()))
    r.run("empty instances", lambda: r.refused(b'{"instances": []}'))
    r.run("malformed body", lambda: r.refused(b'{"instances": [[1, 2'))


# ------------------------------------------------------------------------------------------ common
def _describe_check(r: _Runner, info: EndpointInfo | None) -> None:
    if info is None:
        r.skip("status", "local endpoint: no control plane to describe (DescribeEndpoint)")
        return
    if info.error:
        if "AccessDenied" in info.error:
            r.skip("status", info.error)
            r.report.notes.append("the caller may not describe the endpoint; status and config were not checked")
            return
        r.report.results.append(CheckResult("status", False, info.error))
        return
    config = (f"config {info.config_name}, model {info.model_name}, "
              + (f"serverless {info.memory_mb} MB, MaxConcurrency {info.max_concurrency}"
                 + (f", provisioned {info.provisioned_concurrency}" if info.provisioned_concurrency else "")
                 if info.max_concurrency else f"instance {info.instance_type}"))
    ok = info.status == "InService"
    reason = f" ({info.failure_reason})" if info.failure_reason else ""
    r.report.results.append(CheckResult("status", ok, f"{info.status}{reason}; {config}"))


def _latency_check(r: _Runner, warm: int, payload: Any) -> None:
    if not r.latencies or payload is None:
        r.skip("cold vs warm", "no successful request to time")
        return
    cold = r.latencies[0]
    r.report.cold_ms = cold * 1000

    def timing() -> str:
        warm_s = []
        for _ in range(warm):
            t0 = time.perf_counter()
            r.t.invoke_json(payload)
            warm_s.append(time.perf_counter() - t0)
        if warm_s:
            r.report.warm_ms = statistics.median(warm_s) * 1000
        retries, not_ready = r.first_retries
        warm_text = f"warm median {statistics.median(warm_s) * 1000:.1f} ms over {warm}" if warm_s else "no warm run"
        return f"first request {cold * 1000:.1f} ms (retries {retries}, ModelNotReady {not_ready}) vs {warm_text}"

    r.run("cold vs warm", timing)


def run_checks(target: Target, *, kind: str | None = None, max_batch: int | None = None,
               artifact: str | Path | None = None, example_request: Any = None, warm_requests: int = 5,
               retry: RetryPolicy | None = None, session: Any = None, sagemaker_client: Any = None,
               manifest: Any = None) -> CheckReport:
    """Every check for `target`; never raises for what the endpoint answers (that is in the report).

    kind: "embeddings" | "sklearn" | None (from the manifest, else probed). artifact: a model.tar.gz (or unpacked
    directory) whose manifest gives kind, max batch, dimensions and the example request; or `manifest` itself
    (an inference.manifest.Manifest, or its JSON dict as a stack output carries it).
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (or None to detect it), got {kind!r}")
    report = CheckReport(target)
    dimensions, how = None, "given"
    if artifact is not None or manifest is not None:
        from inference.manifest import Manifest, read_manifest

        where = f"the artifact {artifact}" if artifact is not None else "the manifest given"
        if artifact is not None:
            manifest = read_manifest(artifact)
        elif not isinstance(manifest, Manifest):
            manifest = Manifest.from_dict(manifest)
        if kind is None:
            kind, how = ("embeddings" if manifest.framework == "huggingface" else "sklearn"), "the artifact's"
        max_batch = max_batch or manifest.handler.max_batch
        dimensions = manifest.model.dimensions
        example_request = example_request if example_request is not None else manifest.handler.example_request
        report.notes.append(f"limits and example from {where}")
    transport = EndpointTransport(
        target.endpoint, region=target.region, endpoint_url=target.endpoint_url, session=session,
        sagemaker_endpoint_url=target.sagemaker_endpoint_url, sagemaker_client=sagemaker_client,
        describe=None if sagemaker_client is None else True, retry=retry or CHECK_RETRY, concurrency=1)
    r = _Runner(transport, report)
    _describe_check(r, transport.info)
    if kind is None:
        try:
            kind, how = probe_kind(r.call)
        except EndpointError as e:
            kind, how = None, f"the endpoint did not answer: {e}"
    report.kind = kind
    if kind is None:
        report.results.append(CheckResult("kind", False, how))
        report.metrics = transport.metrics.snapshot()
        return report
    report.results.append(CheckResult("kind", True, f"{kind} ({how})"))
    if kind == "embeddings":
        report.max_batch = max_batch or DEFAULT_MAX_BATCH
        if not max_batch:
            report.notes.append(f"max batch {DEFAULT_MAX_BATCH} is the handler's default; pass --max-batch or "
                                "--artifact if the endpoint's differs")
        _embeddings_checks(r, report.max_batch, dimensions)
        _latency_check(r, warm_requests, {"inputs": PARAPHRASE[0]})
    else:
        _sklearn_checks(r, example_request)
        _latency_check(r, warm_requests, example_request)
    report.metrics = transport.metrics.snapshot()
    return report


# ------------------------------------------------------------------------------------------ CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", required=True,
                        help="the SageMaker endpoint's name (stack output endpoints.*.name)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--region", help="AWS region of a deployed endpoint (default: the AWS config's)")
    where.add_argument("--endpoint-url", help="the local endpoint, e.g. http://127.0.0.1:8080 (`inference serve`)")
    parser.add_argument("--kind", choices=KINDS, help="endpoint kind (default: the artifact's, else probed)")
    parser.add_argument("--max-batch", type=int, help=f"embeddings per request the endpoint allows (default: the "
                                                      f"artifact's handler.max_batch, else {DEFAULT_MAX_BATCH})")
    parser.add_argument("--artifact", type=Path, help="the endpoint's model.tar.gz: kind, max batch, dimensions "
                                                      "and example request from its manifest")
    parser.add_argument("--example-request", help="scikit-learn: a valid request body as JSON (default: the "
                                                  "artifact's example)")
    parser.add_argument("--warm", type=int, default=5, help="warm requests timed after the checks (default 5)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for CI)")
    parser.add_argument("--sagemaker-endpoint-url", help=argparse.SUPPRESS)  # a control-plane stand-in (tests)


def run(args: argparse.Namespace) -> int:
    example = None
    try:
        if args.example_request:
            example = json.loads(args.example_request)
        if args.max_batch is not None and args.max_batch < 1:
            raise ValueError(f"--max-batch must be at least 1, got {args.max_batch}")
        target = Target(args.endpoint, region=args.region, endpoint_url=args.endpoint_url,
                        sagemaker_endpoint_url=args.sagemaker_endpoint_url)
        report = run_checks(target, kind=args.kind, max_batch=args.max_batch, artifact=args.artifact,
                            example_request=example, warm_requests=max(0, args.warm))
    except (ValueError, OSError) as e:  # bad JSON, unreadable artifact, no region
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else report.render())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.tools.check", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
