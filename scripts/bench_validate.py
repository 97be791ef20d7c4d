"""Time the validate command: 50 golden cases against a live two-worker service.

python3 scripts/bench_validate.py SERVICE_DIR [PYTHON] [CASES]

SERVICE_DIR is a rendered service with a trained model and predict() written (e.g.
the one scripts/demo.py leaves behind); PYTHON has its dependencies (default: this
one). The cases are the answers the service gives to its example input, varied.
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = {"HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "2"}
    server = subprocess.Popen(
        [python, "-m", package],
        cwd=service,
        env={**env, **settings},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("the service did not become ready")
                time.sleep(0.2)
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
        folder = Path(tempfile.mkdtemp(prefix="bench-validate-"))
        (folder / "cases.yaml").write_text(json.dumps({"cases": cases}))  # JSON is YAML
        command = [python, "-m", f"{package}.validate", url, "--cases"]
        seconds = []
        for _ in range(RUNS):
            started = time.perf_counter()
            done = subprocess.run(
                [*command, str(folder / "cases.yaml")],
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
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
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
