"""SageMaker over real HTTP for the release tests: a moto server for what moto implements (models, endpoint
configs, endpoints, describe), and a small recorded front for what it does not: UpdateEndpoint, the status
transitions a waiter sees (Creating/Updating -> InService | Failed), SageMaker's own rollback of a failed update,
and sagemaker-runtime's InvokeEndpoint, answered per endpoint by inference.tools.serve apps on fake handlers.

boto3 reaches it through AWS_ENDPOINT_URL_SAGEMAKER and AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, so the code under
test creates its clients exactly as it does against AWS. Error shapes are the JSON 1.1 protocol's
({"__type": "ValidationException", "message": ...}, HTTP 400), as AWS sends them.
"""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference" / "client"))

from endpoint_fixtures import make_model_dir  # noqa: E402

from inference.tools.serve import create_app, load_handler, running_server  # noqa: E402

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLLED_BACK_REASON = ("The primary container for production variant AllTraffic did not pass the ping health check. "
                      "Please check CloudWatch logs for this endpoint.")
FAILED_REASON = "Unable to locate at least 2 availability zone(s) with the requested instance type."
IN_PROGRESS = ("Creating", "Updating")


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name.lower()}"


@dataclass
class Live:
    """What DescribeEndpoint answers next: `sequence[0]`, dropped after each describe until one is left."""

    sequence: list[tuple[str, str, str | None]]  # (status, config, FailureReason)

    def current(self) -> tuple[str, str, str | None]:
        return self.sequence[0]

    def advance(self) -> tuple[str, str, str | None]:
        state = self.sequence[0]
        if len(self.sequence) > 1:
            self.sequence.pop(0)
        return state


