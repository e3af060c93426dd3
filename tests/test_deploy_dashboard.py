"""The campaign dashboard: its body checked against CloudWatch's documented structure (moto checks only
that it is JSON), its metrics against core/metrics.py and the usage-rate policy, and its life in
deploy, autoscale, status, plan and teardown against moto."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from sdxl_inf2.core import metrics
from sdxl_inf2.deploy import dashboard, surge
from sdxl_inf2.deploy.autoscaling import usage_rate_metrics
from sdxl_inf2.deploy.clients import Clients
from sdxl_inf2.deploy.config import DeployConfig, load_config
from sdxl_inf2.deploy.metric_math import compile_expression
from sdxl_inf2.deploy.plan import deploy_calls
from tests.aws import ACCOUNT, REGION, Aws, cli, write_config
from tests.gateway_support import CACHE

Capsys = pytest.CaptureFixture[str]
NAME = "sdxl-inf2-prod-us-east-1"
URL = f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/{NAME}"
STEP_ALARM = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:sdxl-inf2-prod-has-backlog-without-capacity"
METRIC_NAMES = {value for key, value in vars(metrics).items() if key.isupper() and isinstance(value, str)}
STAT = re.compile(r"^(SampleCount|Average|Sum|Minimum|Maximum|p\d{1,2}(\.\d+)?)$")  # the body reference's stats
DASHBOARD_PERIODS = (1, 5, 10, 30)  # below a minute, for high-resolution metrics (the body reference)
ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")  # "The Id must start with a lowercase letter"
SEARCH = re.compile(r"^SEARCH\('\{(?P<schema>[^}]*)\} (?P<terms>[^']*)', '(?P<stat>\w+)', (?P<period>\d+)\)$")
GATEWAY = {"gateway.role_arn": "arn:aws:iam::123456789012:role/g", "gateway.enabled": True}
CONFIGS: dict[str, dict[str, Any]] = {
    "example": {},
    "hits counted": {"autoscaling.usage_rate.count_cache_hits": True},
    "gateway counts": {**GATEWAY, "environment": {"SDXL_CACHE_S3_URI": CACHE}},
    "backlog policy": {"autoscaling.policy": "backlog"},
    "no autoscaling": {"autoscaling": None},
    "real-time": {"async_inference": None, "autoscaling": None},
}


def config_of(tmp_path: Path, **changes: Any) -> DeployConfig:
    return load_config(write_config(tmp_path, **changes))


def titles(body: dict[str, Any]) -> list[str]:
    return [w["properties"].get("title", w["type"]) for w in body["widgets"]]


def rows_of(widget: dict[str, Any]) -> list[list[Any]]:
    return list(widget["properties"].get("metrics", []))


def options(row: list[Any]) -> dict[str, Any]:
    return row[-1] if isinstance(row[-1], dict) else {}


def check_body(body: dict[str, Any], config: DeployConfig) -> None:
    """CloudWatch's Dashboard Body Structure and Syntax, the parts this body uses."""
    assert set(body) <= {"widgets", "start", "end", "periodOverride", "variables"}
    assert body["periodOverride"] == "inherit" and re.fullmatch(r"-P(T\d+[MH]|\d+[DWM])", body["start"])
    assert 0 <= len(body["widgets"]) <= 500
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["type"] in {"metric", "text", "log", "alarm", "explorer"}
        assert 0 <= widget["x"] <= 23 and widget["y"] >= 0 and 1 <= widget["width"] <= 24 - widget["x"]
        assert 1 <= widget["height"] <= 1000
        area = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not cells & area, f"{widget['properties'].get('title')} overlaps another widget"
        cells |= area
        {"metric": check_metric_widget, "alarm": check_alarm_widget, "text": check_text_widget}[widget["type"]](
            widget["properties"], config
        )


def check_text_widget(properties: dict[str, Any], config: DeployConfig) -> None:
    assert isinstance(properties["markdown"], str) and config.name in properties["markdown"]


def check_alarm_widget(properties: dict[str, Any], config: DeployConfig) -> None:
    assert 1 <= len(properties["alarms"]) <= 100
    assert all(re.fullmatch(rf"arn:aws:cloudwatch:{REGION}:\d{{12}}:alarm:.+", a) for a in properties["alarms"])
    assert properties.get("sortBy", "default") in {"default", "stateUpdatedTimestamp", "timestamp"}


