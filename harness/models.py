"""Real models in rendered services: trained, filled in, predicted in-process, and
answers compared."""

import json
import os
import subprocess
from pathlib import Path

from harness.commands import run
from harness.examples import example, fill, script, write_block
from harness.render import bake
from harness.server import source_env
from harness.template import module

REFERENCE_SIZE = 200  # example inputs a trained service's reference is made of
REL_TOLERANCE = 1e-5  # a row scored in a batch may differ in its last float32 bits
IN_PROCESS = """
import json, sys
from pathlib import Path
from {model} import Input, Model
model = Model()
model.load(Path("artifacts"))
inputs = [Input.model_validate(x) for x in json.load(sys.stdin)]
print(json.dumps([o.model_dump(mode="json") for o in model.predict(inputs)]))
"""
# A predict() body for `other`: "boom" raises (naming a secret path), "sleep N"
# sleeps N seconds, anything else is "ok".
BEHAVIOUR = """
import time

outputs = []
for item in inputs:
    if item.text == "boom":
        raise ValueError("a bug in predict, with a secret path /srv/secret")
    if item.text.startswith("sleep"):
        time.sleep(float(item.text.split()[1]))
    outputs.append(Output(label="ok", score=1.0))
return outputs
"""


def close(
    a: object, b: object, rel: float = REL_TOLERANCE, absolute: float = 1e-7
) -> bool:
    """Equal, with numbers within `rel` of b (or `absolute`, if more), in any nesting
    of dicts and lists."""
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(a - b) <= max(rel * abs(b), absolute)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], rel, absolute) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            close(x, y, rel, absolute) for x, y in zip(a, b, strict=True)
        )
    return a == b


def in_process(python: Path, service: Path, inputs: list[dict]) -> list[dict]:
    """What the model answers for these inputs in-process, without the service."""
    done = subprocess.run(
        [str(python), "-c", IN_PROCESS.format(model=module(service, "model"))],
        cwd=service,
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **source_env(service)},
    )
    return json.loads(done.stdout)


def record_training(python: Path, service: Path, role: str, inputs: list[dict]) -> None:
    """<role>.record(inputs) in the service (parity, reference), as a training
    notebook calls it: the model in artifacts/ predicts the outputs."""
    recorder = f"import json, sys\nimport {module(service, role)} as recorder\n"
    recorder += "recorder.record(json.load(sys.stdin))"
    subprocess.run(
        [str(python), "-c", recorder],
        cwd=service,
        input=json.dumps(inputs),
        text=True,
        check=True,
        env={**os.environ, **source_env(service)},
    )


def validate(python: Path, service: Path, *args: object) -> subprocess.CompletedProcess:
    """`python -m <package>.tools.validate ARGS` in the service folder (any exit)."""
    return subprocess.run(
        [str(python), "-m", module(service, "validate"), *map(str, args)],
        cwd=service,
        env={**os.environ, **source_env(service)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def trained_service(cookies, environments, library: str) -> tuple[Path, Path]:
    """Render, train the example model into artifacts/, fill in predict(), and
    record the training reference (artifacts/reference.json) from the example's
    inputs, as the end of a training notebook does."""
    service = bake(cookies, ml_library=library)
    python = environments.python(library)
    run([python, script(library), "train", "artifacts"], service)
    fill(library, service)
    inputs = example(library).inputs(REFERENCE_SIZE, 7)
    record_training(python, service, "reference", inputs)
    return service, python


def service_with_predict(cookies, environments, body: str) -> tuple[Path, Path]:
    """An `other` service whose predict() is `body` (no artifacts needed)."""
    service = bake(cookies, ml_library="other")
    write_block(service, "prediction code", body)
    return service, environments.python("other")
