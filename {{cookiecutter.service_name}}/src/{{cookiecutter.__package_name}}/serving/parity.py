"""Parity: does this service answer what the trained model answered?

`parity.record()` in tools/ writes artifacts/parity.json at the end of training; the
generated tests, `make validate ARGS=--parity` and, with REQUIRE_PARITY=1, readiness
check it here. Parity is about the model: it compares what predict() answers, before
rules.yaml, whose decisions the golden cases check.
"""

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: tools/cases.py needs no ML library
    from ..model import Input, Output

PARITY_FILE = "parity.json"  # in the artifacts folder; not part of its digest


def differences(
    want: Any, got: Any, tolerance: float, relative: float = 0.0, path: str = ""
) -> list[tuple[str, Any, Any]]:
    """Where `got` differs from `want`: [(field path, want, got)], floats within
    `tolerance` (absolute) or `relative`."""
    numbers = (int, float)
    if isinstance(want, numbers) and isinstance(got, numbers):
        if isinstance(want, bool) or isinstance(got, bool):
            return [] if want is got else [(path, want, got)]
        ok = math.isclose(want, got, rel_tol=relative, abs_tol=tolerance)
        return [] if ok else [(path, want, got)]
    if isinstance(want, dict) and isinstance(got, dict) and want.keys() == got.keys():
        return [
            d
            for key in want
            for d in differences(
                want[key], got[key], tolerance, relative, f"{path}.{key}".lstrip(".")
            )
        ]
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [
            d
            for i, (w, g) in enumerate(zip(want, got, strict=True))
            for d in differences(w, g, tolerance, relative, f"{path}.{i}".lstrip("."))
        ]
    return [] if want == got else [(path or "output", want, got)]


def read(path: Path) -> dict[str, Any]:
    """A parity record; ValueError says why it cannot be used."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read the parity record {path}: {error}") from None
    if not isinstance(saved, dict) or not saved.get("cases"):
        raise ValueError(f"{path} holds no recorded cases")
    return saved


def compare(
    saved: dict[str, Any],
    predict: Callable[[list[dict]], list[dict]],
    digest: str | None = None,
    skipped: list[str] | None = None,
) -> list[str]:
    """Each way the answers differ from the record: case, field and both values.

    The record holds predict()'s outputs; a service with rules.yaml adds `reasons`
    to them, which is not compared. A case on which a rule fired is left out (its
    decision is the golden cases' to check) and named in `skipped`.
    """
    problems = []
    recorded = saved.get("artifact_digest")
    if digest is not None and recorded and digest != recorded:
        problems.append(
            f"artifacts differ from the recorded ones: digest {recorded[:12]}"
            f" recorded, {digest[:12]} served"
        )
    cases = saved["cases"]
    try:
        answers = predict([case["input"] for case in cases])
    except Exception as error:
        return [*problems, f"predicting the recorded inputs failed: {error}"]
    tolerance, relative = saved.get("tolerance", 1e-6), saved.get("relative", 0.0)
    for number, (case, got) in enumerate(zip(cases, answers, strict=True)):
        want = case["output"]
        if isinstance(got, dict) and "reasons" in got and "reasons" not in want:
            got = {key: value for key, value in got.items() if key != "reasons"}
            if answers[number]["reasons"]:
                if skipped is not None:
                    skipped.append(f"parity case {number}: a rule fired on it")
                continue
        for field, want_value, have in differences(want, got, tolerance, relative):
            problems.append(
                f"parity case {number}: {_describe(field, want_value, have)}"
            )
    return problems


def canary(
    folder: Path, predict: Callable[[list["Input"]], list["Output"]], digest: str
) -> str:
    """'' when predict reproduces folder/parity.json, else the first problem."""
    from ..model import Input

    try:
        saved = read(folder / PARITY_FILE)
    except ValueError as error:
        return str(error)

    def as_json(inputs: list[dict]) -> list[dict]:
        outputs = predict([Input.model_validate(x) for x in inputs])
        return [o.model_dump(mode="json") for o in outputs]

    problems = compare(saved, as_json, digest)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more if problems else ""


def _describe(field: str, want: Any, have: Any) -> str:
    """One difference in a few words: the keys added or missing, else both values."""
    if isinstance(want, dict) and isinstance(have, dict):
        extra, missing = sorted(have.keys() - want), sorted(want.keys() - have)
        parts = [f"extra key {k!r}" for k in extra]
        parts += [f"missing key {k!r}" for k in missing]
        if parts:
            return f"field {field}: {', '.join(parts)}"
    return f"field {field}: recorded {want!r}, served {have!r}"
