"""Fixtures: the per-library virtual environments, and servers stopped after a test.

What the tests share besides fixtures is the `harness` package at the root.
"""

import pytest

from harness.containers import engine, sweep
from harness.environments import Environments
from harness.server import Server


def pytest_runtest_setup(item: pytest.Item) -> None:
    """With `--dist loadgroup`, a test marked xdist_group fails at once when the
    mark did not take effect. It fails silently otherwise (pytest 9.2 with
    pytest-xdist 3.8, pytest-xdist issue 1386): a library's tests then run on both
    workers at once and race over its environment and its images."""
    grouping = getattr(item.config.option, "loadgroup", False)
    if grouping and item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
        pytest.fail(
            f"its xdist_group mark is ignored by pytest {pytest.__version__} with"
            " this pytest-xdist: keep pytest within the range in pyproject.toml",
            pytrace=False,
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Once every test is done (on the xdist controller): the images tests built,
    intermediate ones included (see harness.containers.sweep)."""
    if hasattr(session.config, "workerinput"):
        return
    try:
        docker = engine()
    except LookupError:
        return
    sweep(docker)


@pytest.fixture(scope="session")
def environments(
    tmp_path_factory: pytest.TempPathFactory, cookies_session
) -> Environments:
    return Environments(tmp_path_factory.mktemp("venvs"), cookies_session)


@pytest.fixture
def server_factory():
    """Start rendered services as real server processes; kill leftovers after."""
    servers: list[Server] = []

    def start(*args: object, **env: str) -> Server:
        servers.append(Server(*args, **env))
        return servers[-1]

    yield start
    for server in servers:
        server.kill()
        server.log.close()
