"""The alert rules and dashboard of deploy/monitoring: promtool accepts them, each
alert fires on its fault and stays quiet on healthy traffic (promtool's unit tests),
and the PrometheusRule fits the Prometheus Operator's CRD schema."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.commands import run
from harness.render import bake
from harness.template import LONG_NAME, package
from harness.tools import tool

SCHEMA = json.loads(
    (Path(__file__).parent / "prometheus-operator/prometheusrule-v1.schema.json")
    .read_text(encoding="utf-8")
)  # fmt: skip


def series(ns: str, name: str, labels: dict[str, str], values: str) -> dict:
    inside = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{ns}_{name}{{{inside}}}", "values": values}


def field(ns: str, name: str, reference: dict[str, float], live: dict[str, float]):
    """A watched field: its reference shares and its counts per minute, by bin."""
    for bin_, share in reference.items():
        labels = {"field": name, "bin": bin_}
        yield series(ns, "field_reference_share", labels, f"{share}x150")
    for bin_, per_minute in live.items():
        labels = {"field": name, "bin": bin_}
        yield series(ns, "field_values_total", labels, f"0+{per_minute}x150")


NUMBER = {"q0": 0.5, "q1": 0.5, "_below": 0, "_above": 0, "_null": 0}
DRIFT_ALERTS = (
    "FieldDriftCritical",
    "FieldDrift",
    "OutputDrift",
    "FieldUnseenValues",
    "FieldNulls",
    "FieldOutOfRange",
    "InvalidInputs",
)
OPERATIONAL_ALERTS = ("ErrorRate", "LatencyHigh", "NotReady", "Overloaded")


def drift_inputs(ns: str, faulty: bool) -> list[dict]:
    """Fields whose live counts match their reference, and (faulty) one per fault."""
    country = {"GB": 0.6, "FR": 0.4, "_other": 0, "_unseen": 0, "_null": 0}
    nullable = {"q0": 0.45, "q1": 0.45, "_null": 0.1}
    label = {"a": 0.5, "b": 0.5, "_other": 0, "_unseen": 0, "_null": 0}
    inputs = [
        *field(ns, "amount", NUMBER, {"q0": 10, "q1": 10}),
        *field(ns, "nullable", nullable, {"q0": 9, "q1": 9, "_null": 2}),
        *field(ns, "country", country, {"GB": 6, "FR": 4}),
        *field(ns, "output.label", label, {"a": 5, "b": 5}),
        series(ns, "invalid_inputs_total", {"field": "amount"}, "0+0.1x150"),
        series(ns, "predictions_total", {"outcome": "ok"}, "0+10x150"),
    ]
    if faulty:
        inputs += [
            *field(ns, "shifted", NUMBER, {"q0": 7, "q1": 3}),  # PSI 0.17
            *field(ns, "scaled", NUMBER, {"_above": 20}),  # all out of range
            *field(ns, "city", country, {"GB": 6, "FR": 4, "_unseen": 1}),
            *field(ns, "empty", nullable, {"q0": 3, "q1": 3, "_null": 4}),
            *field(ns, "output.score", label, {"a": 9, "b": 1}),
            series(ns, "invalid_inputs_total", {"field": "age"}, "0+1x150"),
        ]
    return inputs


def ops_inputs(ns: str, faulty: bool) -> list[dict]:
    """Requests, latency, readiness and refusals: healthy, or each one failing."""
    ok = {"route": "/v1/predict", "method": "POST"}
    bucket = f"{ns}_http_request_duration_seconds_bucket"
    slow = {"0.1": 10, "1": 100, "+Inf": 100} if faulty else {"0.1": 100, "+Inf": 100}
    inputs = [
        series(ns, "http_requests_total", {**ok, "status": "200"}, "0+100x60"),
        series(ns, "http_requests_total", {**ok, "status": "503"}, "0+50x60"),
        series(ns, "predictions_total", {"outcome": "ok"}, "0+100x60"),
        series(ns, "model_ready", {}, "0x60" if faulty else "1x60"),
        *(
            {
                "series": f'{bucket}{{route="/v1/predict",le="{le}"}}',
                "values": f"0+{n}x60",
            }
            for le, n in slow.items()
        ),
    ]
    if faulty:
        inputs += [
            series(ns, "http_requests_total", {**ok, "status": "500"}, "0+10x60"),
            series(ns, "predictions_total", {"outcome": "overloaded"}, "0+5x60"),
        ]
    return inputs


def expected(service: str, severity: str, **labels: str) -> dict:
    return {"exp_labels": {"severity": severity, "service": service, **labels}}


def unit_tests(ns: str, service: str) -> list[dict]:
    """promtool test cases: every alert quiet on healthy inputs, then each firing
    for its own fault only (a field named after the fault), at default settings."""
    at = {"eval_time": "120m"}

    def quiet(names):
        return [{**at, "alertname": name, "exp_alerts": []} for name in names]

    def firing(name: str, severity: str, fields: list[str]) -> dict:
        alerts = [expected(service, severity, field=f) for f in fields]
        return {**at, "alertname": name, "exp_alerts": alerts}

    drift_firing = [
        firing("FieldDriftCritical", "critical", ["city", "empty", "scaled"]),
        firing("FieldDrift", "warning", ["city", "scaled", "shifted", "empty"]),
        firing("OutputDrift", "warning", ["output.score"]),
        firing("FieldUnseenValues", "warning", ["city"]),
        firing("FieldNulls", "warning", ["empty"]),
        firing("FieldOutOfRange", "warning", ["scaled"]),
        firing("InvalidInputs", "warning", ["age"]),
        # 10 minutes into the fault the alert is pending, not firing (for: 15m)
        {"eval_time": "10m", "alertname": "FieldDriftCritical", "exp_alerts": []},
    ]
    ops_at = {"eval_time": "30m"}
    ops_firing = [
        {**ops_at, "alertname": name, "exp_alerts": [expected(service, level)]}
        for name, level in (
            ("ErrorRate", "critical"),
            ("LatencyHigh", "warning"),
            ("NotReady", "critical"),
            ("Overloaded", "warning"),
        )
    ]
    absent = [expected(service, "critical")]  # nothing scraped at all
    no_metrics = {**ops_at, "alertname": "NotReady", "exp_alerts": absent}
    return [
        {"interval": "1m", "input_series": drift_inputs(ns, False),
         "alert_rule_test": quiet(DRIFT_ALERTS)},
        {"interval": "1m", "input_series": drift_inputs(ns, True),
         "alert_rule_test": drift_firing},
        {"interval": "1m", "input_series": ops_inputs(ns, False),
         "alert_rule_test": [{**t, **ops_at} for t in quiet(OPERATIONAL_ALERTS)]},
        {"interval": "1m", "input_series": ops_inputs(ns, True),
         "alert_rule_test": ops_firing},
        {"interval": "1m", "input_series": [], "alert_rule_test": [no_metrics]},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def monitoring(cookies_session) -> Path:
    return bake(cookies_session) / "deploy" / "monitoring"


def test_rules_pass_promtool_check(monitoring: Path) -> None:
    output = run([tool("promtool"), "check", "rules", "rules.yml"], cwd=monitoring)
    assert "SUCCESS: 15 rules found" in output, output


def test_each_alert_fires_on_its_fault_and_stays_quiet_otherwise(
    monitoring: Path, tmp_path: Path
) -> None:
    """promtool's unit tests, at the default thresholds and windows: healthy fields
    and traffic raise nothing; each fault raises its alert, for its field only.
    (Annotations are left out: promtool check rules parses their templates.)"""
    rules = yaml.safe_load((monitoring / "rules.yml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    service = monitoring.parents[1]
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": unit_tests(package(service), service.name),
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests), encoding="utf-8")
    output = run([tool("promtool"), "test", "rules", "tests.yml"], cwd=tmp_path)
    assert "SUCCESS" in output, output


def test_every_dashboard_query_parses(monitoring: Path, tmp_path: Path) -> None:
    """Every panel's PromQL (Grafana's variables given values) passes promtool
    check rules; the dashboard asks for its Prometheus data source on import."""
    board = json.loads((monitoring / "dashboard.json").read_text(encoding="utf-8"))
    assert board["schemaVersion"] >= 39
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    targets = [t for p in board["panels"] for t in p.get("targets", [])]
    assert len(targets) >= 15
    for target in targets:
        assert target["datasource"]["uid"] == "${datasource}"
    queries = [
        t["expr"].replace("$__rate_interval", "5m").replace("$field", "amount")
        for t in targets
    ]
    records = [
        {"record": f"dashboard:query{i}", "expr": q} for i, q in enumerate(queries)
    ]
    rules = {"groups": [{"name": "dashboard", "rules": records}]}
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    run([tool("promtool"), "check", "rules", "queries.yml"], cwd=tmp_path)


@pytest.mark.parametrize("name", ["iris-classifier", LONG_NAME])
def test_kustomization_builds_a_valid_prometheusrule_and_dashboard(
    cookies, tmp_path: Path, name: str
) -> None:
    """kubectl kustomize deploy/monitoring gives a PrometheusRule that fits the
    operator's CRD schema, with rules.yml's groups, and the dashboard's ConfigMap,
    which kubernetes-validate --strict accepts."""
    monitoring = bake(cookies, service_name=name) / "deploy" / "monitoring"
    built = run([tool("kubectl"), "kustomize", "."], cwd=monitoring)
    objects = {o["kind"]: o for o in yaml.safe_load_all(built)}
    assert set(objects) == {"PrometheusRule", "ConfigMap"}
    rule = objects["PrometheusRule"]
    jsonschema.validate(rule, SCHEMA)
    plain = yaml.safe_load((monitoring / "rules.yml").read_text(encoding="utf-8"))
    assert rule["spec"]["groups"] == plain["groups"]
    dashboard = objects["ConfigMap"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    text = (monitoring / "dashboard.json").read_text(encoding="utf-8")
    assert dashboard["data"]["dashboard.json"] == text
    (tmp_path / "configmap.yaml").write_text(
        yaml.safe_dump(dashboard), encoding="utf-8"
    )
    output = run([tool("kubernetes-validate"), "--strict", "configmap.yaml"], tmp_path)
    assert output.count("passed for resource") == 1, output


def test_schema_check_catches_a_misspelt_field(monitoring: Path) -> None:
    """The vendored schema is strict: an unknown rule field fails."""
    rule = yaml.safe_load((monitoring / "prometheusrule.yaml").read_text("utf-8"))
    rule["spec"]["groups"][0]["rules"][0]["expresion"] = "1"
    with pytest.raises(jsonschema.ValidationError, match="expresion"):
        jsonschema.validate(rule, SCHEMA)
