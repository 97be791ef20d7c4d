"""The Grafana dashboard of this service, written by `make monitoring`.

Import deploy/monitoring/dashboard.json in Grafana (Dashboards > New > Import) and
pick the Prometheus data source; the drift panels read the recording rules of
deploy/monitoring/rules.yml, so load those into that Prometheus too.
"""

from typing import Any

SCHEMA_VERSION = 41  # Grafana 12
PREDICT_ROUTES = "/v1/predict|/v2/models/.*/infer"
RATE = "[$__rate_interval]"
SOURCE = {"type": "prometheus", "uid": "${datasource}"}

# Rows of panels: (title, unit, [(PromQL, legend)...]); NS is the metric namespace.
ROWS: tuple[tuple[str, tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]], ...]
ROWS = (
    (
        "Traffic and errors",
        (
            (
                "Requests by route",
                "reqps",
                (
                    (
                        f"sum by (route) (rate(NS_http_requests_total{RATE}))",
                        "{{route}}",
                    ),
                ),
            ),
            (
                "Answers by status code",
                "reqps",
                (
                    (
                        f"sum by (status) (rate(NS_http_requests_total{RATE}))",
                        "{{status}}",
                    ),
                ),
            ),
            (
                "Predict latency",
                "s",
                tuple(
                    (
                        f"histogram_quantile({q}, sum by (le) (rate("
                        f'NS_http_request_duration_seconds_bucket{{route=~"{PREDICT_ROUTES}"}}'
                        f"{RATE})))",
                        f"p{round(q * 100)}",
                    )
                    for q in (0.5, 0.99)
                ),
            ),
            (
                "Queue wait and predict time",
                "s",
                tuple(
                    (
                        f"histogram_quantile({q}, sum by (le) "
                        f"(rate(NS_{name}_bucket{RATE})))",
                        f"{name} p{round(q * 100)}",
                    )
                    for name in ("queue_wait_seconds", "predict_duration_seconds")
                    for q in (0.5, 0.99)
                ),
            ),
            (
                "Batch size",
                "short",
                (
                    (
                        f"sum(rate(NS_batch_size_sum{RATE}))"
                        f" / sum(rate(NS_batch_size_count{RATE}))",
                        "mean",
                    ),
                    (
                        "histogram_quantile(0.99, sum by (le) "
                        f"(rate(NS_batch_size_bucket{RATE})))",
                        "p99",
                    ),
                ),
            ),
            (
                "Instances by outcome, and readiness",
                "short",
                (
                    (
                        f"sum by (outcome) (rate(NS_predictions_total{RATE}))",
                        "{{outcome}} /s",
                    ),
                    ("min(NS_model_ready)", "ready (1: all workers)"),
                ),
            ),
        ),
    ),
    (
        "Answers",
        (
            (
                "Answers by label",
                "reqps",
                (
                    (
                        f"sum by (label) (rate(NS_predicted_labels_total{RATE}))",
                        "{{label}}",
                    ),
                ),
            ),
            (
                "Score",
                "short",
                tuple(
                    (
                        f"histogram_quantile({q}, sum by (le) "
                        f"(rate(NS_predicted_score_bucket{RATE})))",
                        f"p{round(q * 100)}",
                    )
                    for q in (0.1, 0.5, 0.9)
                ),
            ),
            (
                "Rule firings (rules.yaml)",
                "reqps",
                (
                    (
                        f"sum by (rule) (rate(NS_rule_firings_total{RATE}))",
                        "{{rule}}",
                    ),
                ),
            ),
            (
                "Invalid inputs (422) by field",
                "reqps",
                (
                    (
                        f"sum by (field) (rate(NS_invalid_inputs_total{RATE}))",
                        "{{field}}",
                    ),
                ),
            ),
        ),
    ),
    (
        "Drift against the training reference",
        (
            (
                "Drift per field (PSI; 0.1 shifts, 0.25 large)",
                "short",
                (('NS:field:psi{field=~"$field"}', "{{field}}"),),
            ),
            (
                "Alerts firing",
                "short",
                (
                    (
                        'count by (alertname, field) (ALERTS{service="SERVICE",'
                        ' alertstate="firing"})',
                        "{{alertname}} {{field}}",
                    ),
                ),
            ),
        ),
    ),
    (
        "$field: live shares against the reference",
        (
            (
                "$field",
                "percentunit",
                (
                    ('NS:field_values:share{field="$field"}', "{{bin}} live"),
                    ('NS:field_reference:share{field="$field"}', "{{bin}} reference"),
                ),
            ),
        ),
    ),
)


def panel(title: str, unit: str, queries: Any, place: dict[str, int]) -> dict:
    return {
        "type": "timeseries",
        "title": title,
        "datasource": SOURCE,
        "gridPos": place,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(65 + i), "datasource": SOURCE, "expr": e, "legendFormat": x}
            for i, (e, x) in enumerate(queries)
        ],
    }


def variables(ns: str) -> list[dict[str, Any]]:
    source = {"name": "datasource", "label": "Data source", "type": "datasource"}
    field_query = f"label_values({ns}_field_reference_share, field)"
    field = {
        "name": "field",
        "label": "Field",
        "type": "query",
        "datasource": SOURCE,
        "query": {"query": field_query, "refId": "fields"},
        "definition": field_query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "current": {"text": "All", "value": "$__all"},
    }
    return [{**source, "query": "prometheus", "current": {}}, field]


def dashboard(ns: str, service: str) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model, for metric namespace `ns`."""
    panels: list[dict[str, Any]] = []
    y = 0
    for index, (title, row) in enumerate(ROWS):
        repeat = {"repeat": "field"} if "$field" in title else {}
        place = {"x": 0, "y": y, "w": 24, "h": 1}
        panels.append(
            {"type": "row", "title": title, "gridPos": place, "collapsed": False}
            | {"id": 100 + index, "panels": []}
            | repeat
        )
        y += 1
        for i, (name, unit, queries) in enumerate(row):
            width = 24 if repeat else 12
            place = {"x": (i % 2) * 12, "y": y + (i // 2) * 8, "w": width, "h": 8}
            panels.append(panel(name, unit, queries, place))
        y += ((len(row) + 1) // 2) * 8
    for number, item in enumerate(panels, start=1):
        item.setdefault("id", number)
        for target in item.get("targets", []):
            expr = target["expr"].replace("NS_", f"{ns}_").replace("NS:", f"{ns}:")
            target["expr"] = expr.replace("SERVICE", service)
    return {
        "title": service,
        "tags": [service, "modelservice"],
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables(ns)},
        "annotations": {"list": []},
        "panels": panels,
    }
