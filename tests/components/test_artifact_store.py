"""components.artifact_store on its own: a hardened bucket and one content-addressed object per artifact."""

from __future__ import annotations

import base64
import hashlib
import json

import pulumi
import pytest
from pulumi_mocks import AwsMocks, S3Object, run_declarations

from components.artifact_store import (
    ArtifactFile,
    ArtifactStore,
    ArtifactStoreArgs,
    ChecksumMismatch,
    CopiedObject,
    object_key,
    verified_uri,
)


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


# ------------------------------------------------------------------------------------------------ the bucket


def test_the_bucket_is_private_owner_enforced_versioned_and_refuses_plain_http(artifact, component_outputs, invokes):
    run = store(artifact)
    bucket = run.get("store-bucket")
    name, arn = bucket.state["bucket"], bucket.state["arn"]
    assert bucket.inputs == {"forceDestroy": False}  # auto-named, kept with its objects on `pulumi destroy`
    assert run.get("store-public-access").inputs == {
        "bucket": name, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert run.get("store-ownership").inputs == {"bucket": name, "rule": {"objectOwnership": "BucketOwnerEnforced"}}
    assert run.get("store-versioning").inputs == {"bucket": name, "versioningConfiguration": {"status": "Enabled"}}
    assert run.get("store-encryption").inputs["bucket"] == name
    policy = run.get("store-deny-insecure-transport").inputs
    assert policy["bucket"] == name
    assert json.loads(policy["policy"])["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Principal": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    component = next(r for r in run.resources if r.typ == "sls:index:ArtifactStore")
    (provider,) = run.of_type("pulumi:providers:aws")
    for r in run.resources:
        if r.typ.startswith("aws:"):
            assert r.parent == component.urn, r.name
    (document,) = [i for i in invokes if i.token == "aws:iam/getPolicyDocument:getPolicyDocument"]
    assert document.provider.startswith(provider.urn + "::")
    assert run.outputs["bucket"] == name
    assert component_outputs["store"] == {"bucket_name": name, "bucket_arn": arn}


def test_force_destroy_when_asked(artifact):
    def declare(provider):
        ArtifactStore("store", ArtifactStoreArgs(artifacts={"scorer": artifact}, force_destroy=True),
                      pulumi.ResourceOptions(providers=[provider]))
        return {}

    assert run_declarations(declare).get("store-bucket").inputs["forceDestroy"] is True


# ------------------------------------------------------------------------------------------------ an upload


def test_an_uploaded_artifact_and_what_the_store_says_of_it(artifact):
    def declare(provider):
        stored = ArtifactStore("store", ArtifactStoreArgs(artifacts={"scorer": artifact}),
                               pulumi.ResourceOptions(providers=[provider])).objects["scorer"]
        return {"key": stored.key, "uri": stored.uri, "object_arn": stored.object_arn,
                "prefix_arn": stored.prefix_arn, "sha256": stored.sha256, "version_id": stored.version_id}

    run = run_declarations(declare)
    bucket = run.get("store-bucket").state["bucket"]
    key = f"artifacts/scorer/{artifact.sha256}/model.tar.gz"
    obj = run.get("store-scorer-artifact")
    assert {k: v for k, v in obj.inputs.items() if k != "source"} == {
        "bucket": bucket, "key": key, "contentType": "application/gzip", "metadata": {"sha256": artifact.sha256}}
    assert obj.inputs["source"].path == artifact.path  # the file itself, uploaded as it is
    assert run.outputs == {
        "key": key,
        "uri": f"s3://{bucket}/{key}",
        "object_arn": f"arn:aws:s3:::{bucket}/{key}",
        "prefix_arn": f"arn:aws:s3:::{bucket}/artifacts/scorer/*",
        "sha256": artifact.sha256,
        "version_id": obj.state["versionId"],
    }


# ------------------------------------------------------------------------------------------------ a copy

SOURCE_BUCKET = "dev-bucket"


@pytest.fixture
def released(monkeypatch):
    """The other stack's bucket holds two versions of v1's key: v1 (the released bytes), then other bytes (v2's)
    written over it; and v2's own key, one version; returns the sha256 of each."""
    shas = {"v1": hashlib.sha256(b"released").hexdigest(), "v2": hashlib.sha256(b"overwritten").hexdigest()}
    key = object_key("scorer", shas["v1"])
    original = AwsMocks.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.objects[(SOURCE_BUCKET, key)] = [S3Object(shas["v1"], "v1"), S3Object(shas["v2"], "v2")]
        self.objects[(SOURCE_BUCKET, object_key("scorer", shas["v2"]))] = [S3Object(shas["v2"], "w1")]

    monkeypatch.setattr(AwsMocks, "__init__", init)
    return shas


def copy_store(sha256: str, version: str | None):
    def declare(provider):
        copied = CopiedObject(SOURCE_BUCKET, object_key("scorer", sha256), sha256, version)
        stored = ArtifactStore("store", ArtifactStoreArgs(artifacts={"scorer": copied}),
                               pulumi.ResourceOptions(providers=[provider])).objects["scorer"]
        return {"key": stored.key, "uri": stored.uri, "object_arn": stored.object_arn,
                "prefix_arn": stored.prefix_arn, "sha256": stored.sha256, "version_id": stored.version_id}

    return run_declarations(declare)


def test_a_released_artifact_is_copied_server_side_under_its_key_and_verified(released):
    sha = released["v1"]
    run = copy_store(sha, "v1")
    bucket = run.get("store-bucket").state["bucket"]
    key = f"artifacts/scorer/{sha}/model.tar.gz"
    copy = run.get("store-scorer-artifact-copy")
    assert copy.inputs == {
        "bucket": bucket,
        "key": key,
        "source": f"{SOURCE_BUCKET}/{key}?versionId=v1",  # the version the other stack deployed
        "checksumAlgorithm": "SHA256",
        "contentType": "application/gzip",
        "metadataDirective": "REPLACE",
        "metadata": {"sha256": sha},
        "taggingDirective": "REPLACE",
    }
    assert run.outputs == {
        "key": key,
        "uri": f"s3://{bucket}/{key}",
        "object_arn": f"arn:aws:s3:::{bucket}/{key}",
        "prefix_arn": f"arn:aws:s3:::{bucket}/artifacts/scorer/*",
        "sha256": sha,
        "version_id": copy.state["versionId"],
    }
    assert run.mocks.objects[(bucket, key)][-1].sha256 == sha
    deps = copy.dependencies  # lands in an encrypted, policed bucket, and outlives its resource
    assert run.get("store-encryption").urn in deps and run.get("store-deny-insecure-transport").urn in deps
    component = next(r for r in run.resources if r.typ == "sls:index:ArtifactStore")
    assert copy.retain_on_delete and copy.parent == component.urn


def test_without_a_version_the_copy_reads_the_latest_version(released):
    sha = released["v2"]
    run = copy_store(sha, None)
    key = object_key("scorer", sha)
    assert run.get("store-scorer-artifact-copy").inputs["source"] == f"{SOURCE_BUCKET}/{key}"
    assert run.outputs["uri"] == f"s3://{run.get('store-bucket').state['bucket']}/{key}"


def test_a_copy_whose_bytes_are_not_the_released_ones_deploys_nothing(released):
    with pytest.raises(Exception, match="S3 computed SHA-256") as failed:
        copy_store(released["v1"], None)  # the latest version of that key holds other bytes
    assert "the source object is not the artifact its stack released" in str(failed.value)


def test_verified_uri_accepts_only_the_sha256_it_was_given():
    sha = hashlib.sha256(b"bytes").hexdigest()
    b64 = base64.b64encode(hashlib.sha256(b"bytes").digest()).decode()
    assert verified_uri("b", "k/model.tar.gz", sha, b64) == "s3://b/k/model.tar.gz"
    other = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    with pytest.raises(ChecksumMismatch) as mismatch:
        verified_uri("b", "k/model.tar.gz", sha, other)
    assert str(mismatch.value) == (
        f"s3://b/k/model.tar.gz: S3 computed SHA-256 {other!r} for the copy, expected {b64!r} (sha256 {sha}); the "
        "source object is not the artifact its stack released, so nothing will deploy it"
    )
    with pytest.raises(ChecksumMismatch):
        verified_uri("b", "k", sha, None)  # S3 computed nothing: not verified
