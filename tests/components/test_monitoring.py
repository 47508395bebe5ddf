"""components.monitoring on its own: alarms only where thresholds are given, in CloudWatch's units, an SNS
topic with an optional e-mail subscription, and a dashboard row per endpoint."""

from __future__ import annotations

import json

import pulumi
from pulumi_mocks import run_declarations

from components.monitoring import (
    US_PER_MS,
    AlarmThresholds,
    MonitoredEndpoint,
    Monitoring,
    MonitoringArgs,
    alarm_specs,
)


def test_alarm_specs_follow_the_thresholds_given():
    assert alarm_specs(None) == [] and alarm_specs(AlarmThresholds()) == []
    specs = {s.suffix: s for s in alarm_specs(AlarmThresholds(errors_5xx=2, latency_p90_ms=250, cold_start_ms=9000))}
    assert sorted(specs) == ["5xx", "cold-start", "latency"]
    assert specs["latency"].threshold == 250 * US_PER_MS and specs["latency"].statistic is None  # p90
    assert specs["cold-start"].metric == "ModelSetupTime" and specs["cold-start"].threshold == 9000 * US_PER_MS
    assert specs["5xx"].comparison == "GreaterThanOrEqualToThreshold"


def test_monitoring_alone_with_a_topic_an_email_and_a_dashboard():
    def declare(provider):
        m = Monitoring(
            "mon",
            MonitoringArgs(
                endpoints=[
                    MonitoredEndpoint("a", "a-qa", "AllTraffic", AlarmThresholds(errors_4xx=5, period_s=120)),
                    MonitoredEndpoint("b", "b-qa", "AllTraffic"),
                ],
                region="eu-west-1",
                dashboard_name="proj-qa",
                dashboard=True,
                sns_topic=True,
                emails=["ops@example.com", "oncall@example.com"],
            ),
            pulumi.ResourceOptions(providers=[provider]),
        )
        return {"topic": m.topic_arn, "dashboard": m.dashboard_name}

    run = declare_and_run(declare)
    (alarm,) = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.name == "mon-a-4xx" and alarm.inputs["period"] == 120
    assert alarm.inputs["alarmDescription"] == "a-qa: >= 5 4xx errors over 120 s"
    assert alarm.inputs["dimensions"] == {"EndpointName": "a-qa", "VariantName": "AllTraffic"}
    assert alarm.inputs["alarmActions"] == [run.outputs["topic"]]
    assert run.get("mon-alarms-email").inputs["endpoint"] == "ops@example.com"
    assert run.get("mon-alarms-email-2").inputs["endpoint"] == "oncall@example.com"
    assert alarm.inputs["name"] == "a-qa-4xx"  # fixed: an endpoint's auto-rollback names it
    body = json.loads(run.get("mon-dashboard").inputs["dashboardBody"])
    titles = {w["properties"]["title"].split(":")[0] for w in body["widgets"]}
    assert titles == {"a", "b"} and run.outputs["dashboard"] == "proj-qa"


def test_without_topic_or_dashboard_only_the_alarms_exist():
    def declare(provider):
        Monitoring(
            "mon",
            MonitoringArgs(
                endpoints=[MonitoredEndpoint("a", "a-qa", "AllTraffic", AlarmThresholds(errors_5xx=1))],
                region="us-east-1",
                dashboard_name="proj-qa",
            ),
            pulumi.ResourceOptions(providers=[provider]),
        )
        return {}

    run = declare_and_run(declare)
    assert [r.typ for r in run.resources if r.typ.startswith("aws:")] == ["aws:cloudwatch/metricAlarm:MetricAlarm"]
    assert not run.get("mon-a-5xx").inputs.get("alarmActions")


def declare_and_run(declare):
    return run_declarations(declare, region="eu-west-1")


