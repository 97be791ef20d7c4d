"""Parity: record what the trained model answers, for the service to reproduce.

At the end of training (after saving the model into artifacts/), call

    from {{ cookiecutter.__package_name }}.tools import parity
    parity.record(sample_inputs)            # or parity.record(inputs, your_outputs)

or, from a file of inputs (a JSON list, or one JSON object a line), with the
model in artifacts/ predicting them: `make parity INPUTS=path.json`, which runs

    python -m {{ cookiecutter.__package_name }}.tools.parity INPUTS

The generated tests, `make validate ARGS=--parity` and (with REQUIRE_PARITY=1)
readiness then check that predict() reproduces artifacts/parity.json
(serving/parity.py).
"""

import argparse
import contextlib
import json
import platform
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from ..model import Input, Model, Output
from ..serving.parity import PARITY_FILE
from ..serving.runtime import artifact_digest

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


def read_inputs(path: Path) -> list[Any]:
    """A JSON list of inputs, or one JSON object a line (JSON Lines)."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def command(prog: str, description: str, recorder: Callable[..., Path]) -> str:
    """`make parity` and `make reference`: record from a file of inputs, with the
    model in artifacts/ predicting them; what was done, in a line (exit on error)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("inputs", type=Path, help="a JSON list, or JSON Lines")
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    args = parser.parse_args()
    try:
        inputs = read_inputs(args.inputs)
        path = recorder(inputs, artifacts_dir=args.artifacts)
    except NotImplementedError:
        sys.exit("error: predict() is not implemented yet in model.py")
    except (OSError, ValueError) as error:  # ValidationError is a ValueError
        sys.exit(f"error: {' '.join(str(error).split())[:500]}")
    return f"{path}: {len(inputs)} inputs and the model's outputs recorded"


def main() -> None:
    description = "Record artifacts/parity.json from inputs."
    print(command("make parity", description, record))


if __name__ == "__main__":
    main()
