"""The tests' virtual environments: one per library, made once per run and shared."""

import os
from pathlib import Path

import pytest

from harness.examples import requirements
from harness.render import bake
from harness.template import LIBRARIES
from harness.venvs import make, normalized

# One group per library: with `-n 2 --dist loadgroup` a library's tests (and so its
# virtual environment) stay on one xdist worker; without xdist the mark does nothing.
BY_LIBRARY = [pytest.param(x, marks=pytest.mark.xdist_group(x)) for x in LIBRARIES]
# What tests need beside each service: a real Open Inference Protocol (v2) client,
# a local S3-compatible server (moto), and the service's `storage` extra for
# ARTIFACTS_URI (named here: pip backtracks for minutes over the extra with moto).
CLIENTS = ["tritonclient[http]", "moto[server]", "s3fs", "fsspec"]
# `scripts/test.py --newest` sets it: the newest versions pyproject.toml's ranges
# allow, resolved afresh, instead of the locks (upstream breakage before users).
NEWEST = os.environ.get("MODELSERVICE_NEWEST") == "1"
LOCKS = ("requirements.txt", "requirements-dev.txt")


def locked(service: Path) -> list[object]:
    """pip arguments installing a rendered service's locks as `make install` does:
    hash-checked, no resolver run."""
    files = [part for name in LOCKS for part in ("-r", service / name)]
    return ["--no-deps", "--require-hashes", *files]


def pins(lock: Path) -> list[str]:
    """The name==version lines of a lock, without hashes (pip takes no hashes in a
    constraints file unless every requirement has them)."""
    lines = lock.read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines if "==" in line and line[0] not in "# "]


def pinned(lock: Path) -> dict[str, str]:
    """{normalised name: version} of a lock."""
    return dict((normalized(x.split("==")[0]), x.split("==")[1]) for x in pins(lock))


class Environments:
    """One virtual environment per library, made on first use."""

    def __init__(self, root: Path, cookies) -> None:
        self.root, self.cookies, self.made = root, cookies, {}

    def python(self, library: str) -> Path:
        if library not in self.made:
            # Install a rendered service non-editable to get its dependencies; tests
            # then run each service from its own src/ (PYTHONPATH), so one
            # environment serves every rendering of that library. The training
            # extras and clients come after, held to the locked versions.
            service = bake(self.cookies, ml_library=library)
            extras = [*requirements(library, "TRAINING"), *CLIENTS]
            folder = self.root / library
            folder.mkdir(parents=True)
            if NEWEST:  # one resolution of everything
                groups = [[f"{service}[test]", *extras]]
            else:
                constraints = folder / "constraints.txt"
                text = "\n".join(pins(service / LOCKS[0])) + "\n"
                constraints.write_text(text, encoding="utf-8")
                groups = [locked(service), ["--no-deps", service]]
                groups.append(["--constraint", constraints, *extras])
            preinstall = requirements(library, "PREINSTALL")
            self.made[library] = make(folder, preinstall, *groups)
        return self.made[library]
