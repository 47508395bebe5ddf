"""retention.prune against a moto server over real HTTP: the last N releases of an endpoint stay (configs, the
models they use, the artifacts those load), the live and the declared config always stay, older ones go, and
another stack's resources with the same auto-name prefix are never touched."""

from __future__ import annotations

import boto3
import pytest

from releasing import retention

moto_server = pytest.importorskip("moto.server")
TAGS = {"project": "sls-endpoints", "stack": "prod"}
ROLE = "arn:aws:iam::123456789012:role/exec"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


@pytest.fixture
def aws(monkeypatch):
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    url = f"http://{host}:{port}"
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))  # in-process state
    yield boto3.client("sagemaker", endpoint_url=url), boto3.client("s3", endpoint_url=url)
    server.stop()


def release(sm, s3, bucket: str, n: int, *, stack: str = "prod", key: str = "scorer") -> str:
    """What one release leaves behind: an artifact object, a model loading it, a config using the model."""
    tags = [{"Key": "project", "Value": "sls-endpoints"}, {"Key": "stack", "Value": stack}]
    obj = f"artifacts/{key}/{n:064x}/model.tar.gz"
    s3.put_object(Bucket=bucket, Key=obj, Body=f"release {n}".encode())
    model = f"{key}-model-{stack[:1]}{n:06d}"
    sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, Tags=tags,
                    PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/{obj}"})
    config = f"{key}-config-{stack[:1]}{n:06d}"
    sm.create_endpoint_config(EndpointConfigName=config, Tags=tags, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": model,
         "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 2}}])
    return config


def test_the_last_n_releases_and_the_live_one_stay_the_rest_goes(aws):
    sm, s3 = aws
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    configs = [release(sm, s3, "artifacts", n) for n in range(1, 6)]  # five releases, oldest first
    s3.create_bucket(Bucket="dev-artifacts")
    other = release(sm, s3, "dev-artifacts", 9, stack="dev")  # another stack (its own bucket), same name prefix
    sm.create_endpoint(EndpointName="scorer-prod", EndpointConfigName=configs[1])  # live: an old one (rollback)
    ep = retention.Endpoint("scorer", "scorer-prod", configs[-1], "artifacts")
    out = retention.prune(sm, s3, ep, keep=2, tags=TAGS)

    left = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
    assert left == {configs[4], configs[3], configs[1], other}  # newest two, the live one, the other stack's
    assert sorted(out.configs) == sorted([configs[0], configs[2]])
    models = {m["ModelName"] for m in sm.list_models()["Models"]}
    assert models == {"scorer-model-p000005", "scorer-model-p000004", "scorer-model-p000002", "scorer-model-d000009"}
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="artifacts")["Contents"]}
    assert keys == {f"artifacts/scorer/{n:064x}/model.tar.gz" for n in (5, 4, 2)}
    assert s3.list_objects_v2(Bucket="dev-artifacts")["KeyCount"] == 1
    assert not s3.list_object_versions(Bucket="artifacts", Prefix=f"artifacts/scorer/{1:064x}/").get("Versions")


def test_a_dry_run_deletes_nothing_and_keep_must_be_positive(aws):
    sm, s3 = aws
    s3.create_bucket(Bucket="artifacts")
    configs = [release(sm, s3, "artifacts", n) for n in range(1, 4)]
    sm.create_endpoint(EndpointName="scorer-prod", EndpointConfigName=configs[-1])
    ep = retention.Endpoint("scorer", "scorer-prod", configs[-1], "artifacts")
    out = retention.prune(sm, s3, ep, keep=1, tags=TAGS, dry_run=True)
    assert sorted(out.configs) == sorted(configs[:2]) and len(out.artifacts) == 2
    assert len(sm.list_endpoint_configs()["EndpointConfigs"]) == 3
    with pytest.raises(ValueError, match="keep must be at least 1"):
        retention.prune(sm, s3, ep, keep=0, tags=TAGS)
