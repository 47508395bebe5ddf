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
