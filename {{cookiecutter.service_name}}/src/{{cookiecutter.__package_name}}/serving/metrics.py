"""Prometheus metrics, summed over every worker process."""

import os
import struct
from bisect import bisect_left
from functools import cache
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from ..config import METRICS_NAMESPACE as NS
from ..config import ML_LIBRARY
from . import compat

FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered.",
    ["route", "method", "status"],
    namespace=NS,
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer.",
    ["route"],
    namespace=NS,
    buckets=FAST,
)
IN_FLIGHT = Gauge(
    "http_requests_in_flight",
    "Requests being answered.",
    namespace=NS,
    multiprocess_mode="livesum",
)
PREDICT_LATENCY = Histogram(
    "predict_duration_seconds",
    "Time in one Model.predict() call.",
    namespace=NS,
    buckets=FAST,
)
QUEUE_WAIT = Histogram(
    "queue_wait_seconds",
    "Time a request waited for its batch.",
    namespace=NS,
    buckets=FAST,
)
BATCH_SIZE = Histogram(
    "batch_size",
    "Instances in one Model.predict() call.",
    namespace=NS,
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
PREDICT_CALLS = Counter(
    "predict_calls",
    "Model.predict() calls, by path: inline on the event loop or batched in a thread.",
    ["path"],
    namespace=NS,
)
PREDICTIONS = Counter(
    "predictions", "Instances predicted, by outcome.", ["outcome"], namespace=NS
)
MODEL_INFO = Gauge(
    "model_info",
    "The model each worker serves (value 1), and the digest of its rules file.",
    ["version", "library", "digest", "rules"],
    namespace=NS,
    multiprocess_mode="max",
)
MODEL_READY = Gauge(
    "model_ready",
    "1 when every live worker has its model loaded and warmed up.",
    namespace=NS,
    multiprocess_mode="livemin",
)
RULE_FIRINGS = Counter(
    "rule_firings", "Rules (rules.yaml) that fired, by rule.", ["rule"], namespace=NS
)

SHADOW = Counter(
    "shadow_predictions",
    "Instances copied to SHADOW_URL, by outcome of the comparison.",
    ["outcome"],  # agree, disagree, error, timeout, dropped
    namespace=NS,
)
SHADOW_DIFFERENCE = Histogram(
    "shadow_difference",
    "Largest absolute difference between the candidate's and this service's numbers.",
    ["field"],
    namespace=NS,
    buckets=(0, 1e-6, 1e-4, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 10, 100),
)
SHADOW_LATENCY = Histogram(
    "shadow_candidate_duration_seconds",
    "Time the candidate at SHADOW_URL took to answer.",
    namespace=NS,
    buckets=FAST,
)


@cache
def drift() -> tuple[Counter, Gauge, Counter, Gauge]:
    """The drift metrics (serving/reference.py): made only with a reference."""
    return (
        Counter("field_values", "Instances by field and reference bin.",
                ["field", "bin"], namespace=NS),
        Gauge("field_reference_share", "The reference's share of each bin.",
              ["field", "bin"], namespace=NS, multiprocess_mode="max"),
        Counter("field_unseen_values", "Values never seen in training, by field.",
                ["field", "value"], namespace=NS),
        Gauge("reference_info", "The training reference (artifacts/reference.json).",
              ["digest", "artifact_digest", "stale"], namespace=NS,
              multiprocess_mode="max"),
    )  # fmt: skip


def model_info(version: str, digest: str, rules: str, value: int = 1) -> None:
    """This worker's model_info series: 1, or 0 for rules it no longer serves."""
    MODEL_INFO.labels(version, ML_LIBRARY, digest[:12], rules[:12]).set(value)


def render() -> tuple[bytes, str]:
    """The exposition text, summed over all workers sharing the metrics folder."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    try:
        return generate_latest(registry), CONTENT_TYPE_LATEST
    except (OSError, ValueError, struct.error):  # a dead worker's file just went
        return generate_latest(registry), CONTENT_TYPE_LATEST


def every_worker_ready(workers: int) -> bool:
    """Whether all `workers` workers are up with their model ready: as many live
    model_ready files (one each) and a minimum of 1 over them."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return True
    if len(list(Path(folder).glob(compat.LIVE_MIN_FILES))) < workers:
        return False  # a worker has not started yet (or is being replaced)
    try:
        families = list(multiprocess.MultiProcessCollector(None).collect())
    except (OSError, ValueError, struct.error):  # a file vanished or is being made
        return False  # (a restart under way): ask again at the next probe
    for family in families:
        if family.name == f"{NS}_model_ready":
            return all(sample.value >= 1 for sample in family.samples)
    return False


def worker_stopped(pid: int) -> None:
    """Drop a stopped worker's live gauges (in-flight, ready) from the sums."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.mark_process_dead(pid)


class Pending:
    """Counts and observations of the request path, written in bulk by flush().

    Writing a value in multiprocess mode takes a lock and writes a memory-mapped
    file: microseconds each, several times a request. The request path adds to
    these dicts instead, and flush() adds the totals to the shared files once per
    burst of requests.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[Counter, tuple[str, ...]], float] = {}
        self.observed: dict[tuple[Histogram, tuple[str, ...]], list[float]] = {}

    def count(self, counter: Counter, *labels: str, amount: float = 1) -> None:
        key = (counter, labels)
        self.counts[key] = self.counts.get(key, 0) + amount

    def observe(self, histogram: Histogram, value: float, *labels: str) -> None:
        bounds = compat.bucket_bounds(histogram)
        slot = self.observed.get((histogram, labels))
        if slot is None:
            slot = self.observed[histogram, labels] = [0.0] * (len(bounds) + 1)
        slot[0] += value  # the sum, then one count per bucket, as Histogram.observe
        slot[1 + bisect_left(bounds, value)] += 1

    def flush(self, in_flight: int) -> None:
        IN_FLIGHT.set(in_flight)
        for (counter, labels), amount in self.counts.items():
            (counter.labels(*labels) if labels else counter).inc(amount)
        for (histogram, labels), (total, *buckets) in self.observed.items():
            child = histogram.labels(*labels) if labels else histogram
            compat.add_observations(child, total, buckets)
        self.counts.clear()
        self.observed.clear()


PENDING = Pending()  # this worker's; one event loop per worker writes to it
count, observe, flush = PENDING.count, PENDING.observe, PENDING.flush