def check_metric_widget(properties: dict[str, Any], config: DeployConfig) -> None:
    assert properties["region"] == REGION and properties["view"] in {"timeSeries", "singleValue", "gauge", "bar", "pie"}
    assert properties["period"] in DASHBOARD_PERIODS or properties["period"] % 60 == 0
    assert STAT.match(properties["stat"])
    rows = properties["metrics"]
    assert 1 <= len(rows) <= 500
    ids = [options(row).get("id") for row in rows]
    assert all(ID.match(i) for i in ids) and len(set(ids)) == len(ids), ids
    for row in rows:
        if isinstance(row[0], dict):
            check_expression(row[0]["expression"], {i for i in ids if i != row[0]["id"]}, config)
            continue
        namespace, name, *pairs = row[:-1] if isinstance(row[-1], dict) else row
        assert namespace in {config.container_metric_namespace, metrics.INSTANCE_NAMESPACE, metrics.SAGEMAKER_NAMESPACE}
        assert name in METRIC_NAMES, f"{name} is not named in sdxl_inf2/core/metrics.py"
        assert len(pairs) % 2 == 0 and pairs[0] == metrics.ENDPOINT_DIMENSION
        assert STAT.match(options(row).get("stat", properties["stat"]))
    for line in properties.get("annotations", {}).get("horizontal", []):
        assert isinstance(line["value"], (int, float)) and line["label"]


def check_expression(text: str, ids: set[str], config: DeployConfig) -> None:
    """Metric math parses with deploy's evaluator and names only ids of its widget; a SEARCH finds
    a metric of core/metrics.py in the container's namespace, under exact dimension names."""
    found = SEARCH.match(text)
    if found is None:
        compile_expression(text, ids)
        return
    namespace, *dimensions = found["schema"].split(",")
    assert json.loads(namespace) == config.container_metric_namespace and dimensions == sorted(dimensions)
    terms = dict(re.findall(r'(\w+)="([^"]*)"', found["terms"]))
    assert terms["MetricName"] in METRIC_NAMES and set(terms) - {"MetricName"} < set(dimensions)
    assert STAT.match(found["stat"]) and int(found["period"]) % 60 == 0


@pytest.mark.parametrize("changes", CONFIGS.values(), ids=CONFIGS.keys())
def test_the_body_follows_the_documented_structure(tmp_path: Path, changes: dict[str, Any]) -> None:
    config = config_of(tmp_path, **changes)
    check_body(dashboard.body(config, REGION, [STEP_ALARM]), config)


def test_the_widgets_of_each_kind_of_deployment(tmp_path: Path) -> None:
    full = [
        "text",
        "Demand and capacity",
        "Usage rate: demand ÷ capacity",
        "Instances (SageMaker publishes no desired count)",
        "Scaling alarms",
        "Async queue: backlog and oldest request",
        "Time to result in the container (RequestLatency)",
        "Images generated",
        "Cache hit ratio",
        "Errors by ErrorClass",
    ]
    assert titles(dashboard.body(config_of(tmp_path), REGION, [STEP_ALARM])) == full
    assert titles(dashboard.body(config_of(tmp_path), REGION, [])) == [t for t in full if t != "Scaling alarms"]
    backlog = titles(dashboard.body(config_of(tmp_path, **CONFIGS["backlog policy"]), REGION, []))
    assert "Usage rate: demand ÷ capacity (not tracked: policy backlog)" in backlog
    unscaled = titles(dashboard.body(config_of(tmp_path, **CONFIGS["no autoscaling"]), REGION, []))
    assert unscaled == ["text", *full[3:4], *full[5:]]  # no seconds per image: no capacity, no usage rate
    real_time = titles(dashboard.body(config_of(tmp_path, **CONFIGS["real-time"]), REGION, []))
    assert real_time == ["text", *full[3:4], *full[6:]]  # no async queue


def widget(body: dict[str, Any], title: str) -> dict[str, Any]:
    return next(w for w in body["widgets"] if w["properties"].get("title", "").startswith(title))


def by_id(widget: dict[str, Any]) -> dict[str, list[Any]]:
    return {options(row)["id"]: row for row in rows_of(widget)}


