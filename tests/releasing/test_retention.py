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


def test_keep_below_one_is_refused_before_anything_is_read(aws):
    sm, s3 = aws
    ep = retention.Endpoint("scorer", "scorer-prod", "scorer-config-p000001", "artifacts")
    with pytest.raises(ValueError) as e:
        retention.prune(sm, s3, ep, keep=0, tags=TAGS)
    assert str(e.value) == "keep must be at least 1 (the release just verified), got 0"


def test_what_is_deleted_is_said_and_what_is_kept_is_listed_newest_first(aws):
    sm, s3 = aws
    s3.create_bucket(Bucket="artifacts")
    configs = [release(sm, s3, "artifacts", n) for n in range(1, 5)]
    sm.create_endpoint(EndpointName="scorer-prod", EndpointConfigName=configs[0])  # live: the oldest
    ep = retention.Endpoint("scorer", "scorer-prod", configs[2], "artifacts")  # declared: not the newest
    lines: list[str] = []
    out = retention.prune(sm, s3, ep, keep=1, tags=TAGS, log=lines.append)
    assert out.kept_configs == [configs[3], configs[2], configs[0]]
    assert out.configs == [configs[1]] and out.models == ["scorer-model-p000002"]
    assert out.artifacts == [f"artifacts/scorer/{2:064x}/model.tar.gz"]
    assert lines == [
        f"scorer: deleting endpoint config {configs[1]} (older than the last 1 releases)",
        "scorer: deleting model scorer-model-p000002 (no kept config uses it)",
        f"scorer: deleting s3://artifacts/artifacts/scorer/{2:064x}/model.tar.gz (no kept model loads it)",
    ]


def test_another_endpoint_whose_name_contains_this_ones_is_never_pruned(aws):
    """NameContains matches anywhere: big-scorer-config-... contains scorer-config-, but is not scorer's."""
    sm, s3 = aws
    s3.create_bucket(Bucket="artifacts")
    configs = [release(sm, s3, "artifacts", n) for n in range(1, 3)]
    big = [release(sm, s3, "artifacts", n, key="big-scorer") for n in range(1, 3)]
    sm.create_endpoint(EndpointName="scorer-prod", EndpointConfigName=configs[-1])
    out = retention.prune(sm, s3, retention.Endpoint("scorer", "scorer-prod", configs[-1], "artifacts"), keep=1,
                          tags=TAGS)
    assert out.configs == [configs[0]] and out.models == ["scorer-model-p000001"]
    left = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
    assert set(big) <= left
    assert {"big-scorer-model-p000001", "big-scorer-model-p000002"} <= {m["ModelName"] for m in
                                                                        sm.list_models()["Models"]}
    assert all(k.startswith("artifacts/scorer/") for k in out.artifacts)


def test_only_resources_with_every_tag_of_this_stack_are_considered(aws):
    sm, s3 = aws
    s3.create_bucket(Bucket="artifacts")
    configs = [release(sm, s3, "artifacts", n) for n in range(1, 4)]
    sm.create_endpoint(EndpointName="scorer-prod", EndpointConfigName=configs[-1])
    ep = retention.Endpoint("scorer", "scorer-prod", configs[-1], "artifacts")
    out = retention.prune(sm, s3, ep, keep=1, tags={**TAGS, "owner": "someone-else"}, dry_run=True)
    assert out.configs == [] and out.models == [] and out.kept_configs == []


def test_a_kept_config_or_model_that_cannot_be_described_keeps_nothing_else_alive(aws):
    """The declared config need not exist yet (or any more): its models are simply unknown."""
    sm, s3 = aws
    s3.create_bucket(Bucket="artifacts")
    configs = [release(sm, s3, "artifacts", n) for n in range(1, 4)]
    sm.delete_model(ModelName="scorer-model-p000003")  # the newest config's model is gone
    sm.create_endpoint(EndpointName="scorer-prod", EndpointConfigName=configs[-1])
    ep = retention.Endpoint("scorer", "scorer-prod", "scorer-config-p000009", "artifacts")
    out = retention.prune(sm, s3, ep, keep=1, tags=TAGS)
    assert out.kept_configs == [configs[-1]]
    assert sorted(out.configs) == sorted(configs[:2])
    assert sorted(out.artifacts) == [f"artifacts/scorer/{n:064x}/model.tar.gz" for n in (1, 2, 3)]


