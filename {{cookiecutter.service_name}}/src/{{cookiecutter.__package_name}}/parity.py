"""Parity: record what the trained model answers; check the service answers the same.

At the end of training (after saving the model into artifacts/), call

    from {{ cookiecutter.__package_name }} import parity
    parity.record(sample_inputs)            # or parity.record(inputs, your_outputs)

The generated tests, `make validate` with `--parity` and (with REQUIRE_PARITY=1)
readiness then check that the service reproduces artifacts/parity.json.
"""

import contextlib
import json
import platform
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .cases import differences
from .model import Input, Model, Output

PARITY_FILE = "parity.json"  # in the artifacts folder; not part of its digest
# Recorded when installed, so a mismatch can be traced to a version change.
PACKAGES = (
    "numpy",
    "pandas",
    "scikit-learn",
    "torch",
    "xgboost",
    "lightgbm",
    "onnxruntime",
    "joblib",
    "pydantic",
)


def versions() -> dict[str, str]:
    """Python and the installed versions of the usual model libraries."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def record(
    inputs: Sequence[Any],
    outputs: Sequence[Any] | None = None,
    *,
    artifacts_dir: Path | str = "artifacts",
    tolerance: float = 1e-6,
    relative: float = 1e-5,
) -> Path:
    """Save inputs and the trained model's outputs into artifacts_dir/parity.json.

    inputs: dicts (or Input objects). outputs: what your training code predicts for
    them, shaped like Output; without them, Model in model.py predicts them from
    artifacts_dir. Floats match within `tolerance` (absolute) or `relative`.
    """
    from .runtime import artifact_digest  # runtime checks parity: import it late

    folder = Path(artifacts_dir)
    checked = [Input.model_validate(x) for x in inputs]
    if outputs is None:
        model = Model()
        model.load(folder)
        outputs = model.predict(checked)
    answers = [Output.model_validate(o, from_attributes=True) for o in outputs]
    if len(answers) != len(checked):
        raise ValueError(f"{len(answers)} outputs for {len(checked)} inputs")
    saved = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "tolerance": tolerance,
        "relative": relative,
        "artifact_digest": artifact_digest(folder),
        "versions": versions(),
        "cases": [
            {"input": i.model_dump(mode="json"), "output": o.model_dump(mode="json")}
            for i, o in zip(checked, answers, strict=True)
        ],
    }
    path = folder / PARITY_FILE
    path.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    return path


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
) -> list[str]:
    """Each way the answers differ from the record: case, field and both values."""
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
        for field, want, have in differences(case["output"], got, tolerance, relative):
            problems.append(
                f"parity case {number}: field {field}: recorded {want!r},"
                f" served {have!r}"
            )
    return problems


def canary(
    folder: Path, predict: Callable[[list[Input]], list[Output]], digest: str
) -> str:
    """'' when predict reproduces folder/parity.json, else the first problem."""
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