def test_alarms_can_notify_an_existing_topic():
    topic = "arn:aws:sns:eu-west-1:123456789012:oncall"

    def declare(provider):
        m = Monitoring(
            "mon",
            MonitoringArgs(
                endpoints=[MonitoredEndpoint("a", "a-qa", "AllTraffic", AlarmThresholds(errors_5xx=1))],
                region="eu-west-1",
                dashboard_name="proj-qa",
                topic_arn=topic,
            ),
            pulumi.ResourceOptions(providers=[provider]),
        )
        return {"topic": m.topic_arn, "names": m.alarm_names}

    run = declare_and_run(declare)
    assert not run.of_type("aws:sns/topic:Topic")
    assert run.get("mon-a-5xx").inputs["alarmActions"] == [topic] == [run.outputs["topic"]]
    assert run.outputs["names"] == {"a": ["a-qa-5xx"]}


# ------------------------------------------------------------------------------------------------ alarm semantics
# What each alarm means, from CloudWatch's and SageMaker's documentation (not from the code): every alarm fires
# when its metric is ABOVE the configured value (errors: at or above the count); ModelLatency and ModelSetupTime
# are published in microseconds, so milliseconds are multiplied by 1000; a scale-to-zero endpoint publishes
# nothing while idle, so missing data must count as not breaching (else an idle endpoint would alarm).
ALL_THRESHOLDS = AlarmThresholds(errors_5xx=3, errors_4xx=20, latency_p90_ms=250, cold_start_ms=9000, period_s=60,
                                 evaluation_periods=2)
EXPECTED_ALARMS = {
    # suffix: (metric, statistic, extendedStatistic, threshold, comparisonOperator)
    "5xx": ("Invocation5XXErrors", "Sum", None, 3, "GreaterThanOrEqualToThreshold"),
    "4xx": ("Invocation4XXErrors", "Sum", None, 20, "GreaterThanOrEqualToThreshold"),
    "latency": ("ModelLatency", None, "p90", 250_000, "GreaterThanThreshold"),
    "cold-start": ("ModelSetupTime", "Maximum", None, 9_000_000, "GreaterThanThreshold"),
}
EXPECTED_DESCRIPTIONS = {
    "5xx": "a-qa: >= 3 5xx errors over 60 s",
    "4xx": "a-qa: >= 20 4xx errors over 60 s",
    "latency": "a-qa: p90 model latency > 250 ms over 60 s",
    "cold-start": "a-qa: cold start (ModelSetupTime) > 9000 ms over 60 s",
}


def _all_alarms(sns_topic: bool = False):
    def declare(provider):
        m = Monitoring(
            "mon",
            MonitoringArgs(
                endpoints=[MonitoredEndpoint("a", "a-qa", "AllTraffic", ALL_THRESHOLDS)],
                region="eu-west-1",
                dashboard_name="proj-qa",
                sns_topic=sns_topic,
            ),
            pulumi.ResourceOptions(providers=[provider]),
        )
        return {"topic": m.topic_arn}

    run = declare_and_run(declare)
    return run, {a.name.removeprefix("mon-a-"): a for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}


def test_every_alarm_fires_above_its_threshold_in_the_metrics_own_unit():
    _, alarms = _all_alarms()
    assert sorted(alarms) == sorted(EXPECTED_ALARMS)
    for suffix, (metric, statistic, extended, threshold, operator) in EXPECTED_ALARMS.items():
        inputs = alarms[suffix].inputs
        assert inputs["metricName"] == metric, f"alarm mon-a-{suffix}: metricName"
        assert inputs["namespace"] == "AWS/SageMaker", f"alarm mon-a-{suffix}: namespace"
        assert inputs.get("statistic") == statistic, f"alarm mon-a-{suffix}: statistic"
        assert inputs.get("extendedStatistic") == extended, f"alarm mon-a-{suffix}: extendedStatistic"
        assert inputs["threshold"] == threshold, f"alarm mon-a-{suffix}: threshold"
        assert inputs["comparisonOperator"] == operator, f"alarm mon-a-{suffix}: comparisonOperator"
        assert "unit" not in inputs, f"alarm mon-a-{suffix}: unit (unset: the threshold is in the metric's own unit)"


def test_an_idle_scale_to_zero_endpoint_never_alarms_missing_data_is_not_breaching():
    _, alarms = _all_alarms()
    for suffix, alarm in alarms.items():
        assert alarm.inputs["treatMissingData"] == "notBreaching", f"alarm mon-a-{suffix}: treatMissingData"


