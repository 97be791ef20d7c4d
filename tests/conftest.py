"""Fixtures: the per-library virtual environments, and servers stopped after a test.

What the tests share besides fixtures is the `harness` package at the root.
"""

import pytest

from harness.environments import Environments
from harness.server import Server


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
