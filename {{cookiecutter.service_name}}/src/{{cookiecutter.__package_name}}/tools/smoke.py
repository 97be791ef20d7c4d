"""`make smoke`: the image just built, run on a free port, passes the golden cases.

python -m <package>.tools.smoke IMAGE [--engine docker]
Runs IMAGE on a free port of 127.0.0.1, waits for /readyz, runs
validation/cases.yaml against it (tools/validate.py), stops it, and exits with
validate's status (1: a case failed, 2: could not run).
"""

import argparse
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from . import validate

READY_SECONDS = 180  # a large model may take a while to load and warm up
RUNNING = "{{ '{{.State.Running}}' }}"  # docker inspect's format: true or false


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make smoke", description=__doc__)
    parser.add_argument("image", help="name:tag of the built image")
    parser.add_argument("--engine", default="docker", help="docker, podman, ...")
    args = parser.parse_args(argv)
    port = free_port()
    command = [args.engine, "run", "-d", "-p", f"127.0.0.1:{port}:8000"]
    started = subprocess.run(
        [*command, args.image], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        print(f"error: {args.engine} run failed: {started.stderr.strip()}")
        return 2
    container, url = started.stdout.strip(), f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not ready(url):
            running = _engine(args.engine, "inspect", "-f", RUNNING, container)
            if running != "true" or time.monotonic() > deadline:
                logs = _engine(args.engine, "logs", "--tail", "20", container)
                print(f"error: {args.image} is not ready; its log ends:\n{logs}")
                return 2
            time.sleep(0.5)
        print(f"{args.image} is ready on {url}; running the golden cases")
        return validate.main([url])
    finally:
        _engine(args.engine, "stop", container)
        _engine(args.engine, "rm", container)


def _engine(engine: str, *arguments: str) -> str:
    """An engine command's output (stdout and stderr); its failure is an answer."""
    done = subprocess.run(
        [engine, *arguments], capture_output=True, text=True, check=False
    )
    return (done.stdout + done.stderr).strip()


if __name__ == "__main__":
    sys.exit(main())
