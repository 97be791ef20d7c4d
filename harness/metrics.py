"""Read a live service's /metrics, and its workers' metrics files."""

import json
import struct
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families


def ready_workers(folder: Path) -> int:
    """Workers whose model_ready gauge is 1, read from their files in `folder`."""
    ready = 0
    for path in folder.glob("gauge_livemin_*.db"):
        try:
            values = MmapedDict.read_all_values_from_file(str(path))
        except (OSError, ValueError, struct.error):  # being made or removed
            continue
        for key, value, *_ in values:
            ready += json.loads(key)[1].endswith("_model_ready") and value == 1
    return ready


def samples(server) -> dict[str, list[tuple[dict, float]]]:
    """Every sample of /metrics (summed over the workers): name -> (labels, value)."""
    found: dict[str, list[tuple[dict, float]]] = {}
    for family in text_string_to_metric_families(
        server.request("/metrics")[2].decode()
    ):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def answers(server, route: str | None = None) -> dict[str, float]:
    """Answers by status (of one route, or of all), as /metrics sums them over the
    workers."""
    counts: dict[str, float] = {}
    for name, values in samples(server).items():
        if not name.endswith("_http_requests_total"):
            continue
        for labels, value in values:
            if route is None or labels["route"] == route:
                counts[labels["status"]] = counts.get(labels["status"], 0) + value
    return counts


def predict_count(server) -> float:
    """The 200 answers of /v1/predict, as /metrics sums them over the workers."""
    return answers(server, "/v1/predict").get("200", 0)


def in_flight(server) -> float:
    """Requests being answered, summed over the workers as each last wrote it, less
    the /metrics request asking."""
    values = [
        value
        for name, found in samples(server).items()
        if name.endswith("_http_requests_in_flight")
        for _, value in found
    ]
    return sum(values) - 1


def predict_calls(server) -> dict[str, float]:
    """Model.predict() calls by path (`inline` on the event loop, `batched` in the
    predict thread), as /metrics sums them over the workers."""
    return {
        labels["path"]: value
        for name, found in samples(server).items()
        if name.endswith("_predict_calls_total")
        for labels, value in found
    }
