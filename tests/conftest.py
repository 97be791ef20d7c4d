"""Shared fixtures: render the template, and one virtual environment per library."""

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
EXAMPLES = TEMPLATE_DIR / "examples"
sys.path.insert(0, str(EXAMPLES))  # examples/fill.py, imported by the tests
# local_extensions.py (cookiecutter.json's `_extensions`): cookiecutter and cruft put
# the template on sys.path while rendering, but pytest-cookies renders the answers
# once more by itself, before calling cookiecutter.
sys.path.append(str(TEMPLATE_DIR))
CHOICES = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
LIBRARIES: list[str] = CHOICES["ml_library"]

from fill import example  # noqa: E402


def requirements(library: str, kind: str) -> list[str]:
    """What examples/<library>/example.py asks the test environment for.

    PREINSTALL: installed first, alone (torch pinned to its CPU build, so pip never
    resolves a bare torch); TRAINING: what train() needs beyond the service's own
    dependencies (a data set, an exporter), kept out of the rendered pyproject.toml.
    """
    return list(getattr(example(library), kind, []))


# One group per library: with `-n 2 --dist loadgroup` a library's tests (and so its
# virtual environment) stay on one xdist worker; without xdist the mark does nothing.
BY_LIBRARY = [pytest.param(x, marks=pytest.mark.xdist_group(x)) for x in LIBRARIES]


def bake(cookies, **context: object) -> Path:
    """Render the template with these answers; return the service folder."""
    result = cookies.bake(extra_context=context)
    assert result.exit_code == 0, result.exception
    return Path(result.project_path)


def run(command: list[str], cwd: Path, timeout: float = 600, **env: str) -> str:
    """Run a command; fail the test with its output when it fails."""
    done = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{output[-6000:]}"
    return output


class Environments:
    """One virtual environment per library, made once per test run and shared."""

    def __init__(self, root: Path, cookies) -> None:
        self.root, self.cookies, self.made = root, cookies, {}

    def python(self, library: str) -> Path:
        if library not in self.made:
            folder = self.root / library
            venv.EnvBuilder(with_pip=True).create(folder)
            python = folder / "bin" / "python"
            pip = [str(python), "-m", "pip", "install", "-q"]
            if preinstall := requirements(library, "PREINSTALL"):
                run([*pip, *preinstall], cwd=folder, timeout=1200)
            # Install a rendered service non-editable to get its dependencies; tests
            # then run each service from its own src/ (PYTHONPATH), so one
            # environment serves every rendering of that library. One pip call
            # with the training extras, so they cannot move a runtime dependency.
            service = bake(self.cookies, ml_library=library)
            training = requirements(library, "TRAINING")
            run([*pip, f"{service}[test]", *training], cwd=folder, timeout=1200)
            self.made[library] = python
        return self.made[library]


@pytest.fixture(scope="session")
def environments(
    tmp_path_factory: pytest.TempPathFactory, cookies_session
) -> Environments:
    return Environments(tmp_path_factory.mktemp("venvs"), cookies_session)


def service_env(service: Path) -> dict[str, str]:
    """Environment to run a rendered service from its own source folder."""
    return {"PYTHONPATH": str(service / "src")}


@pytest.fixture
def server_factory():
    """Start rendered services as real server processes; kill leftovers after."""
    from test_serving import Server

    servers: list[Server] = []

    def start(*args: object, **env: str) -> Server:
        servers.append(Server(*args, **env))
        return servers[-1]

    yield start
    for server in servers:
        server.kill()
        server.log.close()