def test_one_kept_config_or_model_that_cannot_be_described_does_not_stop_the_others_being_kept(aws):
    """The missing ones are read first (names in order: "scorer-config-a", "scorer-model-p000002"): every kept
    config after them is still described, and every model after them still keeps its artifact."""
    sm, s3 = aws
    s3.create_bucket(Bucket="artifacts")
    configs = [release(sm, s3, "artifacts", n) for n in range(1, 4)]
    sm.delete_model(ModelName="scorer-model-p000002")  # a kept config's model is gone
    sm.create_endpoint(EndpointName="scorer-prod", EndpointConfigName=configs[-1])
    ep = retention.Endpoint("scorer", "scorer-prod", "scorer-config-a", "artifacts")  # declared, not created yet
    out = retention.prune(sm, s3, ep, keep=2, tags=TAGS)
    assert out.kept_configs == configs[:0:-1] and out.configs == [configs[0]]
    assert out.models == ["scorer-model-p000001"]
    assert out.artifacts == [f"artifacts/scorer/{1:064x}/model.tar.gz", f"artifacts/scorer/{2:064x}/model.tar.gz"]


def test_every_version_and_delete_marker_of_an_old_artifact_goes(aws):
    sm, s3 = aws
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    configs = [release(sm, s3, "artifacts", n) for n in range(1, 3)]
    old = f"artifacts/scorer/{1:064x}/model.tar.gz"
    s3.put_object(Bucket="artifacts", Key=old, Body=b"again")  # a second version
    s3.delete_object(Bucket="artifacts", Key=old)  # and a delete marker on top
    s3.put_object(Bucket="artifacts", Key="artifacts/other/x", Body=b"x")
    sm.create_endpoint(EndpointName="scorer-prod", EndpointConfigName=configs[-1])
    ep = retention.Endpoint("scorer", "scorer-prod", configs[-1], "artifacts")
    out = retention.prune(sm, s3, ep, keep=1, tags=TAGS)
    assert out.artifacts == [old]  # named once
    listed = s3.list_object_versions(Bucket="artifacts")
    left = {v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])}
    assert left == {f"artifacts/scorer/{2:064x}/model.tar.gz", "artifacts/other/x"}


def test_a_dry_run_names_each_old_artifact_once_and_deletes_no_version(aws):
    sm, s3 = aws
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    configs = [release(sm, s3, "artifacts", n) for n in range(1, 3)]
    old = f"artifacts/scorer/{1:064x}/model.tar.gz"
    s3.put_object(Bucket="artifacts", Key=old, Body=b"again")
    sm.create_endpoint(EndpointName="scorer-prod", EndpointConfigName=configs[-1])
    ep = retention.Endpoint("scorer", "scorer-prod", configs[-1], "artifacts")
    out = retention.prune(sm, s3, ep, keep=1, tags=TAGS, dry_run=True)
    assert out.artifacts == [old] and out.models == ["scorer-model-p000001"]
    assert len(s3.list_object_versions(Bucket="artifacts", Prefix=old)["Versions"]) == 2
    assert len(sm.list_models()["Models"]) == 2


def test_listing_reads_every_page_with_boto3s_paginator():
    """A busy account has more configs than one ListEndpointConfigs page: the ones on later pages count too."""
    from botocore.stub import Stubber

    sm = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sm) as stub:
        stub.add_response("list_endpoint_configs", {"EndpointConfigs": [_config("scorer-config-a")], "NextToken": "t"},
                          {"NameContains": "scorer-config-"})
        stub.add_response("list_endpoint_configs", {"EndpointConfigs": [_config("scorer-config-b")]},
                          {"NameContains": "scorer-config-", "NextToken": "t"})
        listed = list(retention._listed(sm, "list_endpoint_configs", "EndpointConfigs", NameContains="scorer-config-"))
        stub.assert_no_pending_responses()
    assert [c["EndpointConfigName"] for c in listed] == ["scorer-config-a", "scorer-config-b"]


