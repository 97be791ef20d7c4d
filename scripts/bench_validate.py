"""Time the validate command: 50 golden cases against a live two-worker service.

python3 scripts/bench_validate.py SERVICE_DIR [PYTHON] [CASES]

SERVICE_DIR is a rendered service with a trained model and predict() written (e.g.
the one scripts/demo.py leaves behind); PYTHON has its dependencies (default: this
one). The cases are the answers the service gives to its example input, varied.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.server import Server, source_env
from harness.template import module

RUNS = 5


def expectation(field: str, value: object) -> dict:
    if "." in json.dumps(value):  # holds a float
        return {"field": field, "approx": value, "tolerance": 1e-6}
    return {"field": field, "equals": value}


def main(service: Path, python: str, count: int) -> int:
    env = {**os.environ, **source_env(service)}
    with (
        Server(python, service, quiet=True, WORKERS="2") as server,
        tempfile.TemporaryDirectory(prefix="bench-validate-") as folder,
    ):
        url = server.url
        example = json.loads(server.request("/v1/model")[2])["input_schema"]
        example = example["examples"][0]
        status, _, output = server.request("/v1/predict", example)
        if status != 200:
            sys.exit(f"POST /v1/predict: {status} {output[:300]!r}")
        output = json.loads(output)
        cases = [
            {
                "name": f"case-{i:02d}",
                "input": example,
                "expect": [expectation(k, v) for k, v in output.items()],
            }
            for i in range(count)
        ]
        cases_file = Path(folder) / "cases.yaml"
        cases_file.write_text(json.dumps({"cases": cases}))  # JSON is YAML
        command = [python, "-m", module(service, "validate"), url, "--cases"]
        seconds = []
        for _ in range(RUNS):
            started = time.perf_counter()
            done = subprocess.run(
                [*command, str(cases_file)],
                cwd=service,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            seconds.append(time.perf_counter() - started)
            if done.returncode != 0:
                sys.exit(done.stdout + done.stderr)
        print(done.stdout.splitlines()[-1])
        print(
            f"{count} cases, whole command, {RUNS} runs: median"
            f" {statistics.median(seconds):.2f} s, min {min(seconds):.2f} s,"
            f" max {max(seconds):.2f} s"
        )
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    sys.exit(
        main(
            Path(args[0]).resolve(),
            args[1] if len(args) > 1 else sys.executable,
            int(args[2]) if len(args) > 2 else 50,
        )
    )