@pytest.mark.parametrize(
    "changes", [{}, CONFIGS["hits counted"], CONFIGS["gateway counts"]], ids=["misses", "hits", "gw"]
)
def test_the_usage_rate_is_the_policys_own(tmp_path: Path, changes: dict[str, Any]) -> None:
    config = config_of(tmp_path, **{"autoscaling.usage_rate.seconds_per_image": 7.5, **changes})
    policy = {query["Id"]: query for query in usage_rate_metrics(config)}
    shown = by_id(widget(dashboard.body(config, REGION, []), "Usage rate"))
    usage = "m2 / (m1 * 60 / 7.5 * 12)"
    read = ["m1", "m2"]
    if config.surge_enabled:  # the gateway counts: the surge policy is on, and target tracking hands over to it
        usage = f"IF({surge.handover(config).condition('m1 * 60 / 7.5 * 12')}, 0.75, {usage})"
        read.append("m3")  # the backlog the handover reads
    assert shown["e1"][0]["expression"] == policy["e1"]["Expression"] == f"IF(m1 != 0, {usage})"
    assert sorted(query_id for query_id in shown if query_id != "e1") == sorted(read)
    for query_id in read:
        stat = policy[query_id]["MetricStat"]
        dimensions = [part for d in stat["Metric"]["Dimensions"] for part in (d["Name"], d["Value"])]
        expected = [stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], *dimensions]
        assert shown[query_id][:-1] == expected and options(shown[query_id])["stat"] == stat["Stat"]
    capacity = by_id(widget(dashboard.body(config, REGION, []), "Demand and capacity"))["capacity"][0]["expression"]
    assert f"({capacity})" in policy["e1"]["Expression"]  # the same capacity the policy divides by


def test_demand_shows_arrivals_and_what_the_policy_reads(tmp_path: Path) -> None:
    misses = by_id(widget(dashboard.body(config_of(tmp_path), REGION, []), "Demand and capacity"))
    assert (misses["arrivals"][1], misses["m2"][1]) == (metrics.REQUESTS, metrics.CACHE_MISSES)
    assert options(misses["arrivals"])["label"] == "requests taken by the instances (NumberOfInferenceRequests)"
    assert options(misses["m1"])["visible"] is False
    gateway = by_id(widget(dashboard.body(config_of(tmp_path, **CONFIGS["gateway counts"]), REGION, []), "Demand"))
    assert options(gateway["arrivals"])["label"] == "arrivals (NumberOfInferenceRequests)"  # counted as they come
    changes = {**CONFIGS["gateway counts"], **CONFIGS["hits counted"]}
    hits = by_id(widget(dashboard.body(config_of(tmp_path, **changes), REGION, []), "Demand"))
    assert set(hits) == {"m1", "m2", "capacity"}  # every arrival is the demand the policy reads: one line
    assert options(hits["m2"])["label"] == "arrivals (NumberOfInferenceRequests)"


def test_the_containers_metrics_follow_its_environment(tmp_path: Path) -> None:
    own = {
        "SDXL_METRICS_NAMESPACE": "Team/Sdxl",
        "SDXL_METRICS_ENDPOINT_NAME": "blue",
        "SDXL_METRICS_VARIANT_NAME": "v",
    }
    config = config_of(tmp_path, environment=own)
    body = dashboard.body(config, REGION, [])
    check_body(body, config)
    for title in ("Time to result", "Images generated", "Cache hit ratio", "Errors by"):
        rows = [row for row in rows_of(widget(body, title)) if isinstance(row[0], str)]
        assert {tuple(row[:6]) for row in rows} == {
            ("Team/Sdxl", row[1], "EndpointName", "blue", "VariantName", "v") for row in rows
        }
    search = by_id(widget(body, "Errors by"))["byclass"][0]["expression"]
    assert search == (
        """SEARCH('{"Team/Sdxl",EndpointName,ErrorClass,VariantName} MetricName="Errors" """
        """EndpointName="blue" VariantName="v"', 'Sum', 60)"""
    )


def test_latency_percentiles_and_the_guarded_hit_ratio(tmp_path: Path) -> None:
    body = dashboard.body(config_of(tmp_path), REGION, [])
    latency = by_id(widget(body, "Time to result"))
    assert {key: (row[1], options(row)["stat"]) for key, row in latency.items()} == {
        "p50": (metrics.REQUEST_LATENCY, "p50"),
        "p95": (metrics.REQUEST_LATENCY, "p95"),
    }
    ratio = by_id(widget(body, "Cache hit ratio"))
    assert (ratio["hits"][1], ratio["requests"][1]) == (metrics.CACHE_HITS, metrics.REQUESTS)
    expression = compile_expression(ratio["ratio"][0]["expression"], {"hits", "requests"})
    assert expression.evaluate({"hits": 1, "requests": 4}) == 0.25
    assert expression.evaluate({"hits": None, "requests": 4}) == 0  # no hit that minute
    assert expression.evaluate({"hits": 0, "requests": 0}) is None  # no request: no ratio, not 0/0
    assert expression.evaluate({"hits": None, "requests": None}) is None


