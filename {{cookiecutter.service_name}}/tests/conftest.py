"""Run the service as a real server process (two workers) for the tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.__package_name }}.config import MODEL_FILE, PACKAGE_NAME
from {{ cookiecutter.__package_name }}.model import Output
from {{ cookiecutter.__package_name }}.serving import rules
from {{ cookiecutter.__package_name }}.serving.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_loaded(client: httpx.Client, process: subprocess.Popen) -> None:
    """Wait until every worker has finished loading (ready or not, with a reason)."""
    deadline, settled = time.monotonic() + 120, 0
    while settled < 10:
        assert process.poll() is None, "the service exited during start"
        assert time.monotonic() < deadline, "the model did not finish loading in 120 s"
        try:
            answer = client.get("/readyz")
            loading = answer.status_code == 503 and "loading" in answer.text
        except httpx.TransportError:
            loading = True
        settled = 0 if loading else settled + 1
        time.sleep(0.05 if settled else 0.2)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running service; SIGTERM must stop it with exit code 0."""
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "2"}
    log = (tmp_path_factory.mktemp("service") / "service.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", PACKAGE_NAME], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_until_loaded(client, process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        log.seek(0)
        output = log.read()
        log.close()
        assert code == 0, f"exit code {code} on SIGTERM:\n{output[-4000:]}"


@pytest.fixture
def client(service: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service, timeout=30) as client:
        yield client


@pytest.fixture
def ready(client: httpx.Client) -> httpx.Client:
    """A client of a ready service; skips while predict() is still the stub."""
    answer = client.get("/readyz")
    if (
        answer.status_code == 503
        and answer.json()["error"]["code"] == "not_implemented"
    ):
        pytest.skip(f"predict() in {MODEL_FILE} is not implemented yet")
    assert answer.status_code == 200, answer.text
    return client


@pytest.fixture(scope="session")
def answer_model() -> type[Output]:
    """What each answer is: Output, plus `reasons` when rules.yaml has rules."""
    path = ROOT / Settings.from_env().rules_file
    return rules.load(path).answer if path.is_file() else Output
