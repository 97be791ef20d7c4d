"""Virtual environments: make one, install into it."""

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
