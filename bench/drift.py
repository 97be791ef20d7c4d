"""The cost of watching drift: W1 with a reference of all its fields vs without.

python3 bench/drift.py [--concurrency 1,64] [--rounds 7] [--seconds 3]

Renders the W1 service from this checkout (as bench/run.py does), records
artifacts/reference.json from 2000 W1 inputs into a copy of the trained artifacts
(20 features, the label and 3 probabilities: 24 watched fields), and runs both
services at once, one worker each, both pinned to CPU 0, wrk to CPU 1, alternating
round by round as bench/ab.py does. Prints the median of the per-round ratios
reference/none of req/s, p50 and p99.
"""

import argparse
import json
import shutil
from pathlib import Path

from ab import alternate
from run import (
    PEERS,
    RESULTS,
    Server,
    rendered,
    service_environment,
    workload_requests,
)

from harness.commands import sh

RECORD = """
import json, sys
from bench_w1.tools import reference
reference.record(json.loads(open(sys.argv[1]).read()), artifacts_dir=sys.argv[2])
"""


def with_reference(python: Path) -> Path:
    """A copy of W1's artifacts with a reference recorded from W1 inputs."""
    plain = RESULTS / "artifacts" / "w1"
    folder = RESULTS / "artifacts" / "w1-reference"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(plain, folder)
    pairs = sh(python, PEERS / "workload.py", "expect", "2000", ARTIFACTS=str(plain))
    inputs = [body for body, _ in json.loads(pairs)]
    inputs_file = RESULTS / "w1-reference-inputs.json"
    inputs_file.write_text(json.dumps(inputs))
    service = rendered("service", "w1")
    sh(python, "-c", RECORD, inputs_file, folder, PYTHONPATH=str(service / "src"))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    python = service_environment(["w1"], None)["service"]
    folder = with_reference(python)
    expected, script = workload_requests("w1", python)
    servers = {
        "service": Server("service", "w1", "0", 1, python, artifacts=folder),
        "baseline": Server("service", "w1", "0", 1, python),
    }
    try:
        for server in servers.values():
            server.wait_ready(expected[0][0])
        alternate(servers, script, args, "w1 reference/none")
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main()