def _config(name: str) -> dict:
    from datetime import datetime

    return {"EndpointConfigName": name, "EndpointConfigArn": f"arn:aws:sagemaker:us-east-1:1:endpoint-config/{name}",
            "CreationTime": datetime(2026, 1, 1)}


class Pages:
    """A paginator over fixed pages (what get_paginator(...).paginate(...) yields)."""

    def __init__(self, *pages: dict):
        self.pages = pages

    def paginate(self, **kw):
        return iter(self.pages)


def test_configs_created_in_the_same_second_are_ordered_by_name():
    from datetime import datetime

    t = datetime(2026, 1, 1)
    configs = [{"EndpointConfigName": f"scorer-config-{c}", "EndpointConfigArn": c, "CreationTime": t}
               for c in ("b", "c", "a")]

    class Sm:
        def describe_endpoint(self, **kw):
            return {"EndpointConfigName": "scorer-config-a"}

        def get_paginator(self, name):
            return Pages({"EndpointConfigs": configs} if name == "list_endpoint_configs" else {"Models": []})

        def list_tags(self, **kw):
            return {"Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()]}

        def describe_endpoint_config(self, **kw):
            return {"ProductionVariants": []}

    class S3:
        def get_paginator(self, name):
            return Pages({})

    ep = retention.Endpoint("scorer", "scorer-prod", "scorer-config-a", "artifacts")
    out = retention.prune(Sm(), S3(), ep, keep=1, tags=TAGS, dry_run=True)
    assert out.kept_configs == ["scorer-config-c", "scorer-config-a"] and out.configs == ["scorer-config-b"]


class Recorded:
    """A boto3 client that records each call (name, keyword arguments) before making it."""

    def __init__(self, client):
        self.client, self.calls = client, []

    def __getattr__(self, name):
        attr = getattr(self.client, name)
        if not callable(attr):
            return attr
        if name == "get_paginator":  # record each paginate(...) as the operation it pages
            return lambda op: Recorded.Paginator(self, op, attr(op))

        def call(*a, **kw):
            self.calls.append((name, kw))
            return attr(*a, **kw)

        return call

    class Paginator:
        def __init__(self, recorded, op, paginator):
            self.recorded, self.op, self.paginator = recorded, op, paginator

        def paginate(self, **kw):
            self.recorded.calls.append((self.op, kw))
            return self.paginator.paginate(**kw)


def test_listing_is_filtered_by_name_on_the_server_and_deletes_name_exactly_what_goes(aws):
    """An account holds every stack's models and configs: list only this endpoint's, delete by exact name."""
    sm, s3 = aws
    s3.create_bucket(Bucket="artifacts")
    configs = [release(sm, s3, "artifacts", n) for n in range(1, 3)]
    sm.create_endpoint(EndpointName="scorer-prod", EndpointConfigName=configs[-1])
    rsm, rs3 = Recorded(sm), Recorded(s3)
    retention.prune(rsm, rs3, retention.Endpoint("scorer", "scorer-prod", configs[-1], "artifacts"), keep=1,
                    tags=TAGS)
    calls = rsm.calls
    assert calls[0] == ("describe_endpoint", {"EndpointName": "scorer-prod"})
    assert [kw["NameContains"] for op, kw in calls if op.startswith("list_") and op != "list_tags"] == [
        "scorer-config-", "scorer-model-"]
    assert ("delete_endpoint_config", {"EndpointConfigName": configs[0]}) in calls
    assert ("delete_model", {"ModelName": "scorer-model-p000001"}) in calls
    assert ("describe_endpoint_config", {"EndpointConfigName": configs[-1]}) in calls
    assert ("describe_model", {"ModelName": "scorer-model-p000002"}) in calls
    (delete,) = [kw for op, kw in rs3.calls if op == "delete_object"]
    assert delete["Bucket"] == "artifacts" and delete["Key"] == f"artifacts/scorer/{1:064x}/model.tar.gz"
    assert "VersionId" in delete


def test_a_resource_listed_without_tags_is_not_this_stacks():
    class Untagged:
        def list_tags(self, **kw):
            return {}

    assert retention._owned(Untagged(), "arn:aws:sagemaker:us-east-1:1:endpoint-config/x", TAGS) is False
    assert retention._owned(Untagged(), "arn:aws:sagemaker:us-east-1:1:endpoint-config/x", {}) is True
