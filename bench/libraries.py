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
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
from fill import example, fill  # noqa: E402

CHOICES = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
LOAD_TIME = """
import sys, time
from pathlib import Path
started = time.perf_counter()
from {package}.model import Model
imported = time.perf_counter()
Model().load(Path("artifacts"))
print(imported - started, time.perf_counter() - imported)
"""


def sh(*command: object, cwd: Path | None = None, env: dict | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def render(library: str, work: Path) -> Path:
    from cookiecutter.main import cookiecutter

    config = work / "cookiecutter.yaml"  # keeps replay files out of $HOME
    config.write_text(f"replay_dir: {work / 'replay'}\ncookiecutters_dir: {work}\n")
    output = work / library
    context = {"ml_library": library}
    cookiecutter(
        str(ROOT), no_input=True, output_dir=str(output), config_file=str(config),
        extra_context=context,
    )  # fmt: skip
    return output / CHOICES["service_name"]


def install(library: str, service: Path, folder: Path) -> tuple[Path, float, int]:
    """A venv with the service alone; returns python, seconds, and its size in MB."""
    started = time.monotonic()
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if preinstall := getattr(example(library), "PREINSTALL", []):
        sh(*pip, *preinstall)
    sh(*pip, service)
    seconds = time.monotonic() - started
    megabytes = int(sh("du", "-sm", folder).split()[0])
    if training := getattr(example(library), "TRAINING", []):
        sh(*pip, *training)  # after the measurement: not part of the service
    return python, seconds, megabytes


def load_time(python: Path, service: Path, env: dict) -> tuple[float, float]:
    package = service.name.replace("-", "_")
    script = LOAD_TIME.format(package=package)
    imported, loaded = sh(python, "-c", script, cwd=service, env=env).split()
    return float(imported), float(loaded)


def serve(python: Path, service: Path, env: dict) -> tuple[subprocess.Popen, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = {"HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "2"}
    package = service.name.replace("-", "_")
    process = subprocess.Popen(
        [python, "-m", package],
        cwd=service,
        env={**env, **settings},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline, streak = time.monotonic() + 180, 0
    while streak < 10:  # ten 200s in a row: both workers are ready
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the {service.name} service did not become ready")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            status = request(connection, "/readyz")
            if status == 501:
                sys.exit(f"predict() of {service.name} is still the stub")
            streak = streak + 1 if status == 200 else 0
        except OSError:
            streak = 0
        finally:
            connection.close()
        time.sleep(0.05)
    return process, port


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
    service = render(library, work)
    python, seconds, megabytes = install(library, service, work / f"venv-{library}")
    # Run the filled-in model.py from src/, over the installed copy of the stub.
    source = {"PYTHONPATH": str(service / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    env = {**os.environ, **source}
    sh(python, ROOT / "examples" / library / "example.py", "train", "artifacts",
       cwd=service, env=env)  # fmt: skip
    fill(library, service)
    imported, loaded = load_time(python, service, env)
    process, port = serve(python, service, env)
    try:
        bodies = example(library).inputs(requests)
        load_test(port, bodies[: min(200, requests)], concurrency)  # warm the pool
        rate = load_test(port, bodies, concurrency)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
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
    parser.add_argument("libraries", nargs="*", default=CHOICES["ml_library"])
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
