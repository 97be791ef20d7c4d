"""The training reference: what the inputs (and answers) looked like in training.

At the end of training (after saving the model into artifacts/), call

    from {{ cookiecutter.__package_name }}.tools import reference
    reference.record(training_inputs)       # or reference.record(inputs, outputs)

or, from a file of inputs (a JSON list, or one JSON object a line), with the
model in artifacts/ predicting them: `make reference INPUTS=path.json`, which runs

    python -m {{ cookiecutter.__package_name }}.tools.reference INPUTS

It writes artifacts/reference.json: per field, bins and their shares (numbers:
deciles, min, max, null share; categories: the most common values and the share
of the others). The service counts live values into the same bins
(serving/reference.py) and `validate URL --drift` compares the two.
"""

import json
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..model import Input, Model, Output
from ..serving import reference
from ..serving.runtime import artifact_digest
from .parity import command, versions

SAMPLE = 20_000  # instances kept from larger training sets (a random sample)
MAX_SEEN = 1000  # categorical values kept beyond the top ones, to tell _other
BINS = 10  # quantile bins of a numeric field


def flatten(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(field path, value) of each watched field in one Input or Output (as JSON)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        items = list(value.items())
        numbers = items and all(is_number(v) or v is None for _, v in items)
        for key, item in items[: reference.MAX_POSITIONS] if numbers else items:
            yield from flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        if value and all(is_number(v) or v is None for v in value):
            for index, item in enumerate(value[: reference.MAX_POSITIONS]):
                yield f"{path}.{index}", item
            if len(value) > reference.MAX_POSITIONS:
                yield f"{path}._rest", reference.rest_mean(value)
    else:  # a scalar or None; lists of text and other shapes are not watched
        yield path, value


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def record(
    inputs: Sequence[Any],
    outputs: Sequence[Any] | None = None,
    *,
    artifacts_dir: Path | str = "artifacts",
    sample: int = SAMPLE,
) -> Path:
    """Save the reference of inputs (and outputs) into artifacts_dir/reference.json.

    inputs: the training inputs, dicts (or Input objects); at most `sample` of them
    (chosen at random) are kept. outputs: what the model answers for them, shaped
    like Output; without them, Model in model.py predicts them from artifacts_dir.
    """
    folder = Path(artifacts_dir)
    rows = list(range(len(inputs)))
    if len(rows) > sample:
        rows = sorted(random.Random(0).sample(rows, sample))
    checked = [Input.model_validate(inputs[i]) for i in rows]
    if outputs is None:
        model = Model()
        model.load(folder)
        outputs = model.predict(checked)
    else:
        outputs = [outputs[i] for i in rows]
    answers = [Output.model_validate(o, from_attributes=True) for o in outputs]
    if len(answers) != len(checked):
        raise ValueError(f"{len(answers)} outputs for {len(checked)} inputs")
    if not checked:
        raise ValueError("no inputs to make a reference from")
    columns: dict[str, list[Any]] = {}
    for number, (item, answer) in enumerate(zip(checked, answers, strict=True)):
        pairs = [*flatten(item, ""), *flatten(answer, "output")]
        for name, value in pairs:
            columns.setdefault(name, [None] * number).append(value)
        for column in columns.values():  # a field this instance lacks: null
            column.extend([None] * (number + 1 - len(column)))
    saved = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "artifact_digest": artifact_digest(folder),
        "instances": len(checked),
        "versions": versions(),
        "fields": {name: describe(values) for name, values in columns.items()},
    }
    path = folder / reference.REFERENCE_FILE
    path.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    return path


def describe(values: list[Any]) -> dict[str, Any]:
    """One field's bins and shares, from its training values (None: null)."""
    present = [v for v in values if v is not None]
    if present and all(is_number(v) for v in present):
        entry = _numeric(reference.NUMERIC, present)
    elif _free_text(present):
        entry = _numeric(reference.LENGTH, [len(str(v)) for v in present])
    else:
        entry = _categorical(present)
    field = reference.Field("", {**entry, "shares": {}})
    counts = Counter(field.bin(v) for v in values)
    reserved = ["_below", "_above"] if "edges" in entry else ["_other", "_unseen"]
    bins = [*entry.pop("bins"), *reserved, "_null"]
    shares = {b: round(counts[b] / len(values), 6) for b in bins}
    return {**entry, "shares": shares}


def _numeric(kind: str, numbers: list[float]) -> dict[str, Any]:
    ordered = sorted(numbers) or [0.0]
    low, high = ordered[0], ordered[-1]
    deciles = {ordered[len(ordered) * i // BINS] for i in range(1, BINS)}
    edges = sorted(e for e in deciles if e > low)
    bins = [f"q{i}" for i in range(len(edges) + 1)]
    return {"kind": kind, "min": low, "max": high, "edges": edges, "bins": bins}


def _free_text(values: list[Any]) -> bool:
    """Mostly distinct strings (names, sentences): watched by their length."""
    if not values or not all(isinstance(v, str) for v in values):
        return False
    distinct = len(set(values))
    return distinct > reference.TOP_VALUES and distinct > len(values) / 2


def _categorical(values: list[Any]) -> dict[str, Any]:
    counts = Counter(reference.text(v) for v in values)
    top = [value for value, _ in counts.most_common(reference.TOP_VALUES)]
    others = sorted(set(counts) - set(top))
    return {
        "kind": reference.CATEGORICAL,
        "top": top,
        "seen": others[:MAX_SEEN],
        "complete": len(others) <= MAX_SEEN,  # else unknown values count as _other
        "bins": top,
    }


def main() -> None:
    description = "Record artifacts/reference.json from training inputs."
    print(command("make reference", description, record))


if __name__ == "__main__":
    main()