def test_capacity_and_the_instances_the_demand_needs(tmp_path: Path) -> None:
    config = config_of(tmp_path, **{"autoscaling.max_capacity": 6, "autoscaling.min_capacity": 1})
    body = dashboard.body(config, REGION, [])
    capacity = by_id(widget(body, "Demand and capacity"))["capacity"][0]["expression"]
    assert compile_expression(capacity, {"m1"}).evaluate({"m1": 2}) == 2 * 60 / 10 * 12
    instances = widget(body, "Instances")
    needed = by_id(instances)["needed"][0]["expression"]
    assert compile_expression(needed, {"m2"}).evaluate({"m2": 108}) == pytest.approx(108 / 72 / 0.75)
    lines = instances["properties"]["annotations"]["horizontal"]
    assert [(line["label"], line["value"]) for line in lines] == [("max_capacity 6", 6), ("min_capacity 1", 1)]
    assert widget(body, "Usage rate")["properties"]["annotations"]["horizontal"] == [
        {"label": "target 0.75", "value": 0.75}
    ]


def test_the_surge_widget_shows_its_demand_gate_and_threshold(tmp_path: Path) -> None:
    assert "Surge" not in " ".join(titles(dashboard.body(config_of(tmp_path), REGION, [])))  # no surge policy
    changes = {**CONFIGS["gateway counts"], "autoscaling.max_capacity": 100, "autoscaling.surge.period_s": 20}
    config = config_of(tmp_path, **changes)
    shown = widget(dashboard.body(config, REGION, []), "Surge")
    assert shown["properties"]["period"] == 10  # a dashboard has no 20 s period: shown per 10 s
    row, serving, gate = rows_of(shown)
    m2 = usage_rate_metrics(config)[1]["MetricStat"]["Metric"]
    assert row[:2] == [m2["Namespace"], m2["MetricName"]] and options(row)["period"] == 10
    alarm = {q["Id"]: q for q in surge.alarm_metrics(config)}
    heartbeat = alarm[surge.SERVING_ID]["MetricStat"]
    assert serving[:2] == [heartbeat["Metric"]["Namespace"], heartbeat["Metric"]["MetricName"]]
    assert options(serving) == {"id": surge.SERVING_ID, "stat": heartbeat["Stat"], "period": 10, "visible": False}
    assert gate[0]["expression"] in alarm["surge"]["Expression"]  # the alarm's own gate
    per_instance = compile_expression(gate[0]["expression"], {surge.SERVING_ID}).evaluate({surge.SERVING_ID: 10.0})
    assert per_instance == pytest.approx(12 / 10 * 10)  # one instance for 10 s at the gate of 1: 12 images
    lines = shown["properties"]["annotations"]["horizontal"]
    bands = surge.bands(config)
    assert lines[0]["value"] == pytest.approx(bands[0].lower / 2, abs=1e-3)  # the threshold per 20 s, per 10 s
    assert lines[-1] == {"label": "max_capacity 100", "value": pytest.approx(bands[-1].lower / 2, abs=1e-3)}


def test_name_and_console_url(tmp_path: Path) -> None:
    config = config_of(tmp_path)
    assert dashboard.put_request(config, REGION, [])["DashboardName"] == NAME
    assert dashboard.console_url(config, REGION) == URL
    assert dashboard.put_request(config, "eu-west-1", [])["DashboardName"] == "sdxl-inf2-prod-eu-west-1"


