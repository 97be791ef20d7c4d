"""A real Prometheus, scraping a real 2-worker service with its training reference
and evaluating the generated rules (test-sized windows), stays quiet on training-like
traffic and fires the broken field's alert within a minute of a pipeline fault."""

import json
import random
import threading
import time
from pathlib import Path

import pytest

from harness.commands import run
from harness.examples import write_block
from harness.models import trained_service
from harness.prometheus import Prometheus
from harness.server import source_env
from harness.template import package
from harness.tools import tool
from harness.waiting import wait_until

LIBRARY = "scikit-learn"
WINDOW = 15  # seconds: live shares are counted over this long
TEST_SIZED = ["--window", f"{WINDOW}s", "--drift-for", "0s"]
TEST_SIZED += ["--ops-window", f"{WINDOW}s", "--ops-for", "0s"]
# No bounds on the features: a field scaled x100 is served (and counted), not a 422;
# and a categorical field (which garden measured the flower; predict() ignores it).
FIELDS = """
features: list[float] = Field(min_length=4, max_length=4)
garden: str = "kew"
"""
# The iris training rows, recorded as the reference (what `reference.record` gets
# at the end of training), printed for the test's traffic.
RECORD = """
import json
from sklearn.datasets import load_iris
from {package}.tools import reference
gardens = ["kew", "wisley", "edinburgh"]
rows = [{{"features": [float(v) for v in row], "garden": gardens[i % 3]}}
        for i, row in enumerate(load_iris().data)]
reference.record(rows)
print(json.dumps(rows))
"""
BROKEN = 2  # features.2, petal length, arrives x100 after the fault
NEW_GARDEN = "kew gardens"  # and a garden never seen in training, in 1 row of 10


class Traffic(threading.Thread):
    """Batches of 10 training rows, one request after another, until stopped; once
    `broken`, features.<BROKEN> of each is multiplied by 100 and one row of each
    batch comes from a garden never seen in training (the faults)."""

    def __init__(self, server, rows: list[dict]) -> None:
        super().__init__(daemon=True)
        self.server, self.rows, self.broken = server, rows, False
        self.running, self.statuses = True, set()
        self.random = random.Random(0)

    def run(self) -> None:
        while self.running:
            batch = [dict(x) for x in self.random.sample(self.rows, 10)]
            if self.broken:
                for item in batch:
                    item["features"] = list(item["features"])
                    item["features"][BROKEN] *= 100
                batch[0]["garden"] = NEW_GARDEN
            self.statuses.add(
                self.server.request("/v1/predict", {"instances": batch})[0]
            )
            time.sleep(0.02)

    def stop(self) -> None:
        self.running = False
        self.join(timeout=30)


def fired_for(prometheus: Prometheus, field: str) -> set[str]:
    """The names of the alerts firing for `field` now."""
    return {a["alertname"] for a in prometheus.alerts() if a.get("field") == field}


@pytest.mark.xdist_group(LIBRARY)
@pytest.mark.slow
def test_prometheus_fires_the_broken_fields_alert_and_nothing_before(
    cookies, environments, server_factory, tmp_path: Path
) -> None:
    """While traffic is drawn from the training data no alert fires (every field's
    drift below the warning threshold); once features.2 arrives x100 and a new
    garden appears, Prometheus fires FieldDriftCritical and FieldOutOfRange for
    features.2 and FieldUnseenValues for garden within 60 s, for no other input."""
    binary = tool("prometheus")
    service, python = trained_service(cookies, environments, LIBRARY)
    write_block(service, "your model's features", FIELDS)
    env, ns = source_env(service), package(service)
    rows = json.loads(run([python, "-c", RECORD.format(package=ns)], service, **env))
    rules = tmp_path / "rules"
    tool_module = f"{ns}.tools.monitoring"
    run([python, "-m", tool_module, "--out", rules, *TEST_SIZED], service, **env)
    server = server_factory(python, service)
    server.wait_ready()
    traffic = Traffic(server, rows)
    traffic.start()
    prometheus = Prometheus(
        binary, tmp_path / "prometheus", f"127.0.0.1:{server.port}", rules / "rules.yml"
    )
    broken, psi = f"features.{BROKEN}", f"{ns}:field:psi"
    try:
        with prometheus:
            scraped = f'{psi}{{field="{broken}"}}'
            wait_until(lambda: prometheus.query(scraped), 60, prometheus.output, 0.5)
            quiet_until = time.monotonic() + WINDOW  # a whole window of healthy traffic
            while time.monotonic() < quiet_until:
                raised = prometheus.alerts() + prometheus.alerts("pending")
                assert not raised, (raised, prometheus.query(psi))
                time.sleep(1)
            drift = prometheus.query(psi)
            assert drift and all(float(x["value"][1]) < 0.1 for x in drift), drift

            traffic.broken = True  # the faults
            expected = {"FieldDriftCritical", "FieldDrift", "FieldOutOfRange"}

            def both_fired() -> bool:
                return expected <= fired_for(prometheus, broken) and (
                    "FieldUnseenValues" in fired_for(prometheus, "garden")
                )

            wait_until(both_fired, 60, lambda: str(prometheus.alerts()), 1)
            named = {a.get("field") for a in prometheus.alerts()} - {None}
            inputs = {f for f in named if not f.startswith("output.")}
            assert inputs == {broken, "garden"}, prometheus.alerts()
    finally:
        traffic.stop()
    assert traffic.statuses == {200}
