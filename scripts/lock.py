"""Remake the locks every rendered service starts from, one per library and Python.

python3 scripts/lock.py [--library NAME ...] [--python 3.11 ...] [--upgrade]

For each library option and Python version of cookiecutter.json it renders a service,
runs the service's own `make lock` tool in it (uv, with the indexes of your pip
configuration) and copies its requirements.txt and requirements-dev.txt to
templates/libraries/<library>/locks/py<version>/. Pins already there are kept unless
--upgrade (then the template's tests show whether the newest versions work). torch's
dependencies come from the torch this script installs first (torch==2.13.0): give
pip PyTorch's CPU index (extra-index-url) where your pip settings have no CPU build.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from harness.commands import log, run
from harness.examples import requirements
from harness.render import render
from harness.template import CHOICES, ROOT, package
from harness.venvs import make

TOOLS = ["cookiecutter>=2.7", "uv>=0.5", "packaging>=24"]
LOCKS = ["requirements.txt", "requirements-dev.txt"]


def lock(python: Path, work: Path, library: str, version: str, upgrade: bool) -> None:
    """Render (with the current locks), lock in the service, copy the locks back."""
    service = render(work / f"{library}-{version}", python, ml_library=library,
                     python_version=version)  # fmt: skip
    command = [python, "-m", f"{package(service)}.tools.lock", "--python-version"]
    run([*command, version, *(["--upgrade"] if upgrade else [])], cwd=service,
        timeout=1200, PYTHONPATH=str(service / "src"))  # fmt: skip
    target = ROOT / "templates" / "libraries" / library / "locks" / f"py{version}"
    target.mkdir(parents=True, exist_ok=True)
    for name in LOCKS:
        shutil.copyfile(service / name, target / name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", action="append", choices=CHOICES["ml_library"])
    parser.add_argument("--python", action="append", choices=CHOICES["python_version"])
    parser.add_argument("--upgrade", action="store_true", help="newest allowed")
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="modelservice-lock-"))
    try:
        python = make(work / "venv", requirements("torch", "PREINSTALL"), TOOLS)
        for library in arguments.library or CHOICES["ml_library"]:
            for version in arguments.python or CHOICES["python_version"]:
                started = time.monotonic()
                lock(python, work, library, version, arguments.upgrade)
                log(f"{library} py{version}: {time.monotonic() - started:.0f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
