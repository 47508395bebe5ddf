"""Pulumi mocks that answer like AWS where the program depends on it, and a runner for the real program.

Why mocks: no Pulumi CLI and no AWS account here. What the program relies on is reproduced: auto-naming
(logical name + "-" + 7 hex chars, only when the name input is absent), ARNs in each service's format with
the provider's region and the caller's account, per-region registry accounts of the prebuilt SageMaker
images (an unknown repository/region fails as the provider does), and IAM policy documents rendered from
their statements like aws.iam.get_policy_document (single values stay strings, lists stay lists).
A recording monitor also keeps each registration's resource options (protect, parent, dependencies, provider),
which the engine would otherwise apply silently.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import os
import runpy
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
ORGANIZATION = "organization"  # what a self-managed backend calls every stack's organization
PARTITION = "aws"

# Registry accounts of the prebuilt images (pulumi-aws get_prebuilt_ecr_image table; docs/aws-facts.md).
REGISTRY_ACCOUNTS: dict[str, dict[str, str]] = {
    "huggingface-pytorch-inference": {
        "*": "763104351884",
        "af-south-1": "626614931356",
        "ap-east-1": "871362719292",
        "me-south-1": "217643126080",
        "il-central-1": "780543022126",
    },
    "sagemaker-scikit-learn": {
        "us-east-1": "683313688378",
        "us-east-2": "257758044811",
        "us-west-2": "246618743249",
        "eu-west-1": "141502667606",
    },
}

# type token -> (name input, ARN template) ; {r} region, {a} account, {n} physical name
NAMED: dict[str, tuple[str, str | None]] = {
    "aws:sagemaker/model:Model": ("name", "arn:aws:sagemaker:{r}:{a}:model/{ln}"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": (
        "name",
        "arn:aws:sagemaker:{r}:{a}:endpoint-config/{ln}",
    ),
    "aws:sagemaker/endpoint:Endpoint": ("name", "arn:aws:sagemaker:{r}:{a}:endpoint/{ln}"),
    "aws:iam/role:Role": ("name", "arn:aws:iam::{a}:role/{n}"),
    "aws:iam/policy:Policy": ("name", "arn:aws:iam::{a}:policy/{n}"),
    "aws:s3/bucket:Bucket": ("bucket", "arn:aws:s3:::{n}"),
    "aws:sns/topic:Topic": ("name", "arn:aws:sns:{r}:{a}:{n}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "arn:aws:cloudwatch:{r}:{a}:alarm:{n}"),
    "aws:appautoscaling/policy:Policy": ("name", None),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName", "arn:aws:cloudwatch::{a}:dashboard/{n}"),
}


def is_known(value: Any) -> bool:
    """False for what a preview sends in place of a value known only after `up`."""
    return value is not None and not isinstance(value, pulumi.output.Unknown)


def _unknowns_as_sentinels(value: Any) -> Any:
    """State echoes inputs; an input unknown in a preview goes back as the engine sends it: the unknown sentinel."""
    if isinstance(value, pulumi.output.Unknown):
        return pulumi.runtime.rpc.UNKNOWN
    if isinstance(value, dict):
        return {k: _unknowns_as_sentinels(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknowns_as_sentinels(v) for v in value]
    return value


def autoname(logical: str, lower: bool = False) -> str:
    """Pulumi's auto-name: logical name + '-' + 7 random hex characters."""
    name = f"{logical}-{uuid.uuid4().hex[:7]}"
    return name.lower() if lower else name


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def render_policy(statements: list[dict[str, Any]]) -> str:
    """What aws.iam.get_policy_document returns for these statement inputs (wire names, camelCase)."""
    out = []
    for s in statements or []:
        st: dict[str, Any] = {}
        if s.get("sid"):
            st["Sid"] = s["sid"]
        st["Effect"] = s.get("effect") or "Allow"
        if s.get("actions"):
            a = sorted(s["actions"])
            st["Action"] = a[0] if len(a) == 1 else a
        if s.get("resources"):
            r = sorted(s["resources"])
            st["Resource"] = r[0] if len(r) == 1 else r
        for p in s.get("principals") or []:
            ids = p["identifiers"]
            if p["type"] == "*" and ids == ["*"]:
                st["Principal"] = "*"
            else:
                st.setdefault("Principal", {})[p["type"]] = ids[0] if len(ids) == 1 else sorted(ids)
        for c in s.get("conditions") or []:
            vals = c["values"]
            st.setdefault("Condition", {}).setdefault(c["test"], {})[c["variable"]] = (
                vals[0] if len(vals) == 1 else vals
            )
        out.append(st)
    # a preview may name an ARN known only after `up`: rendered as a marker, like the plan shows it
    return json.dumps({"Version": "2012-10-17", "Statement": out}, indent=2, default=lambda _: "<known after up>")


