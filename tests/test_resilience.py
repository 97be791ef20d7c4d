"""Faults met in production: dead workers, SIGTERM under load, bad artifacts,
slow clients."""

import json
import os
import re
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.metrics import answers, in_flight
from harness.models import service_with_predict, trained_service
from harness.waiting import wait_until

SLOW = """
import time

time.sleep(0.3)  # a slow model: each batch takes 0.3 s
return [Output(label="ok", score=float(len(item.text))) for item in inputs]
"""


def slow_service(cookies, environments) -> tuple[Path, Path]:
    return service_with_predict(cookies, environments, SLOW)


def worker_pids(server) -> list[int]:
    return [int(p) for p in re.findall(r"Starting worker \[(\d+)\]", server.output(0))]


@pytest.mark.xdist_group("scikit-learn")  # shares that library's environment
def test_killed_worker_is_replaced(cookies, environments, server_factory) -> None:
    """A worker killed with SIGKILL is restarted; the service keeps answering."""
    service, python = trained_service(cookies, environments, "scikit-learn")
    server = server_factory(python, service)
    server.wait_ready()
    first = worker_pids(server)
    assert len(first) == 2
    os.kill(first[0], signal.SIGKILL)
    wait_until(lambda: len(worker_pids(server)) >= 3, 60, server.output)
    assert "died (-9); restarting" in server.output(0)
    server.wait_ready()
    body = {"features": [5.1, 3.5, 1.4, 0.2]}
    assert all(server.request("/v1/predict", body)[0] == 200 for _ in range(40))
    assert server.stop() == 0, server.output()


@pytest.mark.xdist_group("other")  # shares that library's environment
def test_sigterm_under_load_finishes_every_accepted_request(
    cookies, environments, server_factory
) -> None:
    """SIGTERM while requests are in flight: each one is answered, then exit 0."""
    service, python = slow_service(cookies, environments)
    server = server_factory(python, service, MAX_BATCH_SIZE="2")
    server.wait_ready()
    statuses: list[int] = []

    def call(i: int) -> None:
        statuses.append(server.request("/v1/predict", {"text": "x" * (i + 1)})[0])

    def accepted() -> bool:
        """Every request is queued or inside predict(), or answered already."""
        done = answers(server, "/v1/predict").get("200", 0)
        return in_flight(server) + done >= 24

    threads = [threading.Thread(target=call, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    wait_until(accepted, 30, server.output)
    server.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 24
    assert server.process.wait(timeout=60) == 0, server.output()


@pytest.mark.xdist_group("scikit-learn")  # shares that library's environment
def test_broken_artifact_keeps_process_up_and_not_ready(
    cookies, environments, server_factory
) -> None:
    """A corrupt model file: /healthz 200, /readyz 503 with the reason, one log line."""
    service, python = trained_service(cookies, environments, "scikit-learn")
    (service / "artifacts" / "model.joblib").write_bytes(b"not a pickle")
    server = server_factory(python, service)

    def reported() -> bool:  # by every worker: /readyz may reach either
        return server.output(0).count("model load failed") >= server.workers

    wait_until(reported, 60, server.output)
    assert server.request("/healthz")[0] == 200
    status, _, body = server.request("/readyz")
    error = json.loads(body)["error"]
    assert status == 503 and error["code"] == "not_ready"
    assert error["message"].startswith("load() failed: ")
    assert str(service) not in error["message"]  # no local paths in answers
    status, _, body = server.request("/v1/predict", {"features": [1, 2, 3, 4]})
    assert status == 503 and json.loads(body)["error"]["code"] == "not_ready"
    assert server.stop() == 0


@pytest.mark.xdist_group("other")  # shares that library's environment
def test_slow_and_idle_clients_are_cut_off(
    cookies, environments, server_factory
) -> None:
    """A client that goes quiet is cut off after REQUEST_TIMEOUT (408) whether it
    stalls in the headers or in the body; an idle keep-alive connection is closed
    after KEEP_ALIVE_TIMEOUT; meanwhile other clients are served."""
    service, python = slow_service(cookies, environments)
    timeouts = {"REQUEST_TIMEOUT": "1", "KEEP_ALIVE_TIMEOUT": "1"}
    server = server_factory(python, service, WORKERS="1", **timeouts)
    server.wait_ready()
    head = b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n"
    stalls = {
        "silent": b"",
        "in the headers": head,
        "in the body": head + b'\r\n{"text": ',
        "idle after an answer": b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    }
    with ThreadPoolExecutor(len(stalls)) as pool:
        answers = pool.map(server.send_raw, stalls.values())
        cut = dict(zip(stalls, answers, strict=True))
        assert server.request("/v1/predict", {"text": "served"})[0] == 200
    assert cut["silent"] == b""
    for stall in ("in the headers", "in the body"):
        assert cut[stall].startswith(b"HTTP/1.1 408 "), cut[stall]
        assert b'"code":"request_timeout"' in cut[stall]
    assert cut["idle after an answer"].startswith(b"HTTP/1.1 200 ")
    assert server.stop() == 0, server.output()
