"""Run every test of the template in a fresh virtual environment.

python3 scripts/test.py [pytest arguments]

Two pytest-xdist workers by default (one per core); each library's tests stay on one
worker, so its virtual environment is made once. `-n 0` runs everything in one process.
Where no Docker engine answers, ../shared/containers/engine.sh (when present) provides
a Docker-compatible one for tests/test_image.py; without either those tests skip.
Where chromedriver is missing and apt-get exists, Debian's chromium and chromedriver
are installed for tests/test_docs.py; without them that test skips.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT.parent / "shared" / "containers" / "engine.sh"


def container_engine() -> dict[str, str]:
    """DOCKER_HOST and friends for a local engine, when none answers and one can."""
    answers = (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "info"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if answers or not ENGINE.is_file():
        return {}
    # From /, so the engine's service never runs in a folder that goes away; into a
    # file, since the service it leaves running keeps that descriptor open.
    with tempfile.TemporaryFile("w+") as exports:
        subprocess.run(["bash", str(ENGINE)], cwd="/", stdout=exports, check=True)
        exports.seek(0)
        lines = exports.read().splitlines()
    pairs = (x.removeprefix("export ").split("=", 1) for x in lines if "=" in x)
    return {key: value.strip("'\"") for key, value in pairs}


def browser() -> None:
    """Debian's chromium and chromedriver, for tests/test_docs.py, where apt-get can
    install them (as root, as in CI); elsewhere that test skips and says why."""
    if shutil.which("chromedriver") or not shutil.which("apt-get"):
        return
    print("installing chromium and chromedriver (apt-get)", file=sys.stderr)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "update"], env=env, **quiet).returncode == 0:
        install = ["apt-get", "install", "-y", "chromium", "chromium-driver"]
        subprocess.run(install, env=env, **quiet)


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = project["dependency-groups"]["test"]
    folder = Path(tempfile.mkdtemp(prefix="modelservice-test-"))
    try:
        venv.EnvBuilder(with_pip=True).create(folder)
        python = str(folder / "bin" / "python")
        pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *requirements], check=True)
        browser()
        parallel = ["-n", "2", "--dist", "loadgroup"]
        command = [python, "-m", "pytest", "-p", "no:cacheprovider", *parallel]
        command += sys.argv[1:]
        env = {**os.environ, **container_engine()}
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
