"""The campaign dashboard: one CloudWatch dashboard per deployment, put by deploy, deleted by teardown.

One page for a scaling campaign: demand against capacity and the usage rate the policy tracks, the
instances, the scaling alarms, the async queue, time to result, images, cache hits, errors by class.
Every metric name comes from sdxl_inf2/core/metrics.py, and the container's metrics are read under the
namespace and dimensions of the usage-rate policy's own demand query (m2), so the dashboard looks
where the emitters write; the capacity and the usage rate are the policy's own expressions.

A widget is one function in WIDGETS; an alarm deploy creates is one of autoscaling.py's `step_policies`.
SageMaker publishes no metric of the desired instance count; docs/deploy.md ("The campaign
dashboard") says what the dashboard cannot show and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sdxl_inf2.core import metrics

from . import autoscaling, surge
from .clients import Clients, describe_or_none, is_missing
from .config import DeployConfig
from .naming import SCALABLE_DIMENSION, SERVICE, arn, dashboard_name, policy_name, resource_id
from .say import say
from .scaling_config import Autoscaling, UsageRate
from .sizing import throughput

if TYPE_CHECKING:
    from types_boto3_application_autoscaling.type_defs import (
        TargetTrackingMetricDataQueryTypeDef,
        TargetTrackingMetricTypeDef,
    )
    from types_boto3_cloudwatch.type_defs import PutDashboardInputTypeDef

Widget = dict[str, Any]
Row = list[Any]  # one entry of a metric widget's `metrics` array
Builder = Callable[["Board"], "Widget | None"]

# One-minute datapoints, as the policies read them: the SampleCount of CPUUtilization is the number
# of instances only per minute, and capacity is per minute. With periodOverride "inherit" a longer
# time range keeps these periods instead of widening them.
PERIOD = 60
SURGE_PERIOD = 10  # the surge widget's: the finest period a dashboard and an alarm share
GRID = 24  # columns of the dashboard grid
WIDTH, HEIGHT = 12, 6  # two graphs a row
START = "-PT3H"  # the time range shown when the dashboard opens
CONSOLE = "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{name}"
# Who counts NumberOfInferenceRequests decides what it means (gateway/demand.py, container/metrics.py).
COUNTED = {"gateway": "arrivals", "container": "requests taken by the instances"}


@dataclass(frozen=True)
class Board:
    """What every widget is built from: the config, the region, and the scaling alarms found."""

    config: DeployConfig
    region: str
    alarm_arns: tuple[str, ...] = ()

    @cached_property
    def queries(self) -> dict[str, TargetTrackingMetricDataQueryTypeDef]:
        """The usage-rate policy's queries by id: m1 instances in service, m2 demand, e1 usage rate.
        Without an autoscaling section they still say where the instances and the container's
        metrics are; its figures (seconds per image, target) are then shown nowhere."""
        config = self.config
        if config.autoscaling is None:
            config = config.model_copy(update={"autoscaling": Autoscaling(enabled=False, max_capacity=1)})
        return {query["Id"]: query for query in autoscaling.usage_rate_metrics(config)}

    @property
    def usage_rate(self) -> UsageRate | None:
        return self.config.autoscaling.usage_rate if self.config.autoscaling else None

    def policy_row(self, query_id: str, **props: Any) -> Row:
        query = self.queries[query_id]
        if "Expression" in query:
            return expression_row(query_id, query["Expression"], **props)
        stat = query["MetricStat"]
        return metric_row(stat["Metric"], stat["Metric"]["MetricName"], query_id, stat["Stat"], **props)

    def container_row(self, name: str, query_id: str, stat: str = metrics.REQUESTS_STAT, **props: Any) -> Row:
        """A container (or gateway) metric, under the policy's demand query's namespace and dimensions."""
        return metric_row(self.queries["m2"]["MetricStat"]["Metric"], name, query_id, stat, **props)


def metric_row(metric: TargetTrackingMetricTypeDef, name: str, query_id: str, stat: str, **props: Any) -> Row:
    dimensions = [
        part for dimension in metric.get("Dimensions", []) for part in (dimension["Name"], dimension["Value"])
    ]
    return [metric["Namespace"], name, *dimensions, {"id": query_id, "stat": stat, **props}]


def expression_row(query_id: str, expression: str, **props: Any) -> Row:
    return [{"expression": expression, "id": query_id, **props}]


def graph(board: Board, title: str, rows: list[Row], y_label: str, **extra: Any) -> Widget:
    left = {"label": y_label, "min": 0, "showUnits": False, **extra.pop("left", {})}
    properties = {
        "title": title,
        "view": "timeSeries",
        "region": board.region,
        "period": PERIOD,
        "stat": metrics.REQUESTS_STAT,
        "metrics": rows,
        "yAxis": {"left": left, **extra.pop("yAxis", {})},
        **extra,
    }
    return {"type": "metric", "width": WIDTH, "height": HEIGHT, "properties": properties}


def about(board: Board) -> Widget:
    """AWS's advice for a dashboard put by a script: a text widget that says so."""
    counted = board.config.requests_counted_by
    text = (
        f"## {board.config.name} ({board.region})\n\nPut by `sdxl-inf2 deploy` from the deployment config: "
        "changes made here are replaced at the next deploy. Requests are counted by the "
        f"{counted} ({COUNTED[counted]}). SageMaker publishes no metric of the desired instance count: "
        "`sdxl-inf2 status` prints it, and the scaling alarms show when a policy asks for more or fewer."
    )
    return {"type": "text", "width": GRID, "height": 3, "properties": {"markdown": text}}


