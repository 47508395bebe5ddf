"""components.artifact_store on its own: a hardened bucket and one content-addressed object per artifact."""

from __future__ import annotations

import hashlib

import pulumi
import pytest
from pulumi_mocks import run_declarations

from components.artifact_store import ArtifactFile, ArtifactStore, ArtifactStoreArgs, object_key


@pytest.fixture
def artifact(tmp_path) -> ArtifactFile:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"bytes of a model")
    return ArtifactFile(str(path), hashlib.sha256(path.read_bytes()).hexdigest())


def store(artifact: ArtifactFile, kms_key_arn: str | None = None):
    def declare(provider):
        s = ArtifactStore(
            "store",
            ArtifactStoreArgs(artifacts={"scorer": artifact}, kms_key_arn=kms_key_arn),
            pulumi.ResourceOptions(providers=[provider]),
        )
        stored = s.objects["scorer"]
        return {"uri": stored.uri, "arn": stored.object_arn, "bucket": s.bucket_name}

    return run_declarations(declare)


def test_object_key_carries_the_sha256(artifact):
    run = store(artifact)
    key = object_key("scorer", artifact.sha256)
    assert key == f"artifacts/scorer/{artifact.sha256}/model.tar.gz"
    obj = run.get("store-scorer-artifact").inputs
    assert obj["key"] == key and obj["metadata"] == {"sha256": artifact.sha256}
    assert run.outputs["uri"] == f"s3://{run.outputs['bucket']}/{key}"
    assert run.outputs["arn"] == f"arn:aws:s3:::{run.outputs['bucket']}/{key}"


def test_sse_s3_without_a_key_and_kms_with_bucket_key_with_one(artifact):
    def rule(run):
        (r,) = run.get("store-encryption").inputs["rules"]
        return r["applyServerSideEncryptionByDefault"], r.get("bucketKeyEnabled")

    assert rule(store(artifact)) == ({"sseAlgorithm": "AES256"}, False)
    arn = "arn:aws:kms:us-east-1:123456789012:key/k"
    assert rule(store(artifact, arn)) == ({"sseAlgorithm": "aws:kms", "kmsMasterKeyId": arn}, True)


def test_the_buckets_configuration_is_applied_one_call_at_a_time(artifact):
    """S3 answers concurrent configuration calls on one bucket with 409 OperationAborted: each sub-resource waits
    for the one before it, and the artifact waits for all of them (encryption first of all)."""
    run = store(artifact)
    chain = ["store-public-access", "store-ownership", "store-encryption", "store-versioning",
             "store-deny-insecure-transport"]
    for before, after in zip(chain, chain[1:], strict=False):
        assert run.get(before).urn in run.get(after).dependencies, f"{after} does not wait for {before}"
    deps = run.get("store-scorer-artifact").dependencies
    assert run.get("store-encryption").urn in deps and run.get("store-deny-insecure-transport").urn in deps


def test_an_artifact_object_outlives_its_resource(artifact):
    """A replaced artifact stays in S3 for the model still serving from it and for rollback (retention prunes)."""
    assert store(artifact).get("store-scorer-artifact").retain_on_delete
