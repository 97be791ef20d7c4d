"""Live inputs and outputs counted against the training reference (reference.json).

tools/reference.py records artifacts/reference.json from the training data: per
field, the bins below and each bin's share. Each worker counts every instance it
answers into the same bins, in the predict thread, and /metrics exports both:

    field_values_total{field, bin}          live counts
    field_reference_share{field, bin}       the reference's shares
    field_unseen_values_total{field, value} values never seen in training
    reference_info{digest, artifact_digest, stale}

Fields: Input's by path (`amount`, `features.3`), Output's as `output.<path>`. A
list (or mapping) of numbers is watched per position (or key) up to MAX_POSITIONS;
the mean of the positions beyond is the field `<name>._rest`. Numeric bins: q0..q9
between the reference's deciles (fewer when values repeat), _below its min, _above
its max, _null. Categorical (str, enum, Literal, bool): its TOP_VALUES most common
values (as text, cut at 40 characters), _other (seen in training, not in the top),
_unseen, _null. Free text (mostly distinct strings) is watched by its length.
Without artifacts/reference.json nothing is counted or exported.
"""

import hashlib
import json
import threading
from bisect import bisect_right
from collections.abc import Iterator
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge
from pydantic import BaseModel

from ..config import METRICS_NAMESPACE as NS
from . import metrics

REFERENCE_FILE = "reference.json"  # in the artifacts folder; not part of its digest
MAX_POSITIONS = 32  # list positions or mapping keys watched one by one; then _rest
TOP_VALUES = 20  # categorical values with a bin of their own
TEXT_CUT = 40  # characters of a categorical value kept in a label
MAX_UNSEEN = 20  # distinct unseen values named per field and worker; then "other"
NUMERIC, CATEGORICAL, LENGTH = "numeric", "categorical", "length"


@cache
def exported() -> tuple[Counter, Gauge, Counter, Gauge]:
    """The four metrics, made only when a reference is loaded."""
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


def text(value: object) -> str:
    """A categorical value as its label: JSON-like, cut at TEXT_CUT characters."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:TEXT_CUT]


def flatten(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(field path, value) of each watched field in one Input or Output (as JSON)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        items = list(value.items())
        numbers = items and all(is_number(v) or v is None for _, v in items)
        for key, item in items[:MAX_POSITIONS] if numbers else items:
            yield from flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        if value and all(is_number(v) or v is None for v in value):
            for index, item in enumerate(value[:MAX_POSITIONS]):
                yield f"{path}.{index}", item
            if len(value) > MAX_POSITIONS:
                yield f"{path}._rest", _rest(value)
    else:  # a scalar or None; lists of text and other shapes are not watched
        yield path, value


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _rest(values: list) -> float | None:
    rest = [v for v in values[MAX_POSITIONS:] if v is not None]
    return sum(rest) / len(rest) if rest else None


class Field:
    """One watched field: where its value is, and which bin a value falls in."""

    def __init__(self, name: str, saved: dict[str, Any]) -> None:
        self.name, self.kind = name, saved["kind"]
        self.shares: dict[str, float] = saved["shares"]
        parts = name.removeprefix("output.").split(".")
        self.steps = [int(p) if p.isdigit() else p for p in parts]
        self.low, self.high = saved.get("min"), saved.get("max")
        self.edges: list[float] = saved.get("edges", [])
        self.top = set(saved.get("top", []))
        self.seen = set(saved.get("seen", []))
        self.complete = saved.get("complete", True)  # every training value kept

    def value(self, instance: Any) -> Any:
        """This field's value in an Input or Output (None when missing)."""
        value = instance
        for step in self.steps:
            if step == "_rest":
                return _rest(value) if isinstance(value, list) else None
            if isinstance(value, BaseModel):
                value = getattr(value, step, None)
            elif isinstance(value, dict):
                value = value.get(str(step))
            elif isinstance(value, list | tuple) and isinstance(step, int):
                value = value[step] if step < len(value) else None
            else:
                return None
        return value

    def bin(self, value: Any) -> str:
        """The bin of one value: the same for training values and live ones."""
        if value is None:
            return "_null"
        if self.kind == CATEGORICAL:
            label = text(value)
            if label in self.top:
                return label
            return "_other" if label in self.seen or not self.complete else "_unseen"
        if self.kind == LENGTH:
            value = len(str(value))
        try:
            number = float(value)
        except (TypeError, ValueError):
            return "_null"
        if number < self.low:
            return "_below"
        if number > self.high:
            return "_above"
        return f"q{bisect_right(self.edges, number)}"