@dataclass
class S3Object:
    sha256: str
    version_id: str


class AwsMocks(pulumi.runtime.Mocks):
    def __init__(self, account: str = ACCOUNT, names: dict[tuple[str, str], str] | None = None,
                 stacks: dict[str, dict[str, Any]] | None = None, objects: dict[tuple[str, str], list] | None = None):
        self.account = account
        # auto-names already given, as the engine's state keeps them across updates (share it between runs)
        self.names = names if names is not None else {}
        self.provider_regions: dict[str, str] = {}  # provider id -> region
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # other stacks' outputs by fully qualified name (what a StackReference reads); unknown names fail as the
        # engine fails them
        self.stacks = stacks if stacks is not None else {}
        # S3 as the program leaves it: (bucket, key) -> versions, newest last (share it between stacks' runs)
        self.objects: dict[tuple[str, str], list[S3Object]] = objects if objects is not None else {}

    def put_object(self, bucket: str, key: str, sha256: str) -> S3Object:
        obj = S3Object(sha256, uuid.uuid4().hex)
        self.objects.setdefault((bucket, key), []).append(obj)
        return obj

    def _copy(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """CopyObject: the source version (or the latest), with the SHA-256 S3 computes when asked to."""
        source, _, query = str(inputs["source"]).partition("?versionId=")
        bucket, _, key = source.partition("/")
        versions = self.objects.get((bucket, key), [])
        found = [v for v in versions if v.version_id == query] if query else versions[-1:]
        if not found:
            raise Exception(f"NoSuchKey: copy source {inputs['source']} does not exist")
        copied = self.put_object(inputs["bucket"], inputs["key"], found[-1].sha256)
        state = dict(inputs, versionId=copied.version_id, arn=f"arn:aws:s3:::{inputs['bucket']}/{inputs['key']}")
        if inputs.get("checksumAlgorithm") == "SHA256":
            state["checksumSha256"] = base64.b64encode(bytes.fromhex(found[-1].sha256)).decode()
        return state

    def _region(self, provider_ref: str | None) -> str:
        pid = (provider_ref or "").split("::")[-1]
        if pid not in self.provider_regions:
            raise AssertionError(f"resource or invoke without the stack's explicit provider: {provider_ref!r}")
        return self.provider_regions[pid]

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        rid, state = self._new_resource(args)
        return rid, _unknowns_as_sentinels(state)

    def _new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        typ, inputs = args.typ, dict(args.inputs)
        if typ == "pulumi:providers:aws":
            pid = f"{args.name}-provider-id"
            self.provider_regions[pid] = inputs.get("region")
            return pid, inputs
        if typ == "pulumi:pulumi:StackReference":
            name = inputs.get("name") or args.name
            if name not in self.stacks:
                raise Exception(f"unknown stack {name!r}")  # what the engine answers for a stack it cannot find
            return name, {"name": name, "outputs": self.stacks[name], "secretOutputNames": []}  # a read
        if not args.custom:  # a ComponentResource: no provider, no cloud state
            return "", inputs
        region = self._region(args.provider)
        state = dict(inputs)
        fmt = {"r": region, "a": self.account}
        if typ in NAMED:
            key, arn = NAMED[typ]
            physical = inputs.get(key) or self.names.setdefault(
                (typ, args.name), autoname(args.name, lower=typ == "aws:s3/bucket:Bucket")
            )
            state[key] = physical
            fmt.update(n=physical, ln=physical.lower())
            if arn:
                state["arn" if typ != "aws:cloudwatch/dashboard:Dashboard" else "dashboardArn"] = arn.format(**fmt)
            rid = physical
            if typ == "aws:s3/bucket:Bucket":
                state["bucketRegionalDomainName"] = f"{physical}.s3.{region}.amazonaws.com"
            if typ == "aws:appautoscaling/policy:Policy":
                state["arn"] = (
                    f"arn:aws:autoscaling:{region}:{self.account}:scalingPolicy:{uuid.uuid4()}:resource/"
                    f"{inputs['serviceNamespace']}/{inputs['resourceId']}:policyName/{physical}"
                )
            return rid, state
        if typ == "aws:kms/key:Key":
            kid = str(uuid.uuid4())
            state.update(keyId=kid, arn=f"arn:aws:kms:{region}:{self.account}:key/{kid}")
            return kid, state
        if typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            src = inputs.get("source")
            path = getattr(src, "path", None)
            if path is not None and is_known(inputs.get("key")):
                data = Path(path).read_bytes()
                state["etag"] = hashlib.md5(data).hexdigest()  # noqa: S324 (S3's ETag is MD5)
                state["versionId"] = self.put_object(inputs["bucket"], inputs["key"],
                                                     hashlib.sha256(data).hexdigest()).version_id
            state["arn"] = f"arn:aws:s3:::{inputs.get('bucket')}/{inputs.get('key')}"
            return inputs["key"] if is_known(inputs.get("key")) else f"{args.name}-id", state
        if typ == "aws:s3/objectCopy:ObjectCopy":
            return inputs["key"], self._copy(inputs)
        if typ == "aws:appautoscaling/target:Target":
            state["arn"] = f"arn:aws:application-autoscaling:{region}:{self.account}:scalable-target/{uuid.uuid4().hex}"
            return inputs["resourceId"], state
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        token, a = args.token, dict(args.args)
        self.calls.append((token, a))
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account,
                "arn": f"arn:aws:iam::{self.account}:user/test",
                "id": self.account,
                "userId": "AIDATEST",
            }
        if token == "aws:index/getPartition:getPartition":
            return {
                "partition": PARTITION,
                "dnsSuffix": "amazonaws.com",
                "id": PARTITION,
                "reverseDnsPrefix": "com.amazonaws",
            }
        if token == "aws:index/getRegion:getRegion":
            region = self._region(args.provider)
            return {
                "region": region,
                "name": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            }
        if token == "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage":
            region = a.get("region") or self._region(args.provider)
            repo, tag = a["repositoryName"], a.get("imageTag") or "1"
            table = REGISTRY_ACCOUNTS.get(repo, {})
            account = table.get(region) or table.get("*")
            if account is None:
                raise Exception(f"no registry ID available for region ({region}) and repository ({repo})")
            path = f"{account}.dkr.ecr.{region}.amazonaws.com/{repo}:{tag}"
            return {
                "id": account,
                "registryId": account,
                "registryPath": path,
                "repositoryName": repo,
                "imageTag": tag,
                "region": region,
                "dnsSuffix": "amazonaws.com",
            }
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            doc = render_policy(a.get("statements") or [])
            return {"json": doc, "minifiedJson": json.dumps(json.loads(doc), separators=(",", ":")), "id": "x"}
        raise AssertionError(f"unexpected invoke {token}")


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    protect: bool
    parent: str
    dependencies: list[str]
    provider: str
    urn: str
    aliases: list[str] = field(default_factory=list)  # full URNs this resource answers to from earlier programs
    retain_on_delete: bool = False  # the engine forgets it on delete and leaves it in AWS


