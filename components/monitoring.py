"""CloudWatch alarms (only where an endpoint's config asks for them), where they go (an SNS topic with its
subscribers, or an existing topic), and a dashboard.

Units matter: ModelLatency, OverheadLatency and ModelSetupTime are published in microseconds (SageMaker
developer guide, "monitoring-cloudwatch"), so thresholds configured in milliseconds are multiplied by 1000.
ModelSetupTime is the serverless cold start. A serverless endpoint publishes only the metrics in
SERVERLESS_METRICS ("serverless-endpoints-monitoring": "any metric not listed is not published"), so its
dashboard graphs nothing else (no CPUUtilization). Dimensions: EndpointName + VariantName.

Alarms have fixed names (`<endpoint name>-<kind>`) and are declared before the endpoints: an endpoint's
blue/green update rolls back on them, and the provider replaces an endpoint whose rollback alarm list changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

INVOCATION_NS = "AWS/SageMaker"
INSTANCE_NS = "/aws/sagemaker/Endpoints"
US_PER_MS = 1000  # ModelLatency / ModelSetupTime unit is microseconds
# What a serverless endpoint publishes, by namespace (the developer guide's exhaustive list; the provisioned
# concurrency metrics only where concurrency is provisioned).
SERVERLESS_METRICS = {
    INVOCATION_NS: {
        "Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency", "OverheadLatency",
        "ModelSetupTime", "ServerlessConcurrentExecutionsUtilization", "ServerlessProvisionedConcurrencyExecutions",
        "ServerlessProvisionedConcurrencyUtilization", "ServerlessProvisionedConcurrencyInvocations",
        "ServerlessProvisionedConcurrencySpilloverInvocations",
    },
    INSTANCE_NS: {"MemoryUtilization"},
}


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
    name: str  # short key: resource names and dashboard titles
    endpoint_name: str  # the endpoint's name (known before it exists: its alarms come first)
    variant_name: str
    alarms: AlarmThresholds | None = None
    serverless: bool = True
    provisioned: bool = False  # provisioned concurrency: its utilization metric exists


@dataclass
class MonitoringArgs:
    endpoints: Sequence[MonitoredEndpoint]
    region: pulumi.Input[str]
    dashboard_name: str
    dashboard: bool = False
    sns_topic: bool = False  # create a topic for the alarms ...
    emails: Sequence[str] = ()  # ... with these subscribers
    topic_arn: str | None = None  # or notify an existing topic


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


def alarm_name(endpoint_name: str, suffix: str) -> str:
    """Fixed, unique per account and region (endpoint names are): the endpoint's rollback list never changes."""
    return f"{endpoint_name}-{suffix}"


class Monitoring(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str] | None
    alarm_arns: dict[str, pulumi.Output[str]]
    alarm_names: dict[str, list[pulumi.Output[str]]]  # endpoint key -> its alarms' names (rollback triggers)
    dashboard_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("sls:index:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic_arn = None
        if args.sns_topic:
            topic = aws.sns.Topic(f"{name}-alarms", opts=child)
            self.topic_arn = topic.arn
            for i, email in enumerate(args.emails):  # the first keeps its earlier resource name
                aws.sns.TopicSubscription(
                    f"{name}-alarms-email" + (f"-{i + 1}" if i else ""),
                    topic=topic.arn,
                    protocol="email",
                    endpoint=email,
                    opts=child,
                )
        elif args.topic_arn is not None:
            self.topic_arn = pulumi.Output.from_input(args.topic_arn)
        actions = [self.topic_arn] if self.topic_arn is not None else []
        self.alarm_arns = {}
        self.alarm_names = {}
        for ep in args.endpoints:
            for spec in alarm_specs(ep.alarms):
                assert ep.alarms is not None
                alarm = aws.cloudwatch.MetricAlarm(
                    f"{name}-{ep.name}-{spec.suffix}",
                    name=alarm_name(ep.endpoint_name, spec.suffix),
                    alarm_description=f"{ep.endpoint_name}: {spec.description} over {ep.alarms.period_s} s",
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
                self.alarm_names.setdefault(ep.name, []).append(alarm.name)
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


def dashboard_panels(mon: MonitoredEndpoint) -> list[tuple[str, list[list]]]:
    """The endpoint's row: only metrics it publishes (SERVERLESS_METRICS for a serverless endpoint)."""
    dims = ["EndpointName", mon.endpoint_name, "VariantName", mon.variant_name]
    panels: list[tuple[str, list[list]]] = [
        (
            "Invocations and errors",
            [
                [INVOCATION_NS, "Invocations", *dims, {"stat": "Sum"}],
                [INVOCATION_NS, "Invocation4XXErrors", *dims, {"stat": "Sum"}],
                [INVOCATION_NS, "Invocation5XXErrors", *dims, {"stat": "Sum"}],
            ],
        ),
        (
            "Latency (µs): model p50/p90, overhead p90",
            [
                [INVOCATION_NS, "ModelLatency", *dims, {"stat": "p50"}],
                [INVOCATION_NS, "ModelLatency", *dims, {"stat": "p90"}],
                [INVOCATION_NS, "OverheadLatency", *dims, {"stat": "p90"}],
            ],
        ),
        ("Cold starts: ModelSetupTime (µs)", [[INVOCATION_NS, "ModelSetupTime", *dims, {"stat": "Maximum"}]]),
    ]
    memory = [[INSTANCE_NS, "MemoryUtilization", *dims, {"stat": "Maximum"}]]
    if not mon.serverless:
        memory.append([INSTANCE_NS, "CPUUtilization", *dims, {"stat": "Average"}])
    panels.append(("Memory (%)" if mon.serverless else "Memory and CPU (%)", memory))
    if mon.serverless:
        concurrency = [[INVOCATION_NS, "ServerlessConcurrentExecutionsUtilization", *dims, {"stat": "Maximum"}]]
        if mon.provisioned:
            concurrency.append(
                [INVOCATION_NS, "ServerlessProvisionedConcurrencyUtilization", *dims, {"stat": "Maximum"}]
            )
        panels.append(("Concurrency utilization", concurrency))
    return panels


def dashboard_body(endpoints: Sequence[MonitoredEndpoint], region: pulumi.Input[str]) -> pulumi.Output[str]:
    """One row per endpoint: invocations and errors, latency, cold starts, memory, concurrency."""
    widgets = []
    for row, mon in enumerate(endpoints):
        for col, (title, metrics) in enumerate(dashboard_panels(mon)):
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