def demand_and_capacity(board: Board) -> Widget | None:
    rate = board.usage_rate
    if rate is None:  # no seconds_per_image: no capacity to show
        return None
    config, demand = board.config, board.queries["m2"]["MetricStat"]["Metric"]["MetricName"]
    requests = f"{COUNTED[config.requests_counted_by]} ({metrics.REQUESTS})"
    rows = [board.policy_row("m1", label="instances in service", visible=False)]
    if demand == metrics.REQUESTS:
        rows.append(board.policy_row("m2", label=requests))
    else:  # the policy reads only the requests that need a render
        rows += [board.container_row(metrics.REQUESTS, "arrivals", label=requests)]
        rows += [board.policy_row("m2", label=f"demand the policy reads ({demand})")]
    rendered = throughput(config)
    capacity = autoscaling.capacity_expression("m1", rendered.seconds_per_image, rendered.workers)
    label = f"capacity: in service * {rendered.workers} workers * 60 / {rendered.seconds_per_image:g} s per image"
    rows.append(expression_row("capacity", capacity, label=label))
    return graph(board, "Demand and capacity", rows, "requests per minute")


def usage_rate(board: Board) -> Widget | None:
    rate, scaling = board.usage_rate, board.config.autoscaling
    if rate is None or scaling is None:
        return None
    read = [query_id for query_id, query in board.queries.items() if "MetricStat" in query]  # m3 with the surge
    rows = [board.policy_row(query_id, visible=False) for query_id in read]
    rows.append(board.policy_row("e1", label="usage rate"))
    tracked = scaling.enabled and scaling.policy == "usage-rate"
    title = "Usage rate: demand ÷ capacity" + ("" if tracked else f" (not tracked: policy {scaling.policy})")
    target = {"label": f"target {rate.target_value:g}", "value": rate.target_value}
    return graph(board, title, rows, "demand ÷ capacity", annotations={"horizontal": [target] if tracked else []})


def instances(board: Board) -> Widget:
    rows = [board.policy_row("m1", label="in service (CPUUtilization SampleCount)")]
    scaling, lines = board.config.autoscaling, []
    if scaling is not None and scaling.enabled:
        rate = scaling.usage_rate
        rendered = throughput(board.config)
        one = autoscaling.capacity_expression("1", rendered.seconds_per_image, rendered.workers)
        needed = f"m2 / ({one}) / {rate.target_value:g}"
        rows.append(board.policy_row("m2", visible=False))
        rows.append(expression_row("needed", needed, label=f"needed at target {rate.target_value:g}"))
        bounds = {"max_capacity": scaling.max_capacity, "min_capacity": scaling.min_capacity}
        lines = [{"label": f"{key} {value}", "value": value} for key, value in bounds.items() if value]
    title = "Instances (SageMaker publishes no desired count)"
    return graph(board, title, rows, "instances", annotations={"horizontal": lines})


def scaling_alarms(board: Board) -> Widget | None:
    if not board.alarm_arns:  # an alarm widget holds 1 to 100 alarms
        return None
    properties = {"title": "Scaling alarms", "alarms": list(board.alarm_arns[:100]), "sortBy": "stateUpdatedTimestamp"}
    return {"type": "alarm", "width": WIDTH, "height": HEIGHT, "properties": properties}


