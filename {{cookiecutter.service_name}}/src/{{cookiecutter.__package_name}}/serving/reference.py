"""Live inputs and outputs counted against the training reference.

tools/reference.py records artifacts/reference.json (per field: bins and their
shares); each worker counts every instance it answers into the same bins, in the
predict thread: field_values_total{field,bin} in /metrics, beside
field_reference_share{field,bin}, field_unseen_values_total{field,value} and
reference_info{digest,artifact_digest,stale}. The README ("Watching inputs and
answers against training") says which fields and bins. Without the file, nothing
is counted or exported.
"""

import asyncio
import hashlib
import json
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from . import metrics

REFERENCE_FILE = "reference.json"  # in the artifacts folder; not part of its digest
MAX_POSITIONS = 32  # list positions or mapping keys watched one by one; then _rest
TOP_VALUES = 20  # categorical values with a bin of their own
TEXT_CUT = 40  # characters of a categorical value kept in a label
MAX_UNSEEN = 20  # distinct unseen values named per field and worker; then "other"
EVERY = 1.0  # seconds between writes of the counts: a series a field and bin makes
# many more file writes than the other metrics, so not after every request
NUMERIC, CATEGORICAL, LENGTH = "numeric", "categorical", "length"


def text(value: object) -> str:
    """A categorical value as its label: JSON-like, cut at TEXT_CUT characters."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:TEXT_CUT]


def rest_mean(values: list) -> float | None:
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
        self.top = set(saved.get("top", []))
        self.seen = set(saved.get("seen", []))
        self.complete = saved.get("complete", True)  # every training value kept
        # Live numbers are counted in `tally`, by slot: one bisect on `cuts` finds
        # _below (0) or a q bin; _above and _null are the last two.
        self.cuts = [self.low, *saved.get("edges", [])]
        self.slots = ["_below", *(f"q{i}" for i in range(len(self.cuts)))]
        self.slots += ["_above", "_null"]
        self.tally = [0] * len(self.slots)

    def value(self, instance: Any) -> Any:
        """This field's value in an Input or Output (None when missing)."""
        value = instance
        for step in self.steps:
            if step == "_rest":
                return rest_mean(value) if isinstance(value, list) else None
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
        if number > self.high:
            return "_above"
        return self.slots[bisect_right(self.cuts, number)]


class Watch:
    """This worker's counts of live values per field and bin, written in bulk."""

    def __init__(self, saved: dict[str, Any]) -> None:
        self.fields = [Field(name, entry) for name, entry in saved["fields"].items()]
        self.numbers = [f for f in self.fields if f.kind == NUMERIC]
        self.others = [f for f in self.fields if f.kind != NUMERIC]
        # Numeric fields grouped by lookup (a list, for all its positions at once).
        self.groups: dict[tuple[bool, str], tuple[Callable, list]] = {}
        for field in self.numbers:
            output, (first, *rest) = field.name.startswith("output."), field.steps
            key, index = str(first), 0  # a plain field
            if len(rest) == 1 and isinstance(rest[0], int):  # a list's position
                key, index = f"{first}[]", rest[0]
            elif rest:  # a mapping's key, a list's _rest: the long way
                key = field.name
            get = _lookup(field, str(first), key)
            row = (index, field.cuts, field.high, field.tally)
            self.groups.setdefault((output, key), (get, []))[1].append(row)
        self.widths = {k: 1 + max(r[0] for r in g[1]) for k, g in self.groups.items()}
        # Counted in the predict thread, handed over on the event loop, which never
        # waits for the lock: what it cannot take now, it takes at the next flush.
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._unseen: dict[tuple[str, str], int] = {}
        self._named: dict[str, set[str]] = {}
        self._dirty, self._written, self._timer = False, 0.0, None
        self._children: dict[tuple[str, str], Any] = {}  # field_values' series

    def count(self, inputs: list[Any], outputs: list[Any]) -> None:
        """Count each instance's value of every field (in the predict thread)."""
        with self._lock:
            self._dirty = True
            for key, (get, rows) in self.groups.items():
                _tally(get, rows, self.widths[key], outputs if key[0] else inputs)
            counts = self._counts
            for field in self.others:
                output = field.name.startswith("output.")
                for instance in outputs if output else inputs:
                    value = field.value(instance)
                    key = (field.name, field.bin(value))
                    counts[key] = counts.get(key, 0) + 1
                    if key[1] == "_unseen":
                        key = (field.name, self._name(field.name, text(value)))
                        self._unseen[key] = self._unseen.get(key, 0) + 1

    def _name(self, field: str, value: str) -> str:
        named = self._named.setdefault(field, set())
        if value not in named and len(named) < MAX_UNSEEN:
            named.add(value)
        return value if value in named else "other"

    def take(self) -> tuple[dict, dict]:
        """The counts {(field, bin): n} and unseen values {(field, value): n} since
        the last take; nothing new, or a batch being counted: ({}, {})."""
        if not self._dirty or not self._lock.acquire(blocking=False):
            return {}, {}
        counts, self._counts = self._counts, {}
        unseen, self._unseen = self._unseen, {}
        for field in self.numbers:
            for slot, amount in enumerate(field.tally):
                if amount:
                    counts[field.name, field.slots[slot]] = amount
                    field.tally[slot] = 0
        self._dirty = False
        self._lock.release()
        return counts, unseen

    def flush(self, now: bool = False) -> None:
        """Write the counts so far to the shared files (on the event loop); at most
        every EVERY seconds, unless `now` (a worker stopping)."""
        wait = self._written + EVERY - time.monotonic()
        if wait > 0 and not now:
            if self._timer is None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(wait, self.flush)
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        counts, unseen = self.take()
        values, _, unseen_values, _ = metrics.drift()
        for key, amount in counts.items():
            child = self._children.get(key) or values.labels(*key)
            self._children[key] = child
            child.inc(amount)
        for key, amount in unseen.items():
            unseen_values.labels(*key).inc(amount)
        if counts or unseen:
            self._written = time.monotonic()


def _lookup(field: Field, first: str, group: str) -> Callable[[Any], Sequence]:
    """What a group's inner loop indexes: the list, or the field's value alone."""
    if group.endswith("[]"):
        return lambda x: v if isinstance(v := getattr(x, first, None), list) else ()
    if group == first:
        return lambda instance: (getattr(instance, first, None),)
    return lambda instance: (field.value(instance),)


def _tally(get: Callable, rows: list, width: int, instances: list[Any]) -> None:
    """Count a group of numeric fields: the inner loop of Watch.count, kept lean."""
    for instance in instances:
        values = get(instance)
        if len(values) < width:  # a short list: the positions it lacks are null
            values = [*values, *[None] * (width - len(values))]
        for index, cuts, high, tally in rows:
            value = values[index]
            try:
                if value > high:
                    tally[-2] += 1
                else:
                    tally[bisect_right(cuts, value)] += 1
            except TypeError:  # None (null or missing), or not a number
                tally[-1] += 1


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
    _, shares, _, info = metrics.drift()
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
