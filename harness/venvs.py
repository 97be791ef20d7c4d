"""Virtual environments: make one, install into it."""

import json
import re
import venv
from pathlib import Path

from harness.commands import run

PIP = ("-m", "pip", "install", "-q", "--disable-pip-version-check")


def install(python: Path, *packages: object, timeout: float = 1200) -> None:
    """pip install `packages` (one resolution) with `python`."""
    run([python, *PIP, *packages], timeout=timeout)


def make(folder: Path, *groups: list[object], timeout: float = 1200) -> Path:
    """A new virtual environment in `folder`, each non-empty group of packages
    installed in turn (e.g. a pinned torch alone first); return its python."""
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    for group in groups:
        if group:
            install(python, *group, timeout=timeout)
    return python


# What `pip freeze` says, without pip (the image's environment has none).
LISTING = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.name: d.version for d in m.distributions()}))"
)


def normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(output: str) -> dict[str, str]:
    """{normalised name: version} from what LISTING printed."""
    return {normalized(k): v for k, v in json.loads(output).items()}