class RecordingMonitor(MockMonitor):
    """MockMonitor that also keeps every registration's options and the state the mocks returned.

    URNs are made as the engine makes them: the parent's whole type chain (not just its last type, as
    MockMonitor does), and nothing for the root stack; so a URN here is the URN a deployed stack holds.
    It reports no support for alias specs, so the SDK sends each alias as the full URN it stands for; like the
    engine, it then gives every child the aliases its parent's aliases imply (`inherited`), so a component
    moved with an alias carries its children's old URNs too. Tests compare URNs directly.
    """

    def __init__(self, mocks: AwsMocks):
        super().__init__(mocks)
        self.registered: list[Registered] = []
        self.aliases: dict[str, list[str]] = {}  # urn -> the URNs it answers to from earlier programs

    def inherited(self, parent: str, type_: str, name: str) -> list[str]:
        """The child's URNs under each of its parent's former URNs (a `<parent>-x` name follows the parent's)."""
        out = []
        parent_name = parent.split("::")[-1] if parent else ""
        for alias in self.aliases.get(parent, []):
            alias_name = alias.split("::")[-1]
            child = alias_name + name[len(parent_name) :] if parent_name and name.startswith(parent_name) else name
            out.append(f"{alias[: alias.rfind('::')]}${type_}::{child}")
        return out

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        chain = parent.split("::")[2] if parent else ""
        if chain and chain != "pulumi:pulumi:Stack":
            type_ = f"{chain}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def SupportsFeature(self, request):  # noqa: N802 (gRPC method name)
        if request.id == "aliasSpecs":
            return type("SupportsFeatureResponse", (object,), {"hasSupport": False})
        return super().SupportsFeature(request)

    def GetDeploymentInfo(self, request):  # noqa: N802 (gRPC method name)
        info = super().GetDeploymentInfo(request)
        features = [f for f in info.supportedFeatures if f != resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.aliases[response.urn] = [
                *request.aliasURNs,
                *self.inherited(request.parent, request.type, request.name),
            ]
            reg = self.resources[response.urn]
            self.registered.append(
                Registered(
                    typ=request.type,
                    name=request.name,
                    inputs=pulumi.runtime.rpc.deserialize_properties(request.object),
                    state=dict(reg.state) if hasattr(reg, "state") else {},
                    protect=bool(request.protect),
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    provider=request.provider,
                    urn=response.urn,
                    aliases=self.aliases[response.urn],
                    retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                )
            )
        return response


@dataclass
class ProgramRun:
    resources: list[Registered]
    outputs: dict[str, Any]
    mocks: AwsMocks
    error: BaseException | None = None
    by_name: dict[str, Registered] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {r.name: r for r in self.resources}

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def get(self, name: str) -> Registered:
        if name not in self.by_name:
            raise AssertionError(f"no resource named {name!r}; declared: {sorted(self.by_name)}")
        return self.by_name[name]


def stack_config(stack: str) -> dict[str, Any]:
    """Pulumi.<stack>.yaml's config as the engine passes it (objects as JSON strings, scalars as strings)."""
    import yaml

    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {
        k: v
        if isinstance(v, str)
        else json.dumps(v)
        if isinstance(v, dict | list)
        else str(v).lower()
        if isinstance(v, bool)
        else str(v)
        for k, v in data.items()
    }


def run_program(
    config: dict[str, Any], stack: str, project: str = "sls-endpoints", names: dict | None = None, *,
    preview: bool = False, mocks: AwsMocks | None = None,
) -> ProgramRun:
    """Run the real __main__.py under mocks with `config`; collect declared resources and exported outputs.

    Pass the same `names` dict to successive runs to model updates of one stack (auto-names persist); pass
    `mocks` to share S3 objects and other stacks' outputs between runs (promotion); `preview` runs it as
    `pulumi preview` does (pulumi.runtime.is_dry_run()).
    """
    mocks = mocks if mocks is not None else AwsMocks(names=names)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor,
                             organization=ORGANIZATION)
    pulumi.runtime.set_all_config(dict(config))
    exports: dict[str, Any] = {}
    resolved: dict[str, Any] = {}
    error: list[BaseException] = []
    real_export = pulumi.export

    def export(name: str, value: Any) -> None:
        exports[name] = value

    @pulumi.runtime.test
    def _run():
        pulumi.export = export
        try:
            cwd = os.getcwd()
            os.chdir(ROOT)
            try:
                runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
            finally:
                os.chdir(cwd)
        except Exception as e:  # recorded: tests of bad config assert on it
            error.append(e)
            return None
        finally:
            pulumi.export = real_export
        return pulumi.Output.from_input(exports).apply(resolved.update)

    try:
        _run()
    except Exception as e:  # raised while resolving Outputs (e.g. a promotion's checks): recorded the same way
        error.append(e)
    finally:
        # A failed run leaves coroutines the engine never awaited; finalise them now. Left to a later garbage
        # collection, their RuntimeWarning can fire inside the compiler (pytest rewriting a module) and crash it
        # ("AST constructor recursion depth mismatch").
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gc.collect()
    return ProgramRun(
        resources=list(monitor.registered), outputs=resolved, mocks=mocks, error=error[0] if error else None
    )


def run_declarations(
    declare: Callable[[pulumi.ProviderResource], dict[str, Any]], region: str = "us-east-1", stack: str = "test"
) -> ProgramRun:
    """Run `declare(provider)` under mocks, with an explicit AWS provider for `region` as the program makes one;
    `declare` returns {name: value} (Outputs resolved into ProgramRun.outputs). For testing one component alone.
    """
    mocks = AwsMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="sls-endpoints", stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config({})
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def _run():
        import pulumi_aws as aws

        provider = aws.Provider("aws", region=region)
        return pulumi.Output.from_input(declare(provider)).apply(resolved.update)

    _run()
    return ProgramRun(resources=list(monitor.registered), outputs=resolved, mocks=mocks)
