"""program.build, through the real Pulumi program (__main__.py), run per stack file under AWS-like mocks
(tests/pulumi_mocks.py).

Each stack is read from Pulumi.<stack>.yaml on disk; artifacts come from fake builders that write small real
tarballs with real manifests (tests/fake_artifacts.py), so nothing here downloads or trains a model.
Expected values are derived from the stack files and the artifacts, never copied from a previous run.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_artifacts import make_artifact, use_fake_builds
from pulumi_mocks import ACCOUNT, REGISTRY_ACCOUNTS, ROOT, ProgramRun, run_program, stack_config

from inference.build.containers import HF_PY312, SKLEARN_1_4
from settings import ConfigError

AUTONAMED = re.compile(r"^(?P<logical>.+)-[0-9a-f]{7}$")
SAGEMAKER = "aws:sagemaker/"


def yaml_config(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def endpoints_of(stack: str) -> list[dict[str, Any]]:
    return yaml_config(stack)["sls-endpoints:endpoints"]


def artifact_resource(ep: dict[str, Any]) -> str:
    """The store's resource for an endpoint's artifact: an upload, or a server-side copy when it is promoted."""
    return f"artifacts-{ep['name']}-artifact" + ("-copy" if "promote_from" in ep["artifact"] else "")


@pytest.fixture
def runs(stack_runs) -> dict[str, ProgramRun]:
    """dev and prod, each run once from its stack file with fake artifact builds (tests/conftest.py)."""
    return stack_runs


def statements(policy_json: str) -> dict[str, dict[str, Any]]:
    """Statements by Sid, with Action/Resource always as lists."""
    out = {}
    for s in json.loads(policy_json)["Statement"]:
        s = dict(s)
        for k in ("Action", "Resource"):
            if k in s and isinstance(s[k], str):
                s[k] = [s[k]]
        out[s.get("Sid", "")] = s
    return out


# ------------------------------------------------------------------------------------------------ inventory


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_stack_declares_the_resources_its_config_asks_for(runs, stack):
    cfg = yaml_config(stack)
    expected = {
        "artifacts-bucket",
        "artifacts-public-access",
        "artifacts-ownership",
        "artifacts-encryption",
        "artifacts-versioning",
        "artifacts-deny-insecure-transport",
    }
    for ep in cfg["sls-endpoints:endpoints"]:
        n = ep["name"]
        expected |= {
            artifact_resource(ep),
            f"{n}-exec-role",
            f"{n}-exec-policy",
            f"{n}-model",
            f"{n}-config",
            f"{n}-endpoint",
            f"{n}-invoke-policy",
        }
        if ep.get("lambda_role"):
            expected |= {f"{n}-invoke-lambda-role", f"{n}-invoke-lambda-invoke", f"{n}-invoke-lambda-vpc"}
        if "scaling" in ep:
            expected |= {f"{n}-scaling-target", f"{n}-scaling-policy"}
        suffix = {"errors_5xx": "5xx", "errors_4xx": "4xx", "latency_p90_ms": "latency", "cold_start_ms": "cold-start"}
        expected |= {f"monitoring-{n}-{suffix[k]}" for k in ep.get("alarms", {})}
    monitoring = cfg.get("sls-endpoints:monitoring", {})
    if monitoring.get("dashboard", True):
        expected.add("monitoring-dashboard")
    if monitoring.get("sns_topic"):
        expected.add("monitoring-alarms")
        emails = monitoring.get("email", [])
        emails = [emails] if isinstance(emails, str) else emails
        expected |= {"monitoring-alarms-email" + (f"-{i + 1}" if i else "") for i in range(len(emails))}
    if cfg.get("sls-endpoints:kms"):
        expected.add("stack-key")
    declared = {r.name for r in runs[stack].resources if not r.typ.startswith(("sls:", "pulumi:"))}
    assert declared == expected


def test_dev_is_small_and_cheap(runs):
    dev = runs["dev"]
    assert not dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert not dev.of_type("aws:appautoscaling/target:Target")
    assert not dev.of_type("aws:kms/key:Key")
    for cfg in dev.of_type(SAGEMAKER + "endpointConfiguration:EndpointConfiguration"):
        serverless = cfg.inputs["productionVariants"][0]["serverlessConfig"]
        assert "provisionedConcurrency" not in serverless  # scales to zero: no always-on cost
        assert serverless["memorySizeInMb"] <= 2048


def test_prod_has_alarms_kms_provisioned_concurrency_and_scaling(runs):
    prod = runs["prod"]
    assert prod.of_type("aws:kms/key:Key")
    assert prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    for ep in endpoints_of("prod"):
        serverless = prod.get(f"{ep['name']}-config").inputs["productionVariants"][0]["serverlessConfig"]
        assert serverless["provisionedConcurrency"] == ep["serverless"]["provisioned_concurrency"]
        assert prod.get(f"{ep['name']}-scaling-target")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_aws_resource_uses_the_stacks_explicit_provider_with_default_tags(runs, stack):
    run = runs[stack]
    (provider,) = run.of_type("pulumi:providers:aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags["stack"] == stack and tags["project"] == "sls-endpoints" and tags["managed-by"] == "pulumi"
    assert tags["environment"] == yaml_config(stack)["sls-endpoints:tags"]["environment"]
    assert provider.inputs["region"] == yaml_config(stack)["aws:region"]
    for r in run.resources:
        if r.typ.startswith("aws:"):
            assert r.provider.startswith(provider.urn + "::"), r.name


# ------------------------------------------------------------------------------------------------ naming


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_models_and_endpoint_configs_are_auto_named_and_the_endpoint_named_from_config(runs, stack):
    run = runs[stack]
    for ep in endpoints_of(stack):
        n = ep["name"]
        for role in ("model", "config"):
            r = run.get(f"{n}-{role}")
            assert "name" not in r.inputs, f"{n}-{role} has a fixed name: every update would clash"
            assert AUTONAMED.match(r.state["name"]).group("logical") == f"{n}-{role}"
        endpoint = run.get(f"{n}-endpoint")
        assert endpoint.inputs["name"] == ep.get("endpoint_name", f"{n}-{stack}")
        assert endpoint.inputs["endpointConfigName"] == run.get(f"{n}-config").state["name"]
        assert (
            run.get(f"{n}-config").inputs["productionVariants"][0]["modelName"] == run.get(f"{n}-model").state["name"]
        )


def test_the_stack_key_policy_is_written_out_and_leaves_use_to_this_accounts_iam(runs):
    (s,) = statements(runs["prod"].get("stack-key").inputs["policy"]).values()
    assert s["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}  # this account only, no other, no "*"
    assert (s["Action"], s["Resource"], s["Effect"]) == (["kms:*"], ["*"], "Allow")
    assert runs["prod"].get("stack-key").inputs["enableKeyRotation"] is True


@pytest.mark.parametrize(("stack", "protected"), [("dev", False), ("prod", True)])
def test_only_prod_protects_its_endpoints(runs, stack, protected):
    if protected:
        assert runs[stack].get("stack-key").protect is True
    assert runs[stack].get("artifacts-bucket").inputs["forceDestroy"] is not protected
    for ep in endpoints_of(stack):
        assert runs[stack].get(f"{ep['name']}-endpoint").protect is protected
        assert runs[stack].get(f"{ep['name']}-model").protect is False  # replaced on every change


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_model_waits_for_the_role_policy(runs, stack):
    run = runs[stack]
    for ep in endpoints_of(stack):
        policy = run.get(f"{ep['name']}-exec-policy")
        assert policy.urn in run.get(f"{ep['name']}-model").dependencies


# ------------------------------------------------------------------------------------------------ IAM


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_execution_role_policy_grants_exact_actions_on_exact_resources(runs, stack):
    run = runs[stack]
    region = yaml_config(stack)["aws:region"]
    key_arn = run.get("stack-key").state["arn"] if stack == "prod" else None
    for ep in endpoints_of(stack):
        n, repo = ep["name"], ep["image"]["repository"]
        obj = run.get(artifact_resource(ep))
        registry = REGISTRY_ACCOUNTS[repo].get(region) or REGISTRY_ACCOUNTS[repo]["*"]
        log_group = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{n}-{stack}"
        expected = {
            # every release of this endpoint (and no other endpoint's): the model still serving during an update,
            # or after a rollback, cold-starts from its own artifact
            "ReadModelArtifacts": (["s3:GetObject"], [f"arn:aws:s3:::{obj.inputs['bucket']}/artifacts/{n}/*"]),
            "PullImage": (
                ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                [f"arn:aws:ecr:{region}:{registry}:repository/{repo}"],
            ),
            "EcrLogin": (["ecr:GetAuthorizationToken"], ["*"]),
            "EndpointLogGroup": (["logs:CreateLogGroup", "logs:DescribeLogStreams"], [log_group]),
            "EndpointLogStreams": (["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group}:log-stream:*"]),
        }
        if key_arn:
            expected["DecryptWithStackKey"] = (["kms:Decrypt"], [key_arn])
        got = statements(run.get(f"{n}-exec-policy").inputs["policy"])
        if key_arn:  # the role decrypts only as S3 reads its artifact, never directly
            assert got["DecryptWithStackKey"]["Condition"] == {
                "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
        metrics = got.pop("PublishEndpointMetrics")  # AWS lists it among the execution role's permissions
        assert {sid: (sorted(s["Action"]), s["Resource"]) for sid, s in got.items()} == expected
        assert all(s["Effect"] == "Allow" for s in got.values())
        wildcard = [sid for sid, s in got.items() if "*" in s["Resource"]]
        assert wildcard == ["EcrLogin"]  # AWS grants ecr:GetAuthorizationToken only on "*"
        # PutMetricData has no resource-level permission: "*", held to the endpoint namespaces by a condition
        assert (metrics["Action"], metrics["Resource"]) == (["cloudwatch:PutMetricData"], ["*"])
        namespaces = metrics["Condition"]["StringLike"]["cloudwatch:namespace"]
        assert "/aws/sagemaker/Endpoints*" in namespaces and "*" not in namespaces
        assert not any("*" in a for s in got.values() for a in s["Action"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_execution_role_trusts_only_sagemaker_in_this_account(runs, stack):
    run = runs[stack]
    for ep in endpoints_of(stack):
        role = run.get(f"{ep['name']}-exec-role")
        (s,) = statements(role.inputs["assumeRolePolicy"]).values()
        assert s["Action"] == ["sts:AssumeRole"]
        assert s["Principal"] == {"Service": "sagemaker.amazonaws.com"}
        assert s["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
        assert "managedPolicyArns" not in role.inputs and "inlinePolicies" not in role.inputs
    attachments = run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert not any("SageMakerFullAccess" in a.inputs["policyArn"] for a in attachments)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_invoke_policy_allows_invoke_endpoint_on_exactly_that_endpoint(runs, stack):
    run = runs[stack]
    for ep in endpoints_of(stack):
        n = ep["name"]
        endpoint_arn = run.get(f"{n}-endpoint").state["arn"]
        assert endpoint_arn == f"arn:aws:sagemaker:{yaml_config(stack)['aws:region']}:{ACCOUNT}:endpoint/{n}-{stack}"
        (s,) = statements(run.get(f"{n}-invoke-policy").inputs["policy"]).values()
        assert (s["Action"], s["Resource"]) == (["sagemaker:InvokeEndpoint"], [endpoint_arn])


def test_prod_lambda_role_carries_the_invoke_policy_and_vpc_access(runs):
    prod = runs["prod"]
    for ep in endpoints_of("prod"):
        n = ep["name"]
        role = prod.get(f"{n}-invoke-lambda-role")
        (s,) = statements(role.inputs["assumeRolePolicy"]).values()
        assert s["Principal"] == {"Service": "lambda.amazonaws.com"}
        assert prod.get(f"{n}-invoke-lambda-invoke").inputs["policyArn"] == prod.get(f"{n}-invoke-policy").state["arn"]
        vpc = prod.get(f"{n}-invoke-lambda-vpc").inputs
        assert vpc["policyArn"] == "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
        assert vpc["role"] == role.state["name"]


# ------------------------------------------------------------------------------------------------ bucket


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_artifact_bucket_is_hardened(runs, stack):
    run = runs[stack]
    bucket = run.get("artifacts-bucket").state["bucket"]
    block = run.get("artifacts-public-access").inputs
    assert block["bucket"] == bucket
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    assert run.get("artifacts-ownership").inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert run.get("artifacts-versioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    (rule,) = run.get("artifacts-encryption").inputs["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    if stack == "prod":
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": run.get("stack-key").state["arn"]}
    else:
        assert default == {"sseAlgorithm": "AES256"}
    (deny,) = statements(run.get("artifacts-deny-insecure-transport").inputs["policy"]).values()
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == ["s3:*"]
    assert sorted(deny["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_artifact_object_key_contains_its_sha256_and_feeds_the_model(runs, stack):
    run = runs[stack]
    for ep in endpoints_of(stack):
        n = ep["name"]
        obj = run.get(artifact_resource(ep))
        if "promote_from" in ep["artifact"]:  # the bytes the source stack uploaded: the same sha256, the same key
            source = runs[ep["artifact"]["promote_from"]].get(artifact_resource({**ep, "artifact": {}}))
            path = Path(source.inputs["source"].path)
        else:
            path = Path(obj.inputs["source"].path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        assert obj.inputs["key"] == f"artifacts/{n}/{sha}/model.tar.gz"
        model_data = run.get(f"{n}-model").inputs["primaryContainer"]["modelDataUrl"]
        assert model_data == f"s3://{obj.inputs['bucket']}/{obj.inputs['key']}"
        assert run.outputs["endpoints"][n]["artifact_sha256"] == sha


def _path_config(stack: str, artifacts: dict[str, Path]) -> dict[str, Any]:
    cfg = yaml_config(stack)
    for ep in cfg["sls-endpoints:endpoints"]:
        ep["artifact"] = {"path": str(artifacts[ep["name"]])}
    return {
        k: json.dumps(v) if isinstance(v, dict | list) else str(v).lower() if isinstance(v, bool) else v
        for k, v in cfg.items()
    }


def test_unchanged_artifact_keeps_key_and_model_inputs_changed_one_replaces_both(tmp_path):
    def artifacts(payload: bytes) -> dict[str, Path]:
        d = tmp_path / payload.decode()
        return {
            "embeddings": make_artifact(d / "e.tar.gz", HF_PY312, payload=payload),
            "call-time": make_artifact(d / "c.tar.gz", SKLEARN_1_4),
        }

    state: dict = {}  # one stack updated three times: auto-names persist like in the engine's state
    first = run_program(_path_config("dev", artifacts(b"v1")), "dev", names=state)
    again = run_program(_path_config("dev", artifacts(b"v1")), "dev", names=state)  # same inputs rebuilt: same bytes
    changed = run_program(_path_config("dev", artifacts(b"v2")), "dev", names=state)
    k1, k2, k3 = (r.get("artifacts-embeddings-artifact").inputs["key"] for r in (first, again, changed))
    m1, m2, m3 = (r.get("embeddings-model").inputs["primaryContainer"] for r in (first, again, changed))
    assert k1 == k2 and m1 == m2  # no new upload, no new Model
    assert k3 != k1 and m3["modelDataUrl"] != m1["modelDataUrl"] and m3["modelDataUrl"].endswith(k3)
    # the other endpoint's artifact did not change: its key stays
    assert (
        first.get("artifacts-call-time-artifact").inputs["key"]
        == changed.get("artifacts-call-time-artifact").inputs["key"]
    )


# ------------------------------------------------------------------------------------------------ model


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_model_image_and_environment_per_framework(runs, stack):
    run = runs[stack]
    region = yaml_config(stack)["aws:region"]
    for ep in endpoints_of(stack):
        repo, tag = ep["image"]["repository"], ep["image"]["tag"]
        account = REGISTRY_ACCOUNTS[repo].get(region) or REGISTRY_ACCOUNTS[repo]["*"]
        container = run.get(f"{ep['name']}-model").inputs["primaryContainer"]
        assert container["image"] == f"{account}.dkr.ecr.{region}.amazonaws.com/{repo}:{tag}"
        env = container["environment"]
        if repo == "sagemaker-scikit-learn":
            assert env["SAGEMAKER_PROGRAM"] == "inference.py"
            assert env["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
        else:
            assert "SAGEMAKER_PROGRAM" not in env  # the HF toolkit finds code/inference.py itself
            assert env["MMS_DEFAULT_WORKERS_PER_MODEL"] == "1"


def test_region_comes_from_config_and_images_from_that_regions_registry(tmp_path):
    """Same program, another region: image accounts, ARNs and outputs follow (no hard-coded account or region)."""
    cfg = yaml_config("dev")
    cfg["aws:region"] = "eu-west-1"
    arts = {
        "embeddings": make_artifact(tmp_path / "e.tar.gz", HF_PY312),
        "call-time": make_artifact(tmp_path / "c.tar.gz", SKLEARN_1_4),
    }
    for ep in cfg["sls-endpoints:endpoints"]:
        ep["artifact"] = {"path": str(arts[ep["name"]])}
    run = run_program({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in cfg.items()}, "dev")
    assert run.error is None
    sk = run.get("call-time-model").inputs["primaryContainer"]["image"]
    assert sk.startswith(REGISTRY_ACCOUNTS["sagemaker-scikit-learn"]["eu-west-1"] + ".dkr.ecr.eu-west-1.")
    assert run.get("embeddings-endpoint").state["arn"].startswith("arn:aws:sagemaker:eu-west-1:")
    assert run.outputs["endpoints"]["embeddings"]["region"] == "eu-west-1"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_serverless_config_matches_the_stack_file(runs, stack):
    run = runs[stack]
    for ep in endpoints_of(stack):
        cfg = run.get(f"{ep['name']}-config").inputs
        (variant,) = cfg["productionVariants"]
        s = ep["serverless"]
        assert variant["serverlessConfig"]["memorySizeInMb"] == s["memory_mb"]
        assert variant["serverlessConfig"]["maxConcurrency"] == s["max_concurrency"]
        assert variant["variantName"] == "AllTraffic"
        assert "instanceType" not in variant
        assert ("kmsKeyArn" in cfg) is (stack == "prod")


# ------------------------------------------------------------------------------------------------ alarms, scaling


def test_prod_alarms_are_exactly_the_configured_ones_with_microsecond_latency(runs):
    prod = runs["prod"]
    topic = prod.get("monitoring-alarms").state["arn"]
    metric = {
        "errors_5xx": "Invocation5XXErrors",
        "errors_4xx": "Invocation4XXErrors",
        "latency_p90_ms": "ModelLatency",
        "cold_start_ms": "ModelSetupTime",
    }
    for ep in endpoints_of("prod"):
        alarms = [
            a
            for a in prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
            if a.inputs["dimensions"]["EndpointName"] == f"{ep['name']}-prod"
        ]
        by_metric = {a.inputs["metricName"]: a.inputs for a in alarms}
        assert set(by_metric) == {metric[k] for k in ep["alarms"]}
        for key, value in ep["alarms"].items():
            a = by_metric[metric[key]]
            ms = key in ("latency_p90_ms", "cold_start_ms")
            assert a["threshold"] == (value * 1000 if ms else value)  # CloudWatch publishes these in microseconds
            assert a["namespace"] == "AWS/SageMaker"
            assert a["dimensions"]["VariantName"] == "AllTraffic"
            assert a["alarmActions"] == [topic]
            # a fixed name: the endpoint's auto-rollback list names it, and must never change
            assert a["name"] == f"{ep['name']}-prod-" + {"errors_5xx": "5xx", "errors_4xx": "4xx",
                                                         "latency_p90_ms": "latency",
                                                         "cold_start_ms": "cold-start"}[key]
        assert by_metric["ModelLatency"]["extendedStatistic"] == "p90"


def test_prods_alarms_have_a_subscriber(runs):
    cfg = yaml_config("prod")["sls-endpoints:monitoring"]
    subs = runs["prod"].of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["endpoint"] for s in subs) == sorted(cfg["email"]) and cfg["email"]
    assert {s.inputs["protocol"] for s in subs} == {"email"}
    assert {s.inputs["topic"] for s in subs} == {runs["prod"].get("monitoring-alarms").state["arn"]}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_endpoint_updates_blue_green_and_prod_rolls_back_on_its_own_alarms(runs, stack):
    for ep in endpoints_of(stack):
        deployment = runs[stack].get(f"{ep['name']}-endpoint").inputs["deploymentConfig"]
        policy = deployment["blueGreenUpdatePolicy"]
        assert policy["trafficRoutingConfiguration"]["type"] == "ALL_AT_ONCE"  # serverless: no instances to shift
        alarms = [a for a in runs[stack].of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
                  if a.inputs["dimensions"]["EndpointName"] == f"{ep['name']}-{stack}"]
        if ep.get("alarms"):
            assert policy["trafficRoutingConfiguration"]["waitIntervalInSeconds"] == 300  # bakes under watch
            rollback = deployment["autoRollbackConfiguration"]["alarms"]
            assert sorted(a["alarmName"] for a in rollback) == sorted(a.inputs["name"] for a in alarms)
            assert len(rollback) == len(ep["alarms"])
        else:
            assert "autoRollbackConfiguration" not in deployment and not alarms


def test_prod_scaling_tracks_provisioned_concurrency_utilization(runs):
    prod = runs["prod"]
    for ep in endpoints_of("prod"):
        n, s = ep["name"], ep["scaling"]
        target = prod.get(f"{n}-scaling-target").inputs
        assert target["serviceNamespace"] == "sagemaker"
        assert target["resourceId"] == f"endpoint/{n}-prod/variant/AllTraffic"
        assert target["scalableDimension"] == "sagemaker:variant:DesiredProvisionedConcurrency"
        assert (target["minCapacity"], target["maxCapacity"]) == (s["min_capacity"], s["max_capacity"])
        policy = prod.get(f"{n}-scaling-policy").inputs
        tracking = policy["targetTrackingScalingPolicyConfiguration"]
        assert policy["policyType"] == "TargetTrackingScaling"
        assert tracking["predefinedMetricSpecification"] == {
            "predefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"
        }
        assert tracking["targetValue"] == s["target_value"]


def test_instance_mode_declares_an_instance_variant_scaled_on_invocations_per_instance(tmp_path):
    cfg = yaml_config("dev")
    art = make_artifact(tmp_path / "c.tar.gz", SKLEARN_1_4)
    cfg["sls-endpoints:endpoints"] = [
        {
            "name": "scorer",
            "image": {"repository": "sagemaker-scikit-learn", "tag": SKLEARN_1_4.tag},
            "artifact": {"path": str(art)},
            "instance": {"type": "ml.m5.large", "count": 2},
            "scaling": {"min_capacity": 1, "max_capacity": 4, "target_value": 600},
        }
    ]
    run = run_program({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in cfg.items()}, "dev")
    assert run.error is None, run.error
    (variant,) = run.get("scorer-config").inputs["productionVariants"]
    assert (variant["instanceType"], variant["initialInstanceCount"]) == ("ml.m5.large", 2)
    assert "serverlessConfig" not in variant
    target = run.get("scorer-scaling-target").inputs
    assert target["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    tracking = run.get("scorer-scaling-policy").inputs["targetTrackingScalingPolicyConfiguration"]
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert tracking["targetValue"] == 600


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_dashboard_graphs_what_serverless_endpoints_publish_and_nothing_else(runs, stack):
    # AWS's exhaustive list for serverless endpoints (developer guide, serverless-endpoints-monitoring)
    published = {
        "AWS/SageMaker": {"Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency",
                          "OverheadLatency", "ModelSetupTime", "ServerlessConcurrentExecutionsUtilization",
                          "ServerlessProvisionedConcurrencyUtilization"},
        "/aws/sagemaker/Endpoints": {"MemoryUtilization"},
    }
    body = json.loads(runs[stack].get("monitoring-dashboard").inputs["dashboardBody"])
    metrics = {(m[0], m[1], m[3]) for w in body["widgets"] for m in w["properties"]["metrics"]}
    outside = {(ns, metric) for ns, metric, _ in metrics if metric not in published.get(ns, set())}
    assert not outside, f"{stack}: graphs of metrics serverless endpoints never publish: {outside}"
    for ep in endpoints_of(stack):
        name = f"{ep['name']}-{stack}"
        for ns, metric in [
            ("AWS/SageMaker", "Invocations"),
            ("AWS/SageMaker", "ModelLatency"),
            ("AWS/SageMaker", "OverheadLatency"),
            ("AWS/SageMaker", "Invocation5XXErrors"),
            ("AWS/SageMaker", "Invocation4XXErrors"),
            ("AWS/SageMaker", "ModelSetupTime"),
            ("/aws/sagemaker/Endpoints", "MemoryUtilization"),
            ("AWS/SageMaker", "ServerlessConcurrentExecutionsUtilization"),
        ]:
            assert (ns, metric, name) in metrics
        provisioned = ("AWS/SageMaker", "ServerlessProvisionedConcurrencyUtilization", name) in metrics
        assert provisioned is bool(ep["serverless"].get("provisioned_concurrency"))


# ------------------------------------------------------------------------------------------------ outputs


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_outputs_per_endpoint(runs, stack):
    run = runs[stack]
    region = yaml_config(stack)["aws:region"]
    for ep in endpoints_of(stack):
        n = ep["name"]
        out = run.outputs["endpoints"][n]
        obj = run.get(artifact_resource(ep)).inputs
        assert out["name"] == f"{n}-{stack}"
        assert out["arn"] == run.get(f"{n}-endpoint").state["arn"]
        assert out["invoke_policy_arn"] == run.get(f"{n}-invoke-policy").state["arn"]
        assert out["image_uri"] == run.get(f"{n}-model").inputs["primaryContainer"]["image"]
        assert out["artifact_uri"] == f"s3://{obj['bucket']}/{obj['key']}"
        assert out["region"] == region
        assert ("lambda_role_arn" in out) is bool(ep.get("lambda_role"))
        example = out["invoke_example"]
        assert example.startswith("aws sagemaker-runtime invoke-endpoint ")
        assert f"--endpoint-name {n}-{stack}" in example and f"--region {region}" in example
    assert run.outputs["artifact_bucket"] == run.get("artifacts-bucket").state["bucket"]


# ------------------------------------------------------------------------------------------------ bad config


def test_bad_config_fails_with_one_clear_error_before_any_resource(tmp_path):
    cfg = stack_config("dev")
    endpoints = json.loads(cfg["sls-endpoints:endpoints"])
    endpoints[0]["serverless"]["memory_mb"] = 1000
    cfg["sls-endpoints:endpoints"] = json.dumps(endpoints)
    run = run_program(cfg, "dev")
    assert isinstance(run.error, ConfigError)
    assert "sls-endpoints:endpoints[0].serverless.memory_mb" in str(run.error) and "1000" in str(run.error)
    assert "1024, 2048, 3072, 4096, 5120, 6144" in str(run.error)
    assert run.resources == []


def test_top_level_typo_fails_before_any_resource():
    cfg = stack_config("dev")
    cfg["sls-endpoints:monitorin"] = json.dumps({"dashboard": True})
    run = run_program(cfg, "dev")
    assert isinstance(run.error, ConfigError) and "sls-endpoints:monitorin" in str(run.error)
    assert run.resources == []


def test_alarms_without_monitoring_section_have_no_actions_and_no_dashboard(tmp_path):
    cfg = yaml_config("dev")
    del cfg["sls-endpoints:monitoring"]
    arts = {
        "embeddings": make_artifact(tmp_path / "e.tar.gz", HF_PY312),
        "call-time": make_artifact(tmp_path / "c.tar.gz", SKLEARN_1_4),
    }
    for ep in cfg["sls-endpoints:endpoints"]:
        ep["artifact"] = {"path": str(arts[ep["name"]])}
    cfg["sls-endpoints:endpoints"][1]["alarms"] = {"errors_5xx": 3}
    run = run_program({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in cfg.items()}, "dev")
    assert run.error is None, run.error
    (alarm,) = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["metricName"] == "Invocation5XXErrors" and alarm.inputs["threshold"] == 3
    assert alarm.inputs["dimensions"]["EndpointName"] == "call-time-dev"
    assert not alarm.inputs.get("alarmActions")
    assert not run.of_type("aws:cloudwatch/dashboard:Dashboard") and not run.of_type("aws:sns/topic:Topic")
    assert "dashboard" not in run.outputs


def test_a_config_error_in_one_endpoint_builds_no_artifact_for_another(tmp_path, monkeypatch):
    """The config is validated whole before any artifact is built: a typo never costs a model build."""
    builders = use_fake_builds(monkeypatch, tmp_path)
    cfg = stack_config("dev")
    endpoints = json.loads(cfg["sls-endpoints:endpoints"])
    endpoints[1]["serverless"]["max_concurency"] = 3
    cfg["sls-endpoints:endpoints"] = json.dumps(endpoints)
    run = run_program(cfg, "dev")
    assert isinstance(run.error, ConfigError) and "endpoints[1].serverless.max_concurency" in str(run.error)
    assert builders.built == [] and run.resources == []
