"""The reaches into dependencies' internals (serving/compat.py) still find them."""

import subprocess
import sys
import tomllib
from pathlib import Path

from {{ cookiecutter.__package_name }}.config import PACKAGE_NAME
from {{ cookiecutter.__package_name }}.serving import compat

ROOT = Path(__file__).resolve().parents[1]


def test_every_reach_into_a_dependency_still_finds_its_target() -> None:
    """Each attribute and class that compat.py relies on is there, in range."""
    problems = compat.check()
    assert not problems, "serving/compat.py: " + "; ".join(problems)


def test_tested_versions_are_the_ranges_of_pyproject() -> None:
    """compat.TESTED and the dependencies in pyproject.toml name the same ranges."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {d.replace(" ", "") for d in project["project"]["dependencies"]}
    for name, (low, high) in compat.TESTED.items():
        assert f"{name}>={low},<{high}" in declared, f"{name} in pyproject.toml"


def test_importing_the_server_leaves_prometheus_client_unimported() -> None:
    """The metrics folder is set before prometheus_client is first imported."""
    check = (
        f"import sys, {PACKAGE_NAME}.serving.server; "
        "sys.exit('prometheus_client' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, check=False)
    assert done.returncode == 0, "serving/server.py imports prometheus_client early"
