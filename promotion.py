"""Promotion: an endpoint whose config says `artifact: {promote_from: dev}` deploys exactly the artifact that the
dev stack deployed, never a rebuild.

The source stack's outputs are read through a pulumi.StackReference (`endpoints.<name>`: artifact URI, sha256,
version, manifest and measured peak RSS, which every stack of this program exports). Each promoted artifact
is checked like a local one (a well-formed URI and sha256, built for this endpoint's image, fits its memory
tier); a problem is a ConfigError naming the config key. `gate` makes the stack's AWS provider wait for those
checks, so a bad promotion fails before any AWS resource is created or changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from artifacts import PromotedArtifact, check_fits
from inference.manifest import ArtifactError, Manifest
from settings import ConfigError, EndpointSettings

_S3_URI = re.compile(r"s3://(?P<bucket>[^/]+)/(?P<key>.+)")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Promoted:
    """What the source stack deployed for one endpoint, checked."""

    stack: str
    bucket: str
    key: str
    sha256: str
    version_id: str | None
    manifest: Manifest
    peak_rss_mb: float | None


def stack_reference_name(stack: str) -> str:
    """A stack of this project by its name, or a fully qualified organization/project/stack as given."""
    if stack.count("/") == 2:
        return stack
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack.split('/')[-1]}"


def check_promoted(ep: EndpointSettings, art: PromotedArtifact, stack: str, endpoints: Any) -> Promoted:
    """The source stack's `endpoints` output -> this endpoint's checked artifact; ConfigError names the key."""
    if not isinstance(endpoints, Mapping):
        raise ConfigError(
            f"{art.key}: stack {stack!r} has no `endpoints` output (not deployed yet, or not by this program); "
            "allowed: a stack of this project that has been released (`python release.py STACK`)"
        )
    entry = endpoints.get(art.endpoint)
    if not isinstance(entry, Mapping):
        raise ConfigError(
            f"{art.key}: stack {stack!r} has no endpoint {art.endpoint!r} (it has: {', '.join(sorted(endpoints))}); "
            "allowed: promote an endpoint from a stack that deploys an endpoint of the same name"
        )
    uri, sha = entry.get("artifact_uri"), entry.get("artifact_sha256")
    m = _S3_URI.fullmatch(uri) if isinstance(uri, str) else None
    if m is None or not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
        raise ConfigError(
            f"{art.key}: stack {stack!r} endpoint {art.endpoint!r} exports artifact_uri {uri!r} and artifact_sha256 "
            f"{sha!r}; allowed: an s3:// URI and a 64-hex sha256 (release that stack with this program first)"
        )
    try:
        manifest = Manifest.from_dict(json.loads(entry.get("artifact_manifest") or "null"))
    except (ArtifactError, TypeError, ValueError) as e:
        raise ConfigError(f"{art.key}: stack {stack!r} endpoint {art.endpoint!r}: {e}; allowed: a stack released "
                          "by this version of the program") from e
    peak = entry.get("artifact_peak_rss_mb")
    peak = float(peak) if isinstance(peak, int | float) else None
    check_fits(ep, manifest, peak, f"stack {stack!r}'s artifact {uri}")
    version = entry.get("artifact_version_id")
    return Promoted(stack, m["bucket"], m["key"], sha, version if isinstance(version, str) and version else None,
                    manifest, peak)


def read_promotions(
    endpoints: list[EndpointSettings], artifacts: Mapping[str, Any]
) -> dict[str, pulumi.Output[Promoted]]:
    """{endpoint name: Output of its checked Promoted} for every promoted endpoint; one StackReference per stack."""
    refs: dict[str, pulumi.StackReference] = {}
    out: dict[str, pulumi.Output[Promoted]] = {}
    for ep in endpoints:
        art = artifacts[ep.name]
        if not isinstance(art, PromotedArtifact):
            continue
        full = stack_reference_name(art.stack)
        if full not in refs:
            refs[full] = pulumi.StackReference(full)
        out[ep.name] = _checked(ep, art, full, refs[full])
    return out


def _checked(ep: EndpointSettings, art: PromotedArtifact, full: str, ref: pulumi.StackReference):
    async def read() -> Promoted:
        try:
            endpoints = await ref.get_output("endpoints").future()
        except Exception as e:  # the engine cannot read the stack: name the key that asked for it
            raise ConfigError(
                f"{art.key}: cannot read stack {full!r} ({e}); allowed: an existing stack of this project "
                "that has been released (`pulumi stack ls`), or a fully qualified organization/project/stack"
            ) from e
        return check_promoted(ep, art, full, endpoints)

    return pulumi.Output.from_input(read())


def gate(promotions: Mapping[str, pulumi.Output[Promoted]], value: str) -> pulumi.Input[str]:
    """`value` once every promotion checked out (the provider's region: every AWS resource waits on it)."""
    if not promotions:
        return value
    return pulumi.Output.all(*promotions.values()).apply(lambda _: value)
