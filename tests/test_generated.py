"""Each rendered service is lint-clean and its own tests pass as rendered."""

import sys

import pytest

from harness.commands import run
from harness.environments import BY_LIBRARY
from harness.render import bake
from harness.server import source_env
from harness.template import LIBRARIES, LONG_NAME


@pytest.mark.parametrize("library", LIBRARIES)
def test_rendered_service_is_lint_clean(cookies, library: str) -> None:
    """ruff check and ruff format --check pass, with the service's own settings."""
    service = bake(cookies, ml_library=library, service_name=LONG_NAME)
    run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=service)
    run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
        cwd=service,
    )


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_generated_tests_pass_as_rendered(cookies, environments, library: str) -> None:
    """Before predict() is written, the service's tests pass; predict tests skip."""
    service = bake(cookies, ml_library=library)
    python = environments.python(library)
    output = run(
        [str(python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=service,
        **source_env(service),
    )
    assert "passed" in output
    assert "is not implemented yet" in output  # the skip reason names model.py
