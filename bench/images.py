"""Container images per library: size, cold and cached build, docker run to ready, stop.

python3 bench/images.py [LIBRARY ...] [--skip LIBRARY] [--build-timeout S]

For each library (default: every ml_library option, torch last) it renders a service,
trains the example model into artifacts/ and fills in predict() as the template's
tests do, then with the Docker-compatible engine (`docker`, or CONTAINER_ENGINE):
builds the image with --no-cache (cold: every layer made again; the base image is
local, pip downloads from the package index), appends a comment to model.py and
builds again (cached: the dependency layer is reused), reads the image's size, times
`docker run` (published on 127.0.0.1) until /readyz answers 200, checks one
prediction against the model in-process, and times `docker stop` (SIGTERM, killed
after 30 s) and reads the exit code. It prints one markdown table, and removes its
containers, images and temporary folder. Where no engine answers it starts one as
scripts/test.py does. Needs the template's test tools (pyproject.toml's test group).
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.commands import log
from harness.containers import Image, container_engine, engine, sweep
from harness.environments import Environments
from harness.examples import example
from harness.models import close, in_process, trained_service
from harness.render import cookies
from harness.template import LIBRARIES

COLUMNS = [
    "library",
    "image MB",
    "cold build s",
    "cached build s",
    "run→ready s",
    "stop s",
    "exit code",
]


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """The template's hook prints its next steps: keep stdout for the table."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def measure(
    library: str, docker: str, environments: Environments, timeout: int
) -> dict:
    log(f"{library}: environment, training, predict()")
    with stdout_to_stderr():
        service, python = trained_service(environments.cookies, environments, library)
    image = Image(docker, service, python, library, f"modelservice-bench-{library}")
    row = {"library": library}
    try:
        if seconds := image.wheels():
            log(f"{library}: make wheels {seconds:.0f} s (not in the build times)")
        log(f"{library}: cold build")
        row["cold build s"] = round(image.build("--no-cache", timeout=timeout), 1)
        image.edit_code()
        log(f"{library}: cached build")
        row["cached build s"] = round(image.build(timeout=timeout), 1)
        row["image MB"] = round(image.megabytes())
        row["run→ready s"] = round(image.start(timeout=300), 1)
        instance = example(library).inputs(1)
        status, body = image.predict(instance[0])
        want = in_process(python, service, instance)[0]
        if status != 200 or not close(json.loads(body), want):
            raise AssertionError(f"prediction {status} {body[:300]!r}, want {want}")
        row["stop s"] = round(image.stop(), 1)
        row["exit code"] = image.inspect("{{.State.ExitCode}}")
    finally:
        image.remove()
        if left := sweep(docker):  # one library at a time: nothing else builds
            log(f"{library}: could not remove images {left}")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("libraries", nargs="*", help="default: all, torch last")
    parser.add_argument("--skip", action="append", default=[], metavar="LIBRARY")
    parser.add_argument("--build-timeout", type=int, default=3600, metavar="S")
    args = parser.parse_args()
    libraries = args.libraries or sorted(LIBRARIES, key=lambda x: x == "torch")
    unknown = set(libraries + args.skip) - set(LIBRARIES)
    if unknown:
        parser.error(f"not an ml_library option: {', '.join(sorted(unknown))}")
    libraries = [x for x in libraries if x not in args.skip]

    os.environ.update(container_engine())
    try:
        docker = engine()
    except LookupError as error:
        sys.exit(str(error))
    work = Path(tempfile.mkdtemp(prefix="modelservice-images-"))
    environments = Environments(work / "venvs", cookies(work))
    rows = []
    try:
        for library in libraries:
            try:
                rows.append(measure(library, docker, environments, args.build_timeout))
            except Exception as error:  # one library's failure: say it, go on
                log(f"{library} failed: {str(error)[-3000:]}")
                note = str(error).strip().splitlines() or [type(error).__name__]
                rows.append({"library": library, "exit code": f"failed: {note[-1]}"})
            log(json.dumps(rows[-1]))
            shutil.rmtree(work / "venvs" / library, ignore_errors=True)  # torch: 1 GB
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * (len(COLUMNS) - 1))
    for row in rows:
        print("| " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + " |")
    server = subprocess.run(
        [docker, "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(
        f"\n{os.cpu_count()} CPUs; engine server {server or 'unknown'}; MB = 10^6 "
        "bytes (image inspect Size); stop = docker stop --time 30 (SIGTERM)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
