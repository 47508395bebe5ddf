"""A scripted SageMaker client for the unit tests of releasing/live.py, rollback.py and capacity.py: each call is
recorded with its arguments, DescribeEndpoint answers from a script, and the errors are botocore's own classes
(ClientError with AWS's error shape, WaiterError, EndpointConnectionError), so the code under test handles exactly
what boto3 raises. The whole release against SageMaker over HTTP is tested with fake_sagemaker.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError, WaiterError


def client_error(code: str, message: str, op: str = "DescribeEndpoint") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


def not_found(name: str) -> ClientError:
    return client_error("ValidationException",
                        f'Could not find endpoint "arn:aws:sagemaker:us-east-1:1:endpoint/{name}".')


def connection_error() -> EndpointConnectionError:
    return EndpointConnectionError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com/")


def max_attempts() -> WaiterError:
    return WaiterError("EndpointInService", "Max attempts exceeded", {})


def waiter_failed(reason: str = "Waiter encountered a terminal failure state") -> WaiterError:
    return WaiterError("EndpointInService", reason, {})


def endpoint(status: str, config: str, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    out = {"EndpointStatus": status, "EndpointConfigName": config, **extra}
    if reason:
        out["FailureReason"] = reason
    return out


@dataclass
class StubSageMaker:
    """`states[name]`: what DescribeEndpoint answers, in order (the last one stays), a dict or an exception;
    `configs`: the endpoint configs that exist; `waits[name]`: what each wait raises in order (None: it returns)."""

    states: dict[str, list[Any]] = field(default_factory=dict)
    configs: set[str] = field(default_factory=set)
    waits: dict[str, list[Exception | None]] = field(default_factory=dict)
    update_error: Exception | None = None
    calls: list[tuple[str, dict]] = field(default_factory=list)

    def describe_endpoint(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("describe_endpoint", kw))
        script = self.states.get(kw["EndpointName"]) or [not_found(kw["EndpointName"])]
        answer = script[0] if len(script) == 1 else script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {"EndpointName": kw["EndpointName"], **answer}

    def describe_endpoint_config(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("describe_endpoint_config", kw))
        if kw["EndpointConfigName"] not in self.configs:
            raise client_error("ValidationException", "Could not find endpoint configuration", "DescribeEndpointConfig")
        return {"EndpointConfigName": kw["EndpointConfigName"]}

    def get_waiter(self, name: str) -> Any:
        stub = self

        class Waiter:
            def wait(self, **kw: Any) -> None:
                stub.calls.append((f"wait:{name}", kw))
                script = stub.waits.get(kw["EndpointName"], [])
                error = script.pop(0) if script else None
                if error is not None:
                    raise error

        return Waiter()

    def update_endpoint(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("update_endpoint", kw))
        if self.update_error is not None:
            raise self.update_error
        return {}

    def update_endpoint_weights_and_capacities(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("update_endpoint_weights_and_capacities", kw))
        return {}

    def ops(self, *names: str) -> list[tuple[str, dict]]:
        return [(op, kw) for op, kw in self.calls if op in names]
