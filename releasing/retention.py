"""Retention: keep the models, endpoint configs and artifact objects of an endpoint's last N releases; prune the rest.

Why: the stack never lets Pulumi delete a replaced Model or EndpointConfiguration (retain_on_delete), nor a
replaced artifact object, so that a rollback is one UpdateEndpoint to a config that still exists and the model
serving during an update can still cold-start from its artifact. Something must remove the old ones, and only
once a release is verified: the release script calls `prune` after its checks pass.

Never pruned: the config the endpoint runs now (live, which after a silent rollback is not the declared one),
the declared one, the N newest, the models those configs use and the artifacts those models load. Only
resources tagged with this stack and project (the provider's default tags) are considered, so two stacks in one
account, whose auto-names share a prefix, never prune each other's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

Log = Callable[[str], None]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the stack as its outputs name it."""

    key: str  # the endpoint's short name in the stack (auto-names start with it: <key>-model-..., <key>-config-...)
    endpoint_name: str
    declared_config: str
    bucket: str


@dataclass
class Pruned:
    kept_configs: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)  # s3 keys


def _owned(sm: Any, arn: str, tags: dict[str, str]) -> bool:
    have = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn).get("Tags", [])}
    return all(have.get(k) == v for k, v in tags.items())


def _listed(client: Any, operation: str, key: str, **kw: Any) -> Iterable[dict]:
    """Every item of every page (boto3's paginator follows NextToken; `key` is a required member of the answer)."""
    for page in client.get_paginator(operation).paginate(**kw):
        yield from page[key]


def prune(sm: Any, s3: Any, endpoint: Endpoint, *, keep: int, tags: dict[str, str], log: Log | None = None,
          dry_run: bool = False) -> Pruned:
    """Delete what lies beyond the last `keep` releases of `endpoint`; returns what was (or would be) deleted."""
    say = log or (lambda _msg: None)
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the release just verified), got {keep}")
    live = sm.describe_endpoint(EndpointName=endpoint.endpoint_name)["EndpointConfigName"]
    listed = _listed(sm, "list_endpoint_configs", "EndpointConfigs", NameContains=f"{endpoint.key}-config-")
    configs = [c for c in listed
               if c["EndpointConfigName"].startswith(f"{endpoint.key}-config-")
               and _owned(sm, c["EndpointConfigArn"], tags)]
    # newest first, sorted here over every page (ties, within one second, by name: deterministic)
    configs.sort(key=lambda c: (c["CreationTime"], c["EndpointConfigName"]), reverse=True)
    names = [c["EndpointConfigName"] for c in configs]
    kept = set(names[:keep]) | {live, endpoint.declared_config}
    out = Pruned(kept_configs=[n for n in names if n in kept])

    used_models: set[str] = set()
    for name in sorted(kept):  # sorted: the same calls, in the same order, on every run
        try:
            variants = sm.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
        except ClientError:
            continue
        used_models |= {v["ModelName"] for v in variants}
    used_artifacts: set[str] = set()
    for model in sorted(used_models):
        try:
            url = sm.describe_model(ModelName=model)["PrimaryContainer"]["ModelDataUrl"]
        except ClientError:
            continue
        used_artifacts.add(url.removeprefix(f"s3://{endpoint.bucket}/"))

    for name in names:
        if name not in kept:
            say(f"{endpoint.key}: deleting endpoint config {name} (older than the last {keep} releases)")
            if not dry_run:
                sm.delete_endpoint_config(EndpointConfigName=name)
            out.configs.append(name)
    for m in _listed(sm, "list_models", "Models", NameContains=f"{endpoint.key}-model-"):
        name = m["ModelName"]
        if name.startswith(f"{endpoint.key}-model-") and name not in used_models and _owned(sm, m["ModelArn"], tags):
            say(f"{endpoint.key}: deleting model {name} (no kept config uses it)")
            if not dry_run:
                sm.delete_model(ModelName=name)
            out.models.append(name)
    prefix = f"artifacts/{endpoint.key}/"
    for v in _paged_s3_versions(s3, endpoint.bucket, prefix):
        if v["Key"] in used_artifacts:
            continue
        if v["Key"] not in out.artifacts:
            say(f"{endpoint.key}: deleting s3://{endpoint.bucket}/{v['Key']} (no kept model loads it)")
            out.artifacts.append(v["Key"])
        if not dry_run:
            s3.delete_object(Bucket=endpoint.bucket, Key=v["Key"], VersionId=v["VersionId"])
    return out


def _paged_s3_versions(s3: Any, bucket: str, prefix: str) -> Iterable[dict]:
    """Every version and delete marker below prefix (the bucket is versioned: deleting a key needs them all)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Versions", [])
        yield from page.get("DeleteMarkers", [])
