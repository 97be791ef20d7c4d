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
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from serve import Server  # noqa: E402

RUNS = 5


def post(url: str, body: object) -> object:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def expectation(field: str, value: object) -> dict:
    if "." in json.dumps(value):  # holds a float
        return {"field": field, "approx": value, "tolerance": 1e-6}
    return {"field": field, "equals": value}


def main(service: Path, python: str, count: int) -> int:
    package = service.name.replace("-", "_")
    env = {**os.environ, "PYTHONPATH": str(service / "src")}
    with (
        Server(python, service, workers=2) as server,
        tempfile.TemporaryDirectory(prefix="bench-validate-") as folder,
    ):
        url = server.url
        with urllib.request.urlopen(f"{url}/v1/model", timeout=10) as answer:
            example = json.load(answer)["input_schema"]["examples"][0]
        output = post(f"{url}/v1/predict", example)
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
        command = [python, "-m", f"{package}.tools.validate", url, "--cases"]
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