def surge_demand(board: Board) -> Widget | None:
    """The demand the surge alarm reads, at high resolution, against its gate (what the instances in
    service render per period, from their heartbeat, times the gate: the alarm's own expression) and
    its threshold. Shown per 10 s whatever the alarm's period: a dashboard takes 1, 5, 10, 30 or a
    multiple of 60 s, not 20; the gate compares one period's demand with the same period's heartbeat."""
    config = board.config
    if not config.surge_enabled:
        return None
    settings = surge.settings(config)
    period, serving = settings.period_s, surge.SERVING_ID
    rows = [board.policy_row("m2", label=f"demand per {SURGE_PERIOD} s (high resolution)", period=SURGE_PERIOD)]
    heartbeat = metrics.IN_SERVICE_SECONDS
    rows.append(board.container_row(heartbeat, serving, metrics.IN_SERVICE_STAT, period=SURGE_PERIOD, visible=False))
    gate = surge.gate_expression(config, serving)
    rows.append(expression_row("gate", gate, label=f"gate: {settings.gate:g} x what the instances in service render"))
    per_shown = SURGE_PERIOD / period
    bands = surge.bands(config)
    lines = [
        {"label": f"surge starts: {bands[0].capacity} instances", "value": round(bands[0].lower * per_shown, 3)},
        {"label": f"max_capacity {bands[-1].capacity}", "value": round(bands[-1].lower * per_shown, 3)},
    ]
    title = f"Surge: demand per {SURGE_PERIOD} s (its alarm: {period} s x {surge.settings(config).datapoints})"
    return graph(
        board, title, rows, f"requests per {SURGE_PERIOD} s", period=SURGE_PERIOD, annotations={"horizontal": lines}
    )


def backlog(board: Board) -> Widget | None:
    if board.config.async_inference is None:  # a real-time endpoint has no queue
        return None
    endpoint = [metrics.ENDPOINT_DIMENSION, board.config.name]  # SageMaker's async metrics: EndpointName only
    rows = [
        [metrics.SAGEMAKER_NAMESPACE, metrics.BACKLOG_METRIC, *endpoint, {"id": "backlog", "label": "queued requests"}],
        [
            metrics.SAGEMAKER_NAMESPACE,
            metrics.OLDEST_REQUEST_AGE_METRIC,
            *endpoint,
            {"id": "oldest", "label": "oldest request (s)", "yAxis": "right"},
        ],
    ]
    right = {"right": {"label": "seconds", "min": 0, "showUnits": False}}
    return graph(board, "Async queue: backlog and oldest request", rows, "requests", stat="Average", yAxis=right)


def time_to_result(board: Board) -> Widget:
    rows = [board.container_row(metrics.REQUEST_LATENCY, q, stat=q, label=q) for q in ("p50", "p95")]
    return graph(board, f"Time to result in the container ({metrics.REQUEST_LATENCY})", rows, "milliseconds")


def images_generated(board: Board) -> Widget:
    rows = [board.container_row(metrics.IMAGES_GENERATED, "images", label="images rendered")]
    return graph(board, "Images generated", rows, "images per minute")


def cache_hit_ratio(board: Board) -> Widget:
    rows = [
        board.container_row(metrics.CACHE_HITS, "hits", visible=False),
        board.container_row(metrics.REQUESTS, "requests", visible=False),
        # guarded, not left to CloudWatch's dropping of x / 0: a minute without requests has no ratio
        expression_row("ratio", "IF(requests > 0, hits / requests)", label="hits ÷ requests"),
    ]
    return graph(board, "Cache hit ratio", rows, "ratio", left={"max": 1})


def errors_by_class(board: Board) -> Widget:
    """Every ErrorClass the container has emitted, found by a SEARCH (no list of classes to keep)."""
    metric = board.queries["m2"]["MetricStat"]["Metric"]
    values = {dimension["Name"]: dimension["Value"] for dimension in metric.get("Dimensions", [])}
    schema = [json.dumps(metric["Namespace"]), *sorted([*values, metrics.ERROR_CLASS_DIMENSION])]
    terms = [f'MetricName="{metrics.ERRORS}"', *(f'{name}="{value}"' for name, value in values.items())]
    search = f"SEARCH('{{{','.join(schema)}}} {' '.join(terms)}', '{metrics.REQUESTS_STAT}', {PERIOD})"
    rows = [board.container_row(metrics.ERRORS, "all", label="all errors"), expression_row("byclass", search)]
    return graph(board, f"Errors by {metrics.ERROR_CLASS_DIMENSION}", rows, "errors per minute")


