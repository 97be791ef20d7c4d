"""Per-library numbers: install size and time, model load time, requests per second.

python bench/libraries.py [LIBRARY ...] [--requests N] [--concurrency C]

For each library (default: every ml_library option) it renders a service, installs
it alone in a fresh virtual environment (timed; `du` of that environment), trains
the example model (training extras installed after the measurement), fills in
predict(), times Model.load() in a fresh process, then starts the service with two
workers on 127.0.0.1 and sends N single-instance requests from C client threads
(keep-alive connections), and prints one table. Needs cookiecutter (the template's
test tools); everything else goes into a temporary folder that is removed after.
"""

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness.commands import sh
from harness.examples import example, fill, requirements, script
from harness.render import render
from harness.server import Server, source_env
from harness.template import LIBRARIES, module
from harness.venvs import install, make

LOAD_TIME = """
import sys, time
from pathlib import Path
started = time.perf_counter()
from {model} import Model
imported = time.perf_counter()
Model().load(Path("artifacts"))
print(imported - started, time.perf_counter() - imported)
"""


def venv(library: str, service: Path, folder: Path) -> tuple[Path, float, int]:
    """A venv with the service alone; returns python, seconds, and its size in MB."""
    started = time.monotonic()
    python = make(folder, requirements(library, "PREINSTALL"), [service])
    seconds = time.monotonic() - started
    megabytes = int(sh("du", "-sm", folder).split()[0])
    if training := requirements(library, "TRAINING"):
        install(python, *training)  # after the measurement: not the service's
    return python, seconds, megabytes


def load_time(python: Path, service: Path) -> tuple[float, float]:
    code = LOAD_TIME.format(model=module(service, "model"))
    output = sh(python, "-c", code, cwd=service, **source_env(service))
    imported, loaded = output.split()
    return float(imported), float(loaded)


def request(connection: http.client.HTTPConnection, path: str, body=None) -> int:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    connection.request("GET" if data is None else "POST", path, data, headers)
    answer = connection.getresponse()
    answer.read()
    return answer.status


def load_test(port: int, bodies: list[dict], concurrency: int) -> float:
    """Send every body once from `concurrency` threads; return requests per second."""
    failures, lock, position = [], threading.Lock(), iter(range(len(bodies)))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                return connection.close()
            status = request(connection, "/v1/predict", bodies[index])
            if status != 200:
                failures.append(status)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        sys.exit(f"{len(failures)} requests failed, e.g. status {failures[0]}")
    return len(bodies) / elapsed


def measure(library: str, work: Path, requests: int, concurrency: int) -> dict:
    service = render(work / library, ml_library=library)
    python, seconds, megabytes = venv(library, service, work / f"venv-{library}")
    # Run the filled-in model.py from src/, over the installed copy of the stub.
    sh(python, script(library), "train", "artifacts", cwd=service,
       **source_env(service))  # fmt: skip
    fill(library, service)
    imported, loaded = load_time(python, service)
    with Server(python, service, quiet=True, PYTHONDONTWRITEBYTECODE="1") as server:
        bodies = example(library).inputs(requests)
        load_test(server.port, bodies[: min(200, requests)], concurrency)  # warm up
        rate = load_test(server.port, bodies, concurrency)
    return {
        "library": library,
        "install MB": megabytes,
        "install s": round(seconds, 1),
        "import s": round(imported, 2),
        "load s": round(loaded, 3),
        "req/s": round(rate),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("libraries", nargs="*", default=LIBRARIES)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="modelservice-bench-"))
    rows = []
    try:
        for library in args.libraries:
            rows.append(measure(library, work, args.requests, args.concurrency))
            print(json.dumps(rows[-1]), flush=True)
            shutil.rmtree(work / f"venv-{library}")  # a torch one is about 1 GB
    finally:
        shutil.rmtree(work, ignore_errors=True)
    columns = list(rows[0])
    print("\n| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    print(
        f"\n{args.requests} requests, {args.concurrency} client threads, "
        f"2 workers, {os.cpu_count()} CPUs; install with the pip cache as it was."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