def test_every_alarm_watches_its_endpoint_over_the_configured_period():
    _, alarms = _all_alarms()
    for suffix, alarm in alarms.items():
        inputs = alarm.inputs
        assert inputs["dimensions"] == {"EndpointName": "a-qa", "VariantName": "AllTraffic"}, f"mon-a-{suffix}"
        assert (inputs["period"], inputs["evaluationPeriods"]) == (60, 2), f"alarm mon-a-{suffix}: period"
        assert inputs["alarmDescription"] == EXPECTED_DESCRIPTIONS[suffix], f"alarm mon-a-{suffix}: description"


def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears():
    run, alarms = _all_alarms(sns_topic=True)
    topic_arn = run.outputs["topic"]
    assert topic_arn
    for suffix, alarm in alarms.items():
        assert alarm.inputs["alarmActions"] == [topic_arn], f"alarm mon-a-{suffix}: alarmActions"
        assert alarm.inputs["okActions"] == [topic_arn], f"alarm mon-a-{suffix}: okActions"


def test_a_threshold_of_zero_still_declares_its_alarm():
    """0 is a threshold (alarm on any 5xx), not 'no alarm': only None leaves an alarm out."""
    specs = {s.suffix: s for s in alarm_specs(AlarmThresholds(errors_5xx=0, errors_4xx=0, latency_p90_ms=0,
                                                              cold_start_ms=0))}
    assert sorted(specs) == sorted(EXPECTED_ALARMS)
    assert all(s.threshold == 0 for s in specs.values())


# ------------------------------------------------------------------------------------------------ dashboard
# One row per endpoint, 3 panels of 8x6 per line on CloudWatch's 24-column grid; each graphs only metrics the
# endpoint publishes (a serverless endpoint: no CPUUtilization; provisioned concurrency only where provisioned).


def metric(ns, name, endpoint, stat):
    return [ns, name, "EndpointName", endpoint, "VariantName", "AllTraffic", {"stat": stat}]


def panels(endpoint: str, serverless: bool, provisioned: bool) -> list[tuple[str, list]]:
    sm, ep = "AWS/SageMaker", "/aws/sagemaker/Endpoints"
    out = [
        ("Invocations and errors", [metric(sm, "Invocations", endpoint, "Sum"),
                                    metric(sm, "Invocation4XXErrors", endpoint, "Sum"),
                                    metric(sm, "Invocation5XXErrors", endpoint, "Sum")]),
        ("Latency (µs): model p50/p90, overhead p90", [metric(sm, "ModelLatency", endpoint, "p50"),
                                                       metric(sm, "ModelLatency", endpoint, "p90"),
                                                       metric(sm, "OverheadLatency", endpoint, "p90")]),
        ("Cold starts: ModelSetupTime (µs)", [metric(sm, "ModelSetupTime", endpoint, "Maximum")]),
    ]
    if serverless:
        out.append(("Memory (%)", [metric(ep, "MemoryUtilization", endpoint, "Maximum")]))
        concurrency = [metric(sm, "ServerlessConcurrentExecutionsUtilization", endpoint, "Maximum")]
        if provisioned:
            concurrency.append(metric(sm, "ServerlessProvisionedConcurrencyUtilization", endpoint, "Maximum"))
        out.append(("Concurrency utilization", concurrency))
    else:
        out.append(("Memory and CPU (%)", [metric(ep, "MemoryUtilization", endpoint, "Maximum"),
                                           metric(ep, "CPUUtilization", endpoint, "Average")]))
    return out


