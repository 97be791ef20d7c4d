"""Run every test of the template in a fresh virtual environment.

python3 scripts/test.py [--newest] [pytest arguments]

Each library's service is installed from its locks (templates/libraries/*/locks/),
as users get it. --newest resolves the newest versions pyproject.toml's ranges allow
instead: an optional job that catches upstream breakage before users do.

Two pytest-xdist workers by default (one per core); each library's tests stay on one
worker, so its virtual environment is made once. `-n 0` runs everything in one process.
Where no Docker engine answers, ../shared/containers/engine.sh (when present) provides
a Docker-compatible one for tests/test_image.py; without either those tests skip.
Where chromedriver is missing and apt-get exists, Debian's chromium and chromedriver
are installed for tests/test_docs.py, and where promtool is missing, Debian's
prometheus (promtool and the server) for tests/test_alerts.py; without them those
tests skip.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from harness.containers import container_engine
from harness.template import ROOT
from harness.venvs import make


def debian(command: str, packages: list[str], purpose: str) -> None:
    """Debian packages providing `command`, where apt-get can install them (as root,
    as in CI); elsewhere the tests needing them skip and say why."""
    if shutil.which(command) or not shutil.which("apt-get"):
        return
    print(f"installing {' '.join(packages)} (apt-get) for {purpose}", file=sys.stderr)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "update"], env=env, **quiet).returncode == 0:
        subprocess.run(["apt-get", "install", "-y", *packages], env=env, **quiet)


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = project["dependency-groups"]["test"]
    folder = Path(tempfile.mkdtemp(prefix="modelservice-test-"))
    try:
        python = make(folder, requirements)
        debian("chromedriver", ["chromium", "chromium-driver"], "tests/test_docs.py")
        debian("promtool", ["prometheus"], "tests/test_alerts.py")
        parallel = ["-n", "2", "--dist", "loadgroup"]
        command = [python, "-m", "pytest", "-p", "no:cacheprovider", *parallel]
        arguments = sys.argv[1:]
        newest = "--newest" in arguments
        command += [x for x in arguments if x != "--newest"]
        env = {**os.environ, **container_engine()}
        env |= {"MODELSERVICE_NEWEST": "1"} if newest else {}
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
