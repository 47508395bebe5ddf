"""CloudWatch alarms (only where an endpoint's config asks for them), an optional SNS topic, and a dashboard.

Units matter: ModelLatency and ModelSetupTime are published in microseconds (SageMaker developer guide,
"monitoring-cloudwatch", endpoint invocation metrics), so thresholds configured in milliseconds are
multiplied by 1000. ModelSetupTime is the serverless cold start. Invocation/latency metrics live in the
AWS/SageMaker namespace, memory and CPU utilization in /aws/sagemaker/Endpoints (serverless endpoints publish
MemoryUtilization but no CPU metric), all with the EndpointName + VariantName dimensions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

INVOCATION_NS = "AWS/SageMaker"
INSTANCE_NS = "/aws/sagemaker/Endpoints"
US_PER_MS = 1000  # ModelLatency / ModelSetupTime unit is microseconds


@dataclass(frozen=True)
class AlarmThresholds:
    """When an endpoint's alarms fire; None leaves that alarm out."""

    errors_5xx: int | None = None  # Invocation5XXErrors, Sum per period, alarm when >= this
    errors_4xx: int | None = None  # Invocation4XXErrors, Sum per period
    latency_p90_ms: float | None = None  # ModelLatency p90 (published in microseconds)
    cold_start_ms: float | None = None  # ModelSetupTime Maximum (microseconds); serverless only
    period_s: int = 300
    evaluation_periods: int = 1


@dataclass
class MonitoredEndpoint:
    name: str  # short key: alarm names and dashboard titles
    endpoint_name: pulumi.Input[str]  # the deployed endpoint's name (an Output: alarms wait for the endpoint)
    variant_name: str
    alarms: AlarmThresholds | None = None


@dataclass
class MonitoringArgs:
    endpoints: Sequence[MonitoredEndpoint]
    region: pulumi.Input[str]
    dashboard_name: str
    dashboard: bool = False
    sns_topic: bool = False
    email: str | None = None  # subscribed to the SNS topic


@dataclass(frozen=True)
class AlarmSpec:
    suffix: str
    metric: str
    statistic: str | None  # None: p90 extended statistic
    threshold: float
    description: str
    comparison: str = "GreaterThanOrEqualToThreshold"


def alarm_specs(a: AlarmThresholds | None) -> list[AlarmSpec]:
    """The alarms the thresholds ask for (none without thresholds)."""
    if a is None:
        return []
    specs = []
    if a.errors_5xx is not None:
        specs.append(AlarmSpec("5xx", "Invocation5XXErrors", "Sum", a.errors_5xx, f">= {a.errors_5xx} 5xx errors"))
    if a.errors_4xx is not None:
        specs.append(AlarmSpec("4xx", "Invocation4XXErrors", "Sum", a.errors_4xx, f">= {a.errors_4xx} 4xx errors"))
    if a.latency_p90_ms is not None:
        specs.append(
            AlarmSpec(
                "latency",
                "ModelLatency",
                None,
                a.latency_p90_ms * US_PER_MS,
                f"p90 model latency > {a.latency_p90_ms:g} ms",
                "GreaterThanThreshold",
            )
        )
    if a.cold_start_ms is not None:
        specs.append(
            AlarmSpec(
                "cold-start",
                "ModelSetupTime",
                "Maximum",
                a.cold_start_ms * US_PER_MS,
                f"cold start (ModelSetupTime) > {a.cold_start_ms:g} ms",
                "GreaterThanThreshold",
            )
        )
    return specs


class Monitoring(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str] | None
    alarm_arns: dict[str, pulumi.Output[str]]
    dashboard_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("sls:index:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic_arn = None
        if args.sns_topic:
            topic = aws.sns.Topic(f"{name}-alarms", opts=child)
            self.topic_arn = topic.arn
            if args.email:
                aws.sns.TopicSubscription(
                    f"{name}-alarms-email", topic=topic.arn, protocol="email", endpoint=args.email, opts=child
                )
        actions = [self.topic_arn] if self.topic_arn is not None else []
        self.alarm_arns = {}
        for ep in args.endpoints:
            for spec in alarm_specs(ep.alarms):
                assert ep.alarms is not None
                alarm = aws.cloudwatch.MetricAlarm(
                    f"{name}-{ep.name}-{spec.suffix}",
                    alarm_description=pulumi.Output.concat(
                        ep.endpoint_name, f": {spec.description} over {ep.alarms.period_s} s"
                    ),
                    namespace=INVOCATION_NS,
                    metric_name=spec.metric,
                    dimensions={"EndpointName": ep.endpoint_name, "VariantName": ep.variant_name},
                    statistic=spec.statistic,
                    extended_statistic="p90" if spec.statistic is None else None,
                    period=ep.alarms.period_s,
                    evaluation_periods=ep.alarms.evaluation_periods,
                    threshold=spec.threshold,
                    comparison_operator=spec.comparison,
                    treat_missing_data="notBreaching",  # scale-to-zero endpoints publish nothing when idle
                    alarm_actions=actions,
                    ok_actions=actions,
                    opts=child,
                )
                self.alarm_arns[f"{ep.name}-{spec.suffix}"] = alarm.arn
        self.dashboard_name = None
        if args.dashboard:
            dashboard = aws.cloudwatch.Dashboard(
                f"{name}-dashboard",
                dashboard_name=args.dashboard_name,
                dashboard_body=dashboard_body(args.endpoints, args.region),
                opts=child,
            )
            self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"topic_arn": self.topic_arn, "dashboard_name": self.dashboard_name})


def dashboard_body(endpoints: Sequence[MonitoredEndpoint], region: pulumi.Input[str]) -> pulumi.Output[str]:
    """One row per endpoint: invocations, latency, errors, cold starts, memory and CPU."""
    widgets = []
    for row, mon in enumerate(endpoints):
        dims = ["EndpointName", mon.endpoint_name, "VariantName", mon.variant_name]
        panels = [
            ("Invocations", [[INVOCATION_NS, "Invocations", *dims, {"stat": "Sum"}]]),
            (
                "Model latency (µs)",
                [
                    [INVOCATION_NS, "ModelLatency", *dims, {"stat": "p50"}],
                    [INVOCATION_NS, "ModelLatency", *dims, {"stat": "p90"}],
                ],
            ),
            (
                "Errors",
                [
                    [INVOCATION_NS, "Invocation4XXErrors", *dims, {"stat": "Sum"}],
                    [INVOCATION_NS, "Invocation5XXErrors", *dims, {"stat": "Sum"}],
                ],
            ),
            ("Cold starts: ModelSetupTime (µs)", [[INVOCATION_NS, "ModelSetupTime", *dims, {"stat": "Maximum"}]]),
            (
                "Memory and CPU (%)",
                [
                    [INSTANCE_NS, "MemoryUtilization", *dims, {"stat": "Maximum"}],
                    [INSTANCE_NS, "CPUUtilization", *dims, {"stat": "Average"}],
                ],
            ),
        ]
        for col, (title, metrics) in enumerate(panels):
            widgets.append(
                {
                    "type": "metric",
                    "x": (col % 3) * 8,
                    "y": row * 12 + (col // 3) * 6,
                    "width": 8,
                    "height": 6,
                    "properties": {
                        "title": f"{mon.name}: {title}",
                        "metrics": metrics,
                        "region": region,
                        "view": "timeSeries",
                        "period": 60,
                    },
                }
            )
    return pulumi.Output.json_dumps({"widgets": widgets})