def test_the_dashboard_has_a_row_per_endpoint_with_only_the_metrics_it_publishes(component_outputs):
    endpoints = [
        MonitoredEndpoint("a", "a-qa", "AllTraffic", provisioned=True),
        MonitoredEndpoint("b", "b-qa", "AllTraffic"),
        MonitoredEndpoint("c", "c-qa", "AllTraffic", serverless=False),
    ]

    def declare(provider):
        m = Monitoring("mon", MonitoringArgs(endpoints=endpoints, region="eu-west-1", dashboard_name="proj-qa",
                                             dashboard=True), pulumi.ResourceOptions(providers=[provider]))
        return {"dashboard": m.dashboard_name, "topic": m.topic_arn}

    run = declare_and_run(declare)
    dashboard = run.get("mon-dashboard")
    assert dashboard.inputs["dashboardName"] == "proj-qa" == run.outputs["dashboard"]
    expected = []
    for row, (key, serverless, provisioned) in enumerate([("a", True, True), ("b", True, False),
                                                           ("c", False, False)]):
        for col, (title, metrics) in enumerate(panels(f"{key}-qa", serverless, provisioned)):
            expected.append({
                "type": "metric",
                "x": [0, 8, 16][col % 3],
                "y": 12 * row + [0, 6][col // 3],
                "width": 8,
                "height": 6,
                "properties": {"title": f"{key}: {title}", "metrics": metrics, "region": "eu-west-1",
                               "view": "timeSeries", "period": 60},
            })
    assert json.loads(dashboard.inputs["dashboardBody"]) == {"widgets": expected}
    component = next(r for r in run.resources if r.typ == "sls:index:Monitoring")
    assert dashboard.parent == component.urn
    assert run.outputs["topic"] is None and not run.of_type("aws:sns/topic:Topic")
    assert component_outputs["mon"] == {"dashboard_name": "proj-qa"}


def test_a_topic_its_subscribers_and_the_alarms_arns_by_endpoint_and_kind(component_outputs):
    def declare(provider):
        m = Monitoring(
            "mon",
            MonitoringArgs(
                endpoints=[MonitoredEndpoint("a", "a-qa", "AllTraffic", AlarmThresholds(errors_5xx=1, errors_4xx=9)),
                           MonitoredEndpoint("b", "b-qa", "AllTraffic", AlarmThresholds(cold_start_ms=5))],
                region="eu-west-1",
                dashboard_name="proj-qa",
                sns_topic=True,
                emails=["ops@example.com", "oncall@example.com", "lead@example.com"],
            ),
            pulumi.ResourceOptions(providers=[provider]),
        )
        return {"arns": m.alarm_arns, "names": m.alarm_names, "topic": m.topic_arn, "dashboard": m.dashboard_name}

    run = declare_and_run(declare)
    topic = run.get("mon-alarms")
    component = next(r for r in run.resources if r.typ == "sls:index:Monitoring")
    assert topic.parent == component.urn and "name" not in topic.inputs
    # the engine registers resources concurrently: their order in the run is not the order of declaration
    subscriptions = sorted((s.name, s.inputs) for s in run.of_type("aws:sns/topicSubscription:TopicSubscription"))
    assert subscriptions == [
        (name, {"topic": topic.state["arn"], "protocol": "email", "endpoint": email})
        for name, email in [("mon-alarms-email", "ops@example.com"), ("mon-alarms-email-2", "oncall@example.com"),
                            ("mon-alarms-email-3", "lead@example.com")]
    ]
    assert all(s.parent == component.urn for s in run.of_type("aws:sns/topicSubscription:TopicSubscription"))
    alarms = {a.name: a for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert sorted(alarms) == ["mon-a-4xx", "mon-a-5xx", "mon-b-cold-start"]
    assert all(a.parent == component.urn for a in alarms.values())
    assert run.outputs["arns"] == {
        "a-5xx": alarms["mon-a-5xx"].state["arn"],
        "a-4xx": alarms["mon-a-4xx"].state["arn"],
        "b-cold-start": alarms["mon-b-cold-start"].state["arn"],
    }
    assert run.outputs["names"] == {"a": ["a-qa-5xx", "a-qa-4xx"], "b": ["b-qa-cold-start"]}
    assert run.outputs["topic"] == topic.state["arn"] and run.outputs["dashboard"] is None
    assert component_outputs["mon"] == {"topic_arn": topic.state["arn"]}


def test_without_any_email_the_topic_has_no_subscriber():
    def declare(provider):
        Monitoring("mon", MonitoringArgs(endpoints=[], region="eu-west-1", dashboard_name="d", sns_topic=True),
                   pulumi.ResourceOptions(providers=[provider]))
        return {}

    run = declare_and_run(declare)
    assert [r.typ for r in run.resources if r.typ.startswith("aws:")] == ["aws:sns/topic:Topic"]
