"""GET /metrics: Prometheus text, summed over the worker processes."""

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.__package_name }}.config import METRICS_NAMESPACE


def healthz_count(client: httpx.Client) -> float:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    requests = families[f"{METRICS_NAMESPACE}_http_requests"]
    return sum(
        s.value
        for s in requests.samples
        if s.name.endswith("_total") and s.labels["route"] == "/healthz"
    )


def test_metrics_count_requests_of_every_worker(client: httpx.Client) -> None:
    """Each request is counted once, whichever worker answered it."""
    before = healthz_count(client)
    for _ in range(20):
        client.get("/healthz")
    deadline = time.monotonic() + 5  # workers write counts just after responding
    while healthz_count(client) - before < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert healthz_count(client) - before == 20


def test_metrics_describe_the_model(client: httpx.Client) -> None:
    """The model info and readiness gauges are exported."""
    text = client.get("/metrics").text
    names = {f.name for f in text_string_to_metric_families(text)}
    for name in ("model_info", "model_ready", "http_request_duration_seconds"):
        assert f"{METRICS_NAMESPACE}_{name}" in names