def test_the_target_tracking_policys_own_alarms_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto creates no managed alarms for SageMaker target tracking; AWS's answer, stubbed."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    config, clients = config_of(tmp_path), Clients(REGION)
    managed = "TargetTracking-endpoint/sdxl-inf2-prod/variant/AllTraffic-AlarmHigh-1"  # AWS's names for them
    high = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{managed}"

    def policy(name: str, alarm: str) -> dict[str, Any]:
        return {
            "PolicyARN": f"arn:{name}",
            "PolicyName": name,
            "ServiceNamespace": "sagemaker",
            "PolicyType": "TargetTrackingScaling",
            "ResourceId": "endpoint/sdxl-inf2-prod/variant/AllTraffic",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "CreationTime": "2026-01-01T00:00:00Z",
            "Alarms": [{"AlarmName": alarm.rsplit(":", 1)[1], "AlarmARN": alarm}],
        }

    alarm = {"AlarmName": "sdxl-inf2-prod-has-backlog-without-capacity", "AlarmArn": STEP_ALARM}
    with Stubber(clients.cloudwatch) as cloudwatch, Stubber(clients.autoscaling) as aas:
        cloudwatch.add_response("describe_alarms", {"MetricAlarms": [alarm]}, {"AlarmNames": [alarm["AlarmName"]]})
        others = policy("someone-elses", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:theirs")
        aas.add_response(
            "describe_scaling_policies", {"ScalingPolicies": [policy("sdxl-inf2-prod-usage-rate", high), others]}
        )
        assert dashboard.alarm_arns(clients, config) == [STEP_ALARM, high]


def deployed_body(aws: Aws) -> dict[str, Any]:
    return json.loads(aws.client("cloudwatch").get_dashboard(DashboardName=NAME)["DashboardBody"])


def dashboards(aws: Aws) -> list[str]:
    return [entry["DashboardName"] for entry in aws.client("cloudwatch").list_dashboards()["DashboardEntries"]]


def test_deploy_puts_the_dashboard_and_prints_its_url(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    path = write_config(tmp_path)
    run = cli(capsys, "deploy", str(path))
    assert run.code == 0, run.err
    assert f"dashboard {NAME}: {URL}" in run.err.splitlines()
    body, config = deployed_body(aws), load_config(path)
    alarm = aws.client("cloudwatch").describe_alarms()["MetricAlarms"][0]["AlarmArn"]
    assert alarm == STEP_ALARM and body == dashboard.body(config, REGION, [alarm])  # the alarm that exists
    check_body(body, config)
    again = cli(capsys, "deploy", str(path))
    assert again.code == 0 and dashboards(aws) == [NAME] and deployed_body(aws) == body


def test_no_wait_puts_it_and_autoscale_adds_the_alarms(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    path = write_config(tmp_path)
    assert cli(capsys, "deploy", str(path), "--no-wait").code == 0
    assert "Scaling alarms" not in titles(deployed_body(aws))  # no scaling yet, so no alarm
    run = cli(capsys, "autoscale", str(path))
    assert run.code == 0 and f"dashboard {NAME}: {URL}" in run.err
    assert widget(deployed_body(aws), "Scaling alarms")["properties"]["alarms"] == [STEP_ALARM]


def test_dashboard_false_deletes_it_and_teardown_removes_it(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "off").mkdir()
    path, off = write_config(tmp_path), write_config(tmp_path / "off", dashboard=False)
    assert cli(capsys, "deploy", str(path)).code == 0
    run = cli(capsys, "deploy", str(off))
    assert run.code == 0 and dashboards(aws) == [] and f"dashboard {NAME}: deleted" in run.err
    assert cli(capsys, "deploy", str(path)).code == 0 and dashboards(aws) == [NAME]
    run = cli(capsys, "teardown", str(off))  # whatever the config says now
    assert run.code == 0 and dashboards(aws) == [] and f"dashboard {NAME}: deleted" in run.err
    again = cli(capsys, "teardown", str(path))
    assert again.code == 0 and "dashboard" not in again.err  # nothing left: absent is fine


def test_status_prints_the_url(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    path = write_config(tmp_path, dashboard=False)
    assert cli(capsys, "deploy", str(path)).code == 0
    assert f"dashboard {NAME}: none (dashboard: false)" in cli(capsys, "status", str(path)).out.splitlines()
    path = write_config(tmp_path)
    assert cli(capsys, "deploy", str(path)).code == 0
    assert f"dashboard {NAME}: {URL}" in cli(capsys, "status", str(path)).out.splitlines()


def test_plan_lists_the_dashboard(tmp_path: Path, capsys: Capsys) -> None:
    config = config_of(tmp_path)
    [call] = [call for call in deploy_calls(config, REGION) if call.operation == "put_dashboard"]
    assert (call.service, call.params["DashboardName"]) == ("cloudwatch", NAME)
    assert json.loads(call.params["DashboardBody"]) == dashboard.body(config, REGION, [STEP_ALARM])
    assert not [
        c
        for c in deploy_calls(config_of(tmp_path, dashboard=False), REGION)
        if c.service == "cloudwatch" and "dashboard" in c.operation
    ]
    assert "cloudwatch put_dashboard" in cli(capsys, "plan", str(write_config(tmp_path))).out
