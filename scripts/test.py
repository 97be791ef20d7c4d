"""Run every test of the template in a fresh virtual environment.

python3 scripts/test.py [pytest arguments]

Two pytest-xdist workers by default (one per core); each library's tests stay on one
worker, so its virtual environment is made once. `-n 0` runs everything in one process.
"""

import shutil
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = project["dependency-groups"]["test"]
    folder = Path(tempfile.mkdtemp(prefix="modelservice-test-"))
    try:
        venv.EnvBuilder(with_pip=True).create(folder)
        python = str(folder / "bin" / "python")
        pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *requirements], check=True)
        parallel = ["-n", "2", "--dist", "loadgroup"]
        command = [python, "-m", "pytest", "-p", "no:cacheprovider", *parallel]
        command += sys.argv[1:]
        return subprocess.run(command, cwd=ROOT).returncode
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