@dataclass
class FakeSageMaker:
    moto_url: str
    steps: int = 2  # describes an endpoint stays Creating/Updating before it settles
    live: dict[str, Live] = field(default_factory=dict)
    runtimes: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    # what the next CreateEndpoint / UpdateEndpoint of an endpoint does: "ok" | "rollback" | "fail" | "stuck"
    next_outcome: dict[str, str] = field(default_factory=dict)
    # live provisioned concurrency of AllTraffic (what autoscaling set); UpdateEndpoint resets it to the new
    # config's (none here), as SageMaker does without RetainAllVariantProperties
    provisioned: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------ control plane
    def moto(self, op: str, params: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.moto_url + "/", data=json.dumps(params).encode(), method="POST",
            headers={"X-Amz-Target": f"SageMaker.{op}", "Content-Type": "application/x-amz-json-1.1",
                     "Authorization": f"AWS4-HMAC-SHA256 Credential=x/20260101/{REGION}/sagemaker/aws4_request, "
                                      "SignedHeaders=host, Signature=x"})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def control(self, op: str, params: dict) -> tuple[int, dict]:
        self.calls.append((op, params))
        handler = getattr(self, f"_{op}", None)
        return handler(params) if handler else self.moto(op, params)

    def _sequence(self, outcome: str, busy: str, old: str | None, new: str) -> list[tuple[str, str, str | None]]:
        waiting = [(busy, old or new, None)] * self.steps
        final = {"ok": ("InService", new, None), "rollback": ("InService", old or new, ROLLED_BACK_REASON),
                 "fail": ("Failed", new, FAILED_REASON), "stuck": (busy, old or new, None)}[outcome]
        return [*waiting, final]

    def _CreateEndpoint(self, params: dict) -> tuple[int, dict]:
        status, body = self.moto("CreateEndpoint", params)
        if status == 200:
            name = params["EndpointName"]
            outcome = self.next_outcome.pop(name, "ok")
            self.live[name] = Live(self._sequence(outcome, "Creating", None, params["EndpointConfigName"]))
        return status, body

    def _UpdateEndpoint(self, params: dict) -> tuple[int, dict]:
        name, config = params["EndpointName"], params["EndpointConfigName"]
        status, ep = self.moto("DescribeEndpoint", {"EndpointName": name})
        if status != 200:
            return status, ep
        if self.moto("DescribeEndpointConfig", {"EndpointConfigName": config})[0] != 200:
            missing = arn("endpoint-config", config)
            return error("ValidationException", f'Could not find endpoint configuration "{missing}".')
        live = self.live.setdefault(name, Live([("InService", ep["EndpointConfigName"], None)]))
        now_status, old, _ = live.current()
        if now_status in IN_PROGRESS:
            return error("ValidationException", f'Cannot update in-progress endpoint "{arn("endpoint", name)}".')
        outcome = self.next_outcome.pop(name, "ok")
        live.sequence = self._sequence(outcome, "Updating", old, config)
        self.provisioned.pop(name, None)
        return 200, {"EndpointArn": arn("endpoint", name)}

    def _UpdateEndpointWeightsAndCapacities(self, params: dict) -> tuple[int, dict]:  # moto ignores serverless
        name = params["EndpointName"]
        for d in params["DesiredWeightsAndCapacities"]:
            pc = (d.get("ServerlessUpdateConfig") or {}).get("ProvisionedConcurrency")
            if pc is not None:
                self.provisioned[name] = pc
        return 200, {"EndpointArn": arn("endpoint", name)}

    def _DescribeEndpoint(self, params: dict) -> tuple[int, dict]:
        status, body = self.moto("DescribeEndpoint", params)
        live = self.live.get(params["EndpointName"])
        if status == 200 and live is not None:
            state, config, reason = live.advance()
            body.update(EndpointStatus=state, EndpointConfigName=config)
            if params["EndpointName"] in self.provisioned:
                for v in body.get("ProductionVariants", []):
                    v.setdefault("CurrentServerlessConfig", {})["ProvisionedConcurrency"] = \
                        self.provisioned[params["EndpointName"]]
            body.pop("FailureReason", None)
            if reason:
                body["FailureReason"] = reason
        return status, body

    def _DeleteEndpoint(self, params: dict) -> tuple[int, dict]:
        self.live.pop(params["EndpointName"], None)
        return self.moto("DeleteEndpoint", params)

    def ops(self, *names: str) -> list[tuple[str, dict]]:
        return [(op, p) for op, p in self.calls if op in names]

    # ------------------------------------------------------------------------------------ runtime
    def serve(self, endpoint: str, model_dir: Path, kind: str = "embedder", *, cold_start_s: float = 0.0,
              **config: Any) -> None:
        """Answer sagemaker-runtime InvokeEndpoint for `endpoint` with the fake handler of `kind` (cold_start_s:
        ModelNotReadyException for that long from the first request, as a serverless cold start)."""
        handler = load_handler(make_model_dir(model_dir, kind, **config))
        self.runtimes[endpoint] = create_app(handler, name=endpoint, max_concurrency=5, cold_start_s=cold_start_s)

    def asgi(self):
        """One ASGI app: POST / is the control plane (X-Amz-Target), /endpoints/NAME/invocations the runtime."""
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        async def app(scope, receive, send):
            path = scope.get("path", "")
            if scope["type"] == "http" and path.startswith("/endpoints/"):
                name = path.split("/")[2]
                runtime = self.runtimes.get(name)
                if runtime is not None:
                    return await runtime(scope, receive, send)
                response = JSONResponse({"Message": f"Endpoint {name} of account {ACCOUNT} not found."}, 400,
                                        headers={"x-amzn-ErrorType": "ValidationError"})
                return await response(scope, receive, send)
            if scope["type"] != "http":
                return
            request = Request(scope, receive)
            op = request.headers.get("x-amz-target", "").split(".")[-1]
            params = json.loads(await request.body() or b"{}")
            status, body = self.control(op, params)
            await JSONResponse(body, status, media_type="application/x-amz-json-1.1")(scope, receive, send)

        return app


def error(code: str, message: str, status: int = 400) -> tuple[int, dict]:
    return status, {"__type": code, "message": message}


@contextlib.contextmanager
def fake_sagemaker() -> Iterator[tuple[FakeSageMaker, str]]:
    """(the fake, its URL): a moto server behind the recorded front, both on loopback ports."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from moto.server import ThreadedMotoServer
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        # moto keeps its backends per process, not per server: start every test from an empty account
        urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))
        fake = FakeSageMaker(f"http://{host}:{port}")
        with running_server(fake.asgi()) as url:
            yield fake, url
    finally:
        moto.stop()
