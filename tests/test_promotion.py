"""Promotion (promotion.py + the artifact store's ObjectCopy): a stack whose endpoints say `promote_from: dev`
deploys the bytes dev deployed, copied into its own bucket under the same content-addressed key, verified by
the SHA-256 S3 computes for the copy, and never builds. A promotion that cannot be checked fails before any AWS
resource, naming the config key.

Both stacks run for real under the mocks, sharing one S3 (AwsMocks.objects) and the dev stack's outputs as a
StackReference reads them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fake_artifacts import FakeBuilders, use_fake_builds
from pulumi_mocks import ORGANIZATION, AwsMocks, ProgramRun, run_program, stack_config

from components.artifact_store import object_key

P = "sls-endpoints:endpoints"
DEV = f"{ORGANIZATION}/sls-endpoints/dev"


class NoBuilds(dict):
    """Builders that fail the test if a promoted stack ever builds."""

    def __init__(self):
        super().__init__(embeddings=self._fail, sklearn=self._fail)

    def _fail(self, recipe, out_dir, container):
        raise AssertionError(f"a promoted endpoint must never build (asked for {recipe})")


def promoting(stack: str = "prod", source: str = "dev", edit=None) -> dict[str, Any]:
    """The stack's config with every endpoint's artifact promoted from `source`."""
    config = stack_config(stack)
    endpoints = json.loads(config[f"{P}"])
    for ep in endpoints:
        ep["artifact"] = {"promote_from": source}
    if edit:
        edit(endpoints)
    config[P] = json.dumps(endpoints)
    return config


@pytest.fixture
def released_dev(tmp_path, monkeypatch) -> tuple[AwsMocks, ProgramRun]:
    """dev deployed with its own builds; its outputs become what a StackReference to it reads."""
    use_fake_builds(monkeypatch, tmp_path / "build", FakeBuilders(peak_rss_mb=300))
    mocks = AwsMocks()
    dev = run_program(stack_config("dev"), "dev", mocks=mocks)
    assert dev.error is None, dev.error
    mocks.stacks[DEV] = copy.deepcopy(dev.outputs)
    mocks.provider_regions.clear()
    monkeypatch.setattr("inference.build.cache.BUILDERS", NoBuilds())
    return mocks, dev


def aws_resources(run: ProgramRun) -> list[str]:
    return [r.name for r in run.resources if r.typ.startswith("aws:") or r.typ == "pulumi:providers:aws"]


def test_prod_deploys_the_exact_bytes_dev_deployed_without_building(released_dev):
    mocks, dev = released_dev
    prod = run_program(promoting(), "prod", mocks=mocks)
    assert prod.error is None, prod.error
    assert not prod.of_type("aws:s3/bucketObjectv2:BucketObjectv2"), "a promoted artifact is copied, not uploaded"
    prod_bucket = prod.get("artifacts-bucket").state["bucket"]
    for name, out in dev.outputs["endpoints"].items():
        sha = out["artifact_sha256"]
        dev_key = object_key(name, sha)
        assert out["artifact_uri"].endswith(f"/{dev_key}")
        copy_ = prod.get(f"artifacts-{name}-artifact-copy")
        assert copy_.inputs["key"] == dev_key, "same content-addressed key as in dev"
        dev_bucket = out["artifact_uri"].removeprefix("s3://").split("/")[0]
        assert copy_.inputs["source"] == f"{dev_bucket}/{dev_key}?versionId={out['artifact_version_id']}"
        assert copy_.inputs["checksumAlgorithm"] == "SHA256" and copy_.inputs["taggingDirective"] == "REPLACE"
        assert mocks.objects[(prod_bucket, dev_key)][-1].sha256 == sha
        model = prod.get(f"{name}-model")
        assert model.inputs["primaryContainer"]["modelDataUrl"] == f"s3://{prod_bucket}/{dev_key}"
        assert prod.outputs["endpoints"][name]["artifact_sha256"] == sha
        assert prod.outputs["endpoints"][name]["artifact_manifest"] == out["artifact_manifest"]
    # the environment came from dev's manifest: the scikit-learn image finds the handler through it
    env = prod.get("call-time-model").inputs["primaryContainer"]["environment"]
    dev_manifest = json.loads(dev.outputs["endpoints"]["call-time"]["artifact_manifest"])
    assert env["SAGEMAKER_PROGRAM"] == dev_manifest["handler"]["program"]


def test_a_source_object_that_is_not_the_released_bytes_deploys_nothing(released_dev):
    mocks, dev = released_dev
    out = mocks.stacks[DEV]["endpoints"]["embeddings"]
    out["artifact_sha256"] = "0" * 64  # the stack says one thing, the object holds another
    out["artifact_uri"] = out["artifact_uri"]  # same object
    prod = run_program(promoting(), "prod", mocks=mocks)
    assert prod.error is not None and "S3 computed SHA-256" in str(prod.error)
    assert "embeddings-model" not in prod.by_name, "no Model may point at bytes that failed verification"


PROMOTION_ERRORS = [
    ("stack does not exist", lambda eps: [ep["artifact"].update(promote_from="qa") for ep in eps],
     [f"{P}[0].artifact.promote_from", "cannot read stack 'organization/sls-endpoints/qa'"]),
    ("stack lacks the endpoint", lambda eps: eps[0].update(name="search"),
     [f"{P}[0].artifact.promote_from", "has no endpoint 'search'", "call-time, embeddings"]),
    ("built for another image tag", lambda eps: eps[1]["image"].update(tag="1.2-1-cpu-py3"),
     [f"{P}[1].artifact.promote_from", "built for", "image tag '1.4-2-cpu-py3'"]),
    ("stack exports no manifest", None, [f"{P}[0].artifact.promote_from", "manifest", "released by this version"]),
]


@pytest.mark.parametrize(("case", "edit", "expected"), PROMOTION_ERRORS, ids=[c[0] for c in PROMOTION_ERRORS])
def test_a_promotion_that_cannot_be_checked_fails_before_any_aws_resource(released_dev, case, edit, expected):
    mocks, _ = released_dev
    if edit is None:  # a stack deployed by an older program: no manifest among its outputs
        del mocks.stacks[DEV]["endpoints"]["embeddings"]["artifact_manifest"]
    prod = run_program(promoting(edit=edit), "prod", mocks=mocks)
    assert prod.error is not None, case
    for part in expected:
        assert part in str(prod.error), f"{case}: {part!r} missing from: {prod.error}"
    assert aws_resources(prod) == [], f"{case}: declared before the promotion was checked: {aws_resources(prod)}"


def test_a_promoted_artifact_is_held_to_the_memory_tier_it_measured_in_dev(released_dev):
    mocks, _ = released_dev
    mocks.stacks[DEV]["endpoints"]["embeddings"]["artifact_peak_rss_mb"] = 700.0

    prod = run_program(promoting(), "prod", mocks=mocks)  # prod's embeddings tier is 2048 MB: 700 + 512 fits
    assert prod.error is None, prod.error

    def small(eps):
        eps[0]["serverless"]["memory_mb"] = 1024

    prod = run_program(promoting(edit=small), "prod", mocks=mocks)
    assert prod.error is not None and f"{P}[0].serverless.memory_mb" in str(prod.error)
    assert "peak RSS 700 MB" in str(prod.error) and aws_resources(prod) == []
