"""One private S3 bucket per stack for model artifacts, and the sha256-keyed upload of each artifact.

Hardening: public access blocked, object ownership enforced (no ACLs), default encryption (the stack's KMS
key when it has one, with an S3 bucket key to cut KMS calls; SSE-S3 otherwise), versioning, and a bucket
policy denying any request not made over TLS. Each artifact is uploaded under a key that contains its
sha256: an unchanged artifact keeps its key (no upload, no new Model), a changed one gets a new key and,
through model_data_url, a new Model. An artifact another stack released is copied server-side (ObjectCopy)
under the same key and verified by the SHA-256 S3 computes for the copy before any Model may use it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


def object_prefix(endpoint: str) -> str:
    """Where every artifact of an endpoint lives (its releases, one key each)."""
    return f"artifacts/{endpoint}/"


def object_key(endpoint: str, sha256: str) -> str:
    """S3 key of an endpoint's artifact: content-addressed, so a new key means new bytes."""
    return f"{object_prefix(endpoint)}{sha256}/model.tar.gz"


@dataclass(frozen=True)
class ArtifactFile:
    """A model.tar.gz on disk and its sha256 (the caller computed it from the same bytes), uploaded to the bucket.

    Unknown Outputs for both stand for an artifact not built yet during a preview.
    """

    path: pulumi.Input[str]
    sha256: pulumi.Input[str]


@dataclass(frozen=True)
class CopiedObject:
    """An artifact another stack stored: copied server-side into this bucket under the same content-addressed key,
    then verified (S3 computes the copy's SHA-256; it must equal `sha256`)."""

    source_bucket: pulumi.Input[str]
    source_key: pulumi.Input[str]
    sha256: pulumi.Input[str]
    source_version_id: pulumi.Input[str] | None = None  # pins the exact version the other stack deployed


@dataclass
class ArtifactStoreArgs:
    artifacts: Mapping[str, ArtifactFile | CopiedObject]  # endpoint name -> its artifact
    kms_key_arn: pulumi.Input[str] | None = None
    force_destroy: bool = False


@dataclass(frozen=True)
class StoredArtifact:
    key: pulumi.Output[str]
    uri: pulumi.Output[str]  # s3://bucket/key, the Model's model_data_url (verified first for a copy)
    object_arn: pulumi.Output[str]
    prefix_arn: pulumi.Output[str]  # every object of this endpoint (what its execution role may read)
    sha256: pulumi.Output[str]
    version_id: pulumi.Output[str]


class ChecksumMismatch(Exception):
    """A copied artifact's bytes are not the ones its sha256 names: nothing may deploy them."""


def verified_uri(bucket: str, key: str, sha256: str, checksum_b64: str | None) -> str:
    """s3://bucket/key once S3's SHA-256 of the copy (base64) matches the expected hex sha256."""
    want = base64.b64encode(bytes.fromhex(sha256)).decode()
    if checksum_b64 != want:
        raise ChecksumMismatch(
            f"s3://{bucket}/{key}: S3 computed SHA-256 {checksum_b64!r} for the copy, expected {want!r} (sha256 "
            f"{sha256}); the source object is not the artifact its stack released, so nothing will deploy it"
        )
    return f"s3://{bucket}/{key}"


class ArtifactStore(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    objects: dict[str, StoredArtifact]

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("sls:index:ArtifactStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s3 = aws.s3
        bucket = s3.Bucket(f"{name}-bucket", force_destroy=args.force_destroy, opts=child)
        access = s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        # The bucket's sub-resources one after another: S3 answers concurrent configuration calls on one bucket
        # with 409 OperationAborted ("A conflicting conditional operation is currently in progress").
        ownership = s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access]),
        )
        default = (
            s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
            )
            if args.kms_key_arn is not None
            else s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"
            )
        )
        encryption = s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default, bucket_key_enabled=args.kms_key_arn is not None
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ownership]),
        )
        versioning = s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[encryption]),
        )
        deny_plain_http = aws.iam.get_policy_document_output(
            statements=[
                aws.iam.GetPolicyDocumentStatementArgs(
                    sid="DenyInsecureTransport",
                    effect="Deny",
                    actions=["s3:*"],
                    resources=[bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                    principals=[aws.iam.GetPolicyDocumentStatementPrincipalArgs(type="*", identifiers=["*"])],
                    conditions=[
                        aws.iam.GetPolicyDocumentStatementConditionArgs(
                            test="Bool", variable="aws:SecureTransport", values=["false"]
                        )
                    ],
                )
            ],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        # Last: S3 rejects some policies while the public access block is being applied.
        policy = s3.BucketPolicy(
            f"{name}-deny-insecure-transport",
            bucket=bucket.id,
            policy=deny_plain_http.json,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        self.objects = {}
        for endpoint, artifact in args.artifacts.items():
            sha = pulumi.Output.from_input(artifact.sha256)
            key = sha.apply(lambda h, e=endpoint: object_key(e, h))
            # The bucket's default encryption must be in place before the first object lands. Objects outlive
            # their resource (retain_on_delete): a new artifact gets a new key, and the old object stays for
            # the model still serving from it during the switch and for rollback; retention prunes it later.
            obj_opts = pulumi.ResourceOptions(parent=self, depends_on=[encryption, policy], retain_on_delete=True)
            if isinstance(artifact, CopiedObject):
                source = pulumi.Output.all(artifact.source_bucket, artifact.source_key, artifact.source_version_id)
                copy = s3.ObjectCopy(
                    f"{name}-{endpoint}-artifact-copy",
                    bucket=bucket.id,
                    key=key,
                    source=source.apply(
                        lambda a: f"{a[0]}/{a[1]}" + (f"?versionId={a[2]}" if a[2] else "")
                    ),
                    checksum_algorithm="SHA256",  # S3 computes the copy's SHA-256: verified below
                    content_type="application/gzip",
                    metadata_directive="REPLACE",
                    metadata=sha.apply(lambda h: {"sha256": h}),
                    # REPLACE: with COPY, S3 ignores the provider's default_tags and every update shows a diff
                    # (terraform-provider-aws #25477).
                    tagging_directive="REPLACE",
                    opts=obj_opts,
                )
                uri = pulumi.Output.all(copy.bucket, copy.key, sha, copy.checksum_sha256).apply(
                    lambda a: verified_uri(*a)
                )
                key_out, version = copy.key, copy.version_id
            else:
                obj = s3.BucketObjectv2(
                    f"{name}-{endpoint}-artifact",
                    bucket=bucket.id,
                    key=key,
                    source=pulumi.Output.from_input(artifact.path).apply(pulumi.FileAsset),
                    content_type="application/gzip",
                    metadata=sha.apply(lambda h: {"sha256": h}),
                    opts=obj_opts,
                )
                uri = pulumi.Output.concat("s3://", obj.bucket, "/", obj.key)
                key_out, version = obj.key, obj.version_id
            self.objects[endpoint] = StoredArtifact(
                key=key_out,
                uri=uri,
                object_arn=pulumi.Output.concat(bucket.arn, "/", key_out),
                prefix_arn=pulumi.Output.concat(bucket.arn, "/", object_prefix(endpoint), "*"),
                sha256=sha,
                version_id=version,
            )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})
