"""Model-aware metrics: predicted labels and scores, invalid and unknown input fields.

Which Output fields feed predicted_labels and predicted_score: the ones Output names
in `label_field` / `score_field` (ClassVar[str]), else the first field found by name:
a label in LABEL_NAMES; a number in SCORE_NAMES, else the top value of a mapping or
list in RANKED_NAMES. describe() says which, once, in the start-up log.
"""

from typing import Any

from prometheus_client import Counter, Histogram

from ..config import METRICS_NAMESPACE as NS
from ..model import Input, Output
from . import metrics

MAX_NAMES = 100  # distinct label values (or field names) per worker; then "other"
LABEL_NAMES = ("label", "class_name", "category", "prediction")
SCORE_NAMES = ("score", "probability", "confidence")
RANKED_NAMES = ("probabilities", "scores")

PREDICTED_LABELS = Counter(
    "predicted_labels",
    "Predictions by their label (the Output field named in the start-up log).",
    ["label"],
    namespace=NS,
)
PREDICTED_SCORES = Histogram(
    "predicted_score",
    "The score of each prediction, or its top probability (see the start-up log).",
    namespace=NS,
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
INVALID_INPUTS = Counter(
    "invalid_inputs",
    "Inputs rejected with 422, by the field at fault.",
    ["field"],
    namespace=NS,
)
UNKNOWN_FIELDS = Counter(
    "unknown_fields",
    "Fields sent that Input does not have (ignored), by name.",
    ["field"],
    namespace=NS,
)


def _first(names: tuple[str, ...], override: str) -> str | None:
    chosen = getattr(Output, override, None)
    if chosen:
        return chosen if chosen in Output.model_fields else None
    return next((n for n in names if n in Output.model_fields), None)


LABEL = _first(LABEL_NAMES, "label_field")
SCORE = _first(SCORE_NAMES, "score_field")
RANKED = None if SCORE else _first(RANKED_NAMES, "score_field")
KNOWN = set(Input.model_fields) | {
    f.alias for f in Input.model_fields.values() if f.alias
}


class Names:
    """At most MAX_NAMES distinct values per worker; the rest count as "other"."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, value: object) -> str:
        name = str(value)
        if name not in self.seen and len(self.seen) < MAX_NAMES:
            self.seen.add(name)
        return name if name in self.seen else "other"


labels, unknown_names = Names(), Names()


def describe() -> str:
    """Which Output fields feed the label and score metrics (for the start-up log)."""
    label = f"Output.{LABEL}" if LABEL else "nothing (no label field in Output)"
    if SCORE:
        score = f"Output.{SCORE}"
    elif RANKED:
        score = f"the top value of Output.{RANKED}"
    else:
        score = "nothing (no score field in Output)"
    line = f"metrics: predicted_labels counts {label}, predicted_score observes {score}"
    if not (LABEL and (SCORE or RANKED)):
        line += "; name them in Output with label_field / score_field (ClassVar[str])"
    return line


def observe(outputs: list[Any]) -> None:
    """Count each output's label and observe its score, when Output has them."""
    for output in outputs:
        if LABEL is not None and (label := getattr(output, LABEL)) is not None:
            metrics.count(PREDICTED_LABELS, labels(label))
        score = _score(output)
        if score is not None:
            metrics.observe(PREDICTED_SCORES, score)


def _score(output: Any) -> float | None:
    if SCORE is not None:
        score = getattr(output, SCORE)
        ok = isinstance(score, int | float) and not isinstance(score, bool)
        return float(score) if ok else None
    if RANKED is None:
        return None
    ranked = getattr(output, RANKED)
    if isinstance(ranked, dict):
        ranked = list(ranked.values())
    if isinstance(ranked, list) and ranked:
        try:
            return float(max(ranked))
        except (TypeError, ValueError):
            return None
    return None


def unknown(instances: list[Any]) -> None:
    """Count the fields sent that Input does not know (pydantic ignores them)."""
    for instance in instances:
        if isinstance(instance, dict) and (extra := instance.keys() - KNOWN):
            for name in extra:
                metrics.count(UNKNOWN_FIELDS, unknown_names(name))


def invalid(details: list[dict[str, Any]]) -> None:
    """Count a rejected request once per field at fault (without list indexes)."""
    fields = set()
    for detail in details:
        parts = [p for p in str(detail["field"]).split(".") if not p.isdigit()]
        fields.add(".".join(p for p in parts if p != "instances") or "instances")
    for field in fields:
        metrics.count(INVALID_INPUTS, field)
