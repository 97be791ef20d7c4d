"""This template: where it is, its options, and where a rendered package keeps what
the tests and bench scripts call (each module path written here once)."""

import itertools
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CHOICES = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
LIBRARIES: list[str] = CHOICES["ml_library"]
LONG_NAME = "fraud-detection-gradient-boosting-models"  # 40 characters, the maximum

# The rendered package's modules that the tests and bench scripts use, by role.
MODULES = {
    "model": "model",
    "validate": "tools.validate",
    "cases": "tools.cases",
    "parity": "tools.parity",
    "reference": "tools.reference",
    "loadtest": "tools.loadtest",
    "conditions": "serving.conditions",
    "rules": "serving.rules",
    "settings": "serving.settings",
    "shadow": "serving.shadow",
}


def package(service: Path | str) -> str:
    """The import name of a rendered service (its folder, or its service_name)."""
    return Path(service).name.replace("-", "_")


def module(service: Path | str, role: str) -> str:
    """The dotted path of one of the rendered package's modules, e.g. for -m."""
    return f"{package(service)}.{MODULES[role]}"


# Every ml_library once, python_version cycling, and the longest name: the
# renderings whose files differ.
COMBINATIONS = [
    {"ml_library": library, "python_version": version}
    for library, version in zip(
        LIBRARIES, itertools.cycle(CHOICES["python_version"]), strict=False
    )
] + [{"service_name": LONG_NAME}]


def combination_id(context: dict) -> str:
    """A test id for one combination of answers."""
    return "-".join(f"{key}={value}" for key, value in context.items())
