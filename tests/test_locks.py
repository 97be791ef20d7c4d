"""Every rendering installs exact, hash-checked versions from its locks; a change
to pyproject.toml without `make lock` fails the lock check; Dependabot's files are
valid."""

import subprocess
import sys
from pathlib import Path

import pytest

from harness.commands import run
from harness.environments import BY_LIBRARY, LOCKS, pinned, pins
from harness.render import bake
from harness.template import COMBINATIONS, ROOT, combination_id, package
from harness.tools import tool
from harness.venvs import LISTING, distributions


def lock_check(service: Path) -> subprocess.CompletedProcess:
    """`make lock-check` with this Python (it has packaging), the service from src/."""
    command = ["make", "lock-check", f"BIN={Path(sys.executable).parent}"]
    env = {"PYTHONPATH": str(service / "src"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, cwd=service, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("context", COMBINATIONS, ids=combination_id)
def test_each_rendering_ships_hashed_locks_that_match_pyproject(
    cookies, context
) -> None:
    """requirements.txt and requirements-dev.txt are the template's locks for the
    library and Python version, every pin has a hash, and the lock check passes."""
    service = bake(cookies, **context)
    library = context.get("ml_library", "scikit-learn")
    folder = ROOT / "templates/libraries" / library / "locks"
    folder /= f"py{context.get('python_version', '3.11')}"
    for name in LOCKS:
        text = (service / name).read_text(encoding="utf-8")
        assert text == (folder / name).read_text(encoding="utf-8"), name
        assert pins(service / name), name
        blocks = [x for x in text.split("\n") if x and x[0] not in "# "]
        assert all(x.endswith(" \\") for x in blocks), name  # a hash line follows
    done = lock_check(service)
    assert done.returncode == 0, done.stdout + done.stderr


def test_lock_check_fails_when_pyproject_changes_without_make_lock(cookies) -> None:
    """A new dependency, and a raised lower bound, each named with the fix."""
    service = bake(cookies, ml_library="scikit-learn")
    pyproject = service / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = text.replace("dependencies = [\n", 'dependencies = [\n    "pandas>=2",\n')
    text = text.replace('"sanic>=25.3,', '"sanic>=99,')
    pyproject.write_text(text, encoding="utf-8")
    done = lock_check(service)
    assert done.returncode != 0
    assert "pyproject.toml and the locks disagree (run `make lock`)" in done.stderr
    assert "pandas>=2 is not in requirements.txt" in done.stderr
    assert "sanic<26,>=99 but requirements.txt has 25." in done.stderr


def test_dependabot_files_validate_against_their_schema(cookies) -> None:
    """The rendered service's and the template's own, with SchemaStore's schema."""
    service = bake(cookies)
    files = [service / ".github/dependabot.yml", ROOT / ".github/dependabot.yml"]
    check = [tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot"]
    assert "ok" in run([*check, *files])


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_environment_holds_exactly_the_locked_versions(
    cookies, environments, library: str
) -> None:
    """The test environment was installed from the locks (no resolver run), and the
    training extras and clients installed after did not move a pin."""
    service = bake(cookies, ml_library=library)
    python = environments.python(library)
    installed = distributions(run([python, "-c", LISTING]))
    for name in LOCKS:
        for dist, version in pinned(service / name).items():
            assert installed.get(dist) == version, (name, dist, version)
    if library == "torch":  # installed first, without a hash
        assert installed["torch"].split("+")[0] == "2.13.0"


@pytest.mark.slow
@pytest.mark.xdist_group("scikit-learn")
def test_make_lock_adds_a_dependency_and_keeps_the_other_pins(
    cookies, environments
) -> None:
    """After a new line in pyproject.toml, `make lock` (uv, the indexes of pip's
    configuration) locks it with hashes; every earlier pin stays; the check passes."""
    service = bake(cookies, ml_library="scikit-learn")
    before = set(pins(service / "requirements.txt"))
    pyproject = service / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = text.replace("dependencies = [\n", 'dependencies = [\n    "tabulate",\n')
    pyproject.write_text(text, encoding="utf-8")
    python = environments.python("scikit-learn")
    module = f"{package(service)}.tools.lock"
    run([python, "-m", module], cwd=service, PYTHONPATH=str(service / "src"))
    after = set(pins(service / "requirements.txt"))
    assert before < after and any(x.startswith("tabulate==") for x in after)
    run([python, "-m", module, "--check"], cwd=service, PYTHONPATH=str(service / "src"))
