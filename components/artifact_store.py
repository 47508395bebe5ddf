"""One private S3 bucket per stack for model artifacts, and the sha256-keyed upload of each artifact.

Hardening: public access blocked, object ownership enforced (no ACLs), default encryption (the stack's KMS
key when it has one, with an S3 bucket key to cut KMS calls; SSE-S3 otherwise), versioning, and a bucket
policy denying any request not made over TLS. Each artifact is uploaded under a key that contains its
sha256: an unchanged artifact keeps its key (no upload, no new Model), a changed one gets a new key, which
replaces the object and, through model_data_url, the Model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


def object_key(endpoint: str, sha256: str) -> str:
    """S3 key of an endpoint's artifact: content-addressed, so a new key means new bytes."""
    return f"artifacts/{endpoint}/{sha256}/model.tar.gz"


@dataclass(frozen=True)
class ArtifactFile:
    """A built model.tar.gz on disk and its sha256 (the caller computed it from the same bytes)."""

    path: str
    sha256: str


@dataclass
class ArtifactStoreArgs:
    artifacts: Mapping[str, ArtifactFile]  # endpoint name -> its artifact
    kms_key_arn: pulumi.Input[str] | None = None
    force_destroy: bool = False


@dataclass(frozen=True)
class StoredArtifact:
    key: str
    uri: pulumi.Output[str]  # s3://bucket/key, the Model's model_data_url
    object_arn: pulumi.Output[str]
    sha256: str


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
        s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
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
            opts=child,
        )
        s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
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
        # After the public access block: S3 rejects some policies while the block is being applied.
        s3.BucketPolicy(
            f"{name}-deny-insecure-transport",
            bucket=bucket.id,
            policy=deny_plain_http.json,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access]),
        )
        self.objects = {}
        for endpoint, artifact in args.artifacts.items():
            key = object_key(endpoint, artifact.sha256)
            obj = s3.BucketObjectv2(
                f"{name}-{endpoint}-artifact",
                bucket=bucket.id,
                key=key,
                source=pulumi.FileAsset(artifact.path),
                content_type="application/gzip",
                metadata={"sha256": artifact.sha256},
                # The bucket's default encryption must be in place before the first object lands.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[encryption]),
            )
            self.objects[endpoint] = StoredArtifact(
                key=key,
                uri=pulumi.Output.concat("s3://", obj.bucket, "/", obj.key),
                object_arn=pulumi.Output.concat(bucket.arn, "/", obj.key),
                sha256=artifact.sha256,
            )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})