class Watch:
    """This worker's counts of live values per field and bin, written in bulk."""

    def __init__(self, saved: dict[str, Any]) -> None:
        fields = [Field(name, entry) for name, entry in saved["fields"].items()]
        self.inputs = [f for f in fields if not f.name.startswith("output.")]
        self.outputs = [f for f in fields if f.name.startswith("output.")]
        self.fields = fields
        self._lock = threading.Lock()  # counted in the predict thread, flushed on
        self._counts: dict[tuple[str, str], int] = {}  # the event loop
        self._unseen: dict[tuple[str, str], int] = {}
        self._named: dict[str, set[str]] = {}

    def count(self, inputs: list[Any], outputs: list[Any]) -> None:
        """Count each instance's value of every field (in the predict thread)."""
        counts: dict[tuple[str, str], int] = {}
        unseen: list[tuple[str, Any]] = []
        for fields, instances in ((self.inputs, inputs), (self.outputs, outputs)):
            for field in fields:
                bin_of, value_of, name = field.bin, field.value, field.name
                for instance in instances:
                    value = value_of(instance)
                    key = (name, bin_of(value))
                    counts[key] = counts.get(key, 0) + 1
                    if key[1] == "_unseen":
                        unseen.append((name, value))
        with self._lock:
            for key, amount in counts.items():
                self._counts[key] = self._counts.get(key, 0) + amount
            for name, value in unseen:
                key = (name, self._name(name, text(value)))
                self._unseen[key] = self._unseen.get(key, 0) + 1

    def _name(self, field: str, value: str) -> str:
        named = self._named.setdefault(field, set())
        if value not in named and len(named) < MAX_UNSEEN:
            named.add(value)
        return value if value in named else "other"

    def flush(self) -> None:
        """Hand the counts so far to metrics' bulk writer (on the event loop)."""
        if not (self._counts or self._unseen):
            return
        with self._lock:
            counts, self._counts = self._counts, {}
            unseen, self._unseen = self._unseen, {}
        values, _, unseen_values, _ = exported()
        for (field, bin_), amount in counts.items():
            metrics.count(values, field, bin_, amount=amount)
        for (field, value), amount in unseen.items():
            metrics.count(unseen_values, field, value, amount=amount)


def load(folder: Path, artifact_digest: str) -> tuple[Watch | None, str]:
    """The Watch over folder/reference.json, exported, and a line for the log;
    (None, '') without the file. ValueError: a file that cannot be used."""
    path = folder / REFERENCE_FILE
    if not path.is_file():
        return None, ""
    try:
        raw = path.read_bytes()
        saved = json.loads(raw)
        watch = Watch(saved)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path.name} cannot be used: {error!r}") from None
    _, shares, _, info = exported()
    for field in watch.fields:
        for bin_, share in field.shares.items():
            shares.labels(field.name, bin_).set(share)
    recorded = str(saved.get("artifact_digest", ""))
    stale = bool(recorded) and recorded != artifact_digest
    digest = hashlib.sha256(raw).hexdigest()[:12]
    info.labels(digest, recorded[:12], "true" if stale else "false").set(1)
    line = f"reference: watching {len(watch.fields)} fields against {path.name}"
    if stale:
        line += (
            f" (STALE: recorded for artifacts {recorded[:12]}, serving"
            f" {artifact_digest[:12]}; record it again with the training data)"
        )
    return watch, line
