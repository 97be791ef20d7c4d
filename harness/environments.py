"""The tests' virtual environments: one per library, made once per run and shared."""

from pathlib import Path

import pytest

from harness.examples import requirements
from harness.render import bake
from harness.template import LIBRARIES
from harness.venvs import make

# One group per library: with `-n 2 --dist loadgroup` a library's tests (and so its
# virtual environment) stay on one xdist worker; without xdist the mark does nothing.
BY_LIBRARY = [pytest.param(x, marks=pytest.mark.xdist_group(x)) for x in LIBRARIES]
# What tests need beside each service: a real Open Inference Protocol (v2) client,
# a local S3-compatible server (moto), and the service's `storage` extra for
# ARTIFACTS_URI (named here: pip backtracks for minutes over the extra with moto).
CLIENTS = ["tritonclient[http]", "moto[server]", "s3fs", "fsspec"]


class Environments:
    """One virtual environment per library, made on first use."""

    def __init__(self, root: Path, cookies) -> None:
        self.root, self.cookies, self.made = root, cookies, {}

    def python(self, library: str) -> Path:
        if library not in self.made:
            # Install a rendered service non-editable to get its dependencies; tests
            # then run each service from its own src/ (PYTHONPATH), so one
            # environment serves every rendering of that library. One pip call
            # with the training extras, so they cannot move a runtime dependency.
            service = bake(self.cookies, ml_library=library)
            self.made[library] = make(
                self.root / library,
                requirements(library, "PREINSTALL"),
                [
                    f"{service}[test]",
                    *requirements(library, "TRAINING"),
                    *CLIENTS,
                ],
            )
        return self.made[library]
