"""The Automation API boundary, faked: `pulumi.automation.select_stack` returns a FakeStack whose preview, up,
refresh and destroy take the real keyword arguments and return the real result classes (PreviewResult,
UpResult with OutputValue outputs, ...), and whose preview feeds `on_event` with real EngineEvent /
ResourcePreEvent / StepEventMetadata objects. Errors are the real pulumi.automation exceptions.

`up` does what pulumi-aws does for a new artifact, through boto3 against the fake SageMaker: a new model and
endpoint config, then CreateEndpoint or UpdateEndpoint, and reports success without looking at the outcome
(the provider's bug the release guards against). Its outputs have the program's shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from pulumi import automation as auto

from inference.build.containers import HF_PY312, SKLEARN_1_4
from inference.manifest import ContainerRef, HandlerInfo, Manifest, ModelInfo

ENDPOINT_TYPE = "aws:sagemaker/endpoint:Endpoint"
SCORER_EXAMPLE = {"instances": [[0.2, 0.9]]}


def manifest(kind: str) -> dict[str, Any]:
    """The artifact manifest the stack exports for a fake endpoint of `kind` (matching the fake handlers)."""
    if kind == "embedder":
        m = Manifest(framework="huggingface", container=ContainerRef(**HF_PY312.as_dict()), runtime="onnx-int8",
                     handler=HandlerInfo(program="inference.py", max_batch=4), model=ModelInfo(file="model.onnx",
                                                                                               dimensions=64))
    else:
        m = Manifest(framework="sklearn", container=ContainerRef(**SKLEARN_1_4.as_dict()), runtime="sklearn",
                     handler=HandlerInfo(program="inference.py", example_request=SCORER_EXAMPLE),
                     model=ModelInfo(file="model.joblib"))
    return m.to_dict()


def urn(stack: str, typ: str, name: str) -> str:
    return f"urn:pulumi:{stack}::sls-endpoints::sls:InferenceEndpoint${typ}::{name}"


@dataclass
class FakePulumi:
    """What the fake Automation API does; tests set the failure fields."""

    stack: str
    endpoints: dict[str, tuple[str, str]]  # output key -> (SageMaker endpoint name, fake handler kind)
    release: int = 0
    calls: list[tuple[str, dict]] = field(default_factory=list)
    select_error: Exception | None = None
    whoami_error: Exception | None = None
    errors: dict[str, Exception] = field(default_factory=dict)  # operation -> raised
    plan_ops: dict[str, str] = field(default_factory=dict)  # endpoint key -> op of its Endpoint step
    extra_steps: list[tuple[str, str, str]] = field(default_factory=list)  # more (op, type, name) in the plan
    preview_events: bool = True  # False: the preview streams no step events (only its result's change summary)
    destroy_result: str = "succeeded"
    up_result: str = "succeeded"
    left_out: set[str] = field(default_factory=set)  # outputs `up` does not export: "artifact_bucket", or a key
    # the provider's bug: after an update it believes done, it deletes the previous config (still serving after
    # SageMaker's rollback); the stack's retention of recent configs is what prevents this in the real program
    delete_previous_configs: bool = False

    def select_stack(self, stack_name: str, work_dir: str | None = None, **kw: Any) -> FakeStack:
        self.calls.append(("select", {"stack_name": stack_name, "work_dir": work_dir, **kw}))
        if self.select_error:
            raise self.select_error
        return FakeStack(self)

    def sagemaker(self) -> Any:
        return boto3.client("sagemaker")  # endpoint URL and keys from the environment, as the provider's


class FakeWorkspace:
    def __init__(self, world: FakePulumi):
        self.world = world

    def who_am_i(self) -> auto.WhoAmIResult:
        if self.world.whoami_error:
            raise self.world.whoami_error
        return auto.WhoAmIResult(user="ci", url="file:///tmp/backend")


class FakeStack:
    def __init__(self, world: FakePulumi):
        self.world, self.workspace = world, FakeWorkspace(world)

    def _call(self, op: str, kw: dict) -> None:
        self.world.calls.append((op, kw))
        kw["on_output"](f"[fake pulumi {op}]")
        if op in self.world.errors:
            raise self.world.errors[op]

    def _summary(self, kind: str, result: str = "succeeded") -> auto.UpdateSummary:
        return auto.UpdateSummary(kind=kind, start_time=datetime.now(), message="", environment={}, config={},
                                  result=result, end_time=datetime.now())

    def refresh(self, **kw: Any) -> auto.RefreshResult:
        self._call("refresh", kw)
        return auto.RefreshResult("", "", self._summary("refresh"))

    def preview(self, **kw: Any) -> auto.PreviewResult:
        self._call("preview", kw)
        w, counts = self.world, {}
        steps = []
        for key in w.endpoints:
            steps += [("create", "aws:sagemaker/model:Model", f"{key}-model"),
                      ("create", "aws:sagemaker/endpointConfiguration:EndpointConfiguration", f"{key}-config"),
                      (w.plan_ops.get(key, "update"), ENDPOINT_TYPE, f"{key}-endpoint")]
        steps.append(("same", "aws:s3/bucketV2:BucketV2", "artifacts"))
        steps += w.extra_steps
        for i, (op, typ, name) in enumerate(steps):
            meta = auto.StepEventMetadata(op=auto.OpType(op), urn=urn(w.stack, typ, name), type=typ, provider="")
            event = auto.EngineEvent(sequence=i, timestamp=0, resource_pre_event=auto.ResourcePreEvent(meta))
            if kw.get("on_event") and w.preview_events:
                kw["on_event"](event)
            counts[auto.OpType(op)] = counts.get(auto.OpType(op), 0) + 1
        return auto.PreviewResult("", "", counts)

    def up(self, **kw: Any) -> auto.UpResult:
        self._call("up", kw)
        w = self.world
        w.release += 1
        sm = w.sagemaker()
        endpoints = {}
        for key, (name, kind) in w.endpoints.items():
            # auto-named as Pulumi names them (<component>-<role>-<suffix>), tagged as the provider's default tags
            model, config = f"{key}-model-r{w.release}", f"{key}-config-r{w.release}"
            tags = [{"Key": "project", "Value": "sls-endpoints"}, {"Key": "stack", "Value": w.stack}]
            sm.create_model(ModelName=model, ExecutionRoleArn="arn:aws:iam::123456789012:role/exec", Tags=tags,
                            PrimaryContainer={"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/x:1",
                                              "ModelDataUrl": f"s3://artifacts/{key}/model.tar.gz"})
            sm.create_endpoint_config(EndpointConfigName=config, Tags=tags, ProductionVariants=[{
                "VariantName": "AllTraffic", "ModelName": model,
                "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 5}}])
            try:
                sm.describe_endpoint(EndpointName=name)
            except sm.exceptions.ClientError:
                sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
            else:
                sm.update_endpoint(EndpointName=name, EndpointConfigName=config)
                if w.delete_previous_configs:
                    sm.delete_endpoint_config(EndpointConfigName=f"{key}-config-r{w.release - 1}")
            endpoints[key] = {
                "name": name, "arn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
                "config_name": config, "model_name": model, "variant_name": "AllTraffic",
                "artifact_sha256": f"{w.release:02d}" + "ab" * 31, "artifact_manifest": json.dumps(manifest(kind)),
                "region": "us-east-1",
            }
        endpoints = {k: v for k, v in endpoints.items() if k not in w.left_out}
        outputs = {"endpoints": auto.OutputValue(endpoints, False), "artifact_bucket": auto.OutputValue("b-1", False)}
        outputs = {k: v for k, v in outputs.items() if k not in w.left_out}
        return auto.UpResult("", "", self._summary("update", w.up_result), outputs)

    def destroy(self, **kw: Any) -> auto.DestroyResult:
        self._call("destroy", kw)
        return auto.DestroyResult("", "", self._summary("destroy", self.world.destroy_result))
