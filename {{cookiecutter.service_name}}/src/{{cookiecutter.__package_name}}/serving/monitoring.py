"""Model-aware metrics: predicted labels, scores, and invalid inputs by field."""

from typing import Any

from prometheus_client import Counter, Histogram

from ..config import METRICS_NAMESPACE as NS
from . import metrics

MAX_LABELS = 100  # distinct label values per worker; more are counted as "other"

PREDICTED_LABELS = Counter(
    "predicted_labels",
    "Predictions by the `label` field of Output.",
    ["label"],
    namespace=NS,
)
PREDICTED_SCORES = Histogram(
    "predicted_score",
    "The `score` of each prediction (or its top probability).",
    namespace=NS,
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
INVALID_INPUTS = Counter(
    "invalid_inputs",
    "Inputs rejected with 422, by the field at fault.",
    ["field"],
    namespace=NS,
)
_seen: set[str] = set()


def observe(outputs: list[Any]) -> None:
    """Count each output's label and observe its score, when Output has them."""
    for output in outputs:
        label = getattr(output, "label", None)
        if label is not None:
            name = str(label)
            if name not in _seen and len(_seen) < MAX_LABELS:
                _seen.add(name)
            metrics.count(PREDICTED_LABELS, name if name in _seen else "other")
        score = _score(output)
        if score is not None:
            metrics.observe(PREDICTED_SCORES, score)


def _score(output: Any) -> float | None:
    score = getattr(output, "score", None)
    if isinstance(score, int | float) and not isinstance(score, bool):
        return float(score)
    probabilities = getattr(output, "probabilities", None)
    if isinstance(probabilities, dict):
        probabilities = list(probabilities.values())
    if isinstance(probabilities, list) and probabilities:
        try:
            return float(max(probabilities))
        except (TypeError, ValueError):
            return None
    return None


def invalid(details: list[dict[str, Any]]) -> None:
    """Count a rejected request once per field at fault (without list indexes)."""
    fields = set()
    for detail in details:
        parts = [p for p in str(detail["field"]).split(".") if not p.isdigit()]
        fields.add(".".join(p for p in parts if p != "instances") or "instances")
    for field in fields:
        metrics.count(INVALID_INPUTS, field)