WIDGETS: tuple[Builder, ...] = (
    about,
    demand_and_capacity,
    usage_rate,
    instances,
    scaling_alarms,
    surge_demand,
    backlog,
    time_to_result,
    images_generated,
    cache_hit_ratio,
    errors_by_class,
)


def layout(widgets: list[Widget]) -> list[Widget]:
    """Left to right on the 24-column grid, a new row when a widget would not fit."""
    x = y = row_height = 0
    placed = []
    for widget in widgets:
        if x + widget["width"] > GRID:
            x, y, row_height = 0, y + row_height, 0
        placed.append({**widget, "x": x, "y": y})
        x, row_height = x + widget["width"], max(row_height, widget["height"])
    return placed


def body(config: DeployConfig, region: str, alarm_arns: list[str]) -> dict[str, Any]:
    board = Board(config, region, tuple(alarm_arns))
    widgets = [widget for build in WIDGETS if (widget := build(board)) is not None]
    return {"start": START, "periodOverride": "inherit", "widgets": layout(widgets)}


def put_request(config: DeployConfig, region: str, alarm_arns: list[str]) -> PutDashboardInputTypeDef:
    # No Tags: PutDashboard applies them only at creation, and they would cost the caller one more
    # permission (TagResource) for a resource found by its name anyway.
    body_text = json.dumps(body(config, region, alarm_arns), ensure_ascii=False)
    return {"DashboardName": dashboard_name(config, region), "DashboardBody": body_text}


def console_url(config: DeployConfig, region: str) -> str:
    return CONSOLE.format(region=region, name=dashboard_name(config, region))


def planned_alarm_arns(config: DeployConfig, region: str) -> list[str]:
    """For `plan`: the alarms deploy names itself (the target-tracking ones get names only when created)."""
    return [arn(config, "cloudwatch", region, f"alarm:{name}") for name in autoscaling.owned_alarm_names(config)]


def alarm_arns(clients: Clients, config: DeployConfig) -> list[str]:
    """This deployment's scaling alarms that exist now: its own, then the target-tracking policy's."""
    names = autoscaling.owned_alarm_names(config)
    owned = clients.cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] if names else []
    found = [alarm["AlarmArn"] for alarm in owned if "AlarmArn" in alarm]
    if not config.scaling_enabled:
        return found
    ours = {policy_name(config, kind) for kind in autoscaling.POLICY_KINDS}
    policies = clients.autoscaling.describe_scaling_policies(
        ServiceNamespace=SERVICE, ResourceId=resource_id(config), ScalableDimension=SCALABLE_DIMENSION
    )["ScalingPolicies"]
    managed = [a["AlarmARN"] for p in policies if p["PolicyName"] in ours for a in p.get("Alarms", [])]
    return found + managed


def apply(clients: Clients, config: DeployConfig) -> None:
    """Puts the dashboard (the whole body: PutDashboard replaces it), or removes it with `dashboard: false`."""
    if not config.dashboard:
        remove(clients, config)
        return
    request = put_request(config, clients.region, alarm_arns(clients, config))
    answer = clients.cloudwatch.put_dashboard(**request)
    for message in answer.get("DashboardValidationMessages", []):  # warnings; errors raise
        say(f"dashboard {request['DashboardName']}: {message.get('DataPath', '')}: {message.get('Message', '')}")
    say(f"dashboard {request['DashboardName']}: {console_url(config, clients.region)}")


def remove(clients: Clients, config: DeployConfig) -> None:
    name = dashboard_name(config, clients.region)
    try:
        clients.cloudwatch.delete_dashboards(DashboardNames=[name])
    except ClientError as exc:
        if is_missing(exc):  # DeleteDashboards answers ResourceNotFound for a name that does not exist
            return
        raise
    say(f"dashboard {name}: deleted")


def status_lines(clients: Clients, config: DeployConfig) -> list[str]:
    name = dashboard_name(config, clients.region)
    found = describe_or_none(lambda: clients.cloudwatch.get_dashboard(DashboardName=name))
    if found is None:
        return [f"dashboard {name}: none" + ("" if config.dashboard else " (dashboard: false)")]
    return [f"dashboard {name}: {console_url(config, clients.region)}"]
