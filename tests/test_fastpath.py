"""The fast path: a fast model's lone requests run predict() inline on the event
loop; a slow model's never do, so the worker keeps answering probes."""

import json
import socket
import threading
import time

import pytest

from harness.metrics import predict_calls
from harness.models import BEHAVIOUR, service_with_predict
from harness.server import read_to_end
from harness.waiting import wait_until

SLOW = """
import time

time.sleep(0.05)  # every call, the warm-up too: 50 ms
return [Output(label="ok", score=1.0) for _ in inputs]
"""


def calls_settle(server, total: int) -> dict[str, float]:
    """predict() calls by path, once /metrics counts `total` of them."""

    def counted() -> dict[str, float] | None:
        calls = predict_calls(server)
        return calls if sum(calls.values()) >= total else None

    return wait_until(counted, 10, lambda: f"{total} calls: {predict_calls(server)}")


@pytest.mark.xdist_group("other")  # shares that library's environment
def test_fast_model_runs_inline_until_a_call_is_slow(
    cookies, environments, server_factory
) -> None:
    """Lone requests to a fast model run inline; after one slow call they go to
    the predict thread at once."""
    service, python = service_with_predict(cookies, environments, BEHAVIOUR)
    # 20 ms: well above a busy machine's hiccups, well below the slow call's 50 ms
    server = server_factory(python, service, WORKERS="1", INLINE_PREDICT_MAX_MS="20")
    server.wait_ready()

    for _ in range(5):
        assert server.request("/v1/predict", {"text": "fine"})[0] == 200
    assert calls_settle(server, 5) == {"inline": 5}

    assert server.request("/v1/predict", {"text": "sleep 0.05"})[0] == 200
    for _ in range(5):
        assert server.request("/v1/predict", {"text": "fine"})[0] == 200
    assert calls_settle(server, 11) == {"inline": 6, "batched": 5}
    assert server.stop() == 0, server.output()


@pytest.mark.xdist_group("other")  # shares that library's environment
def test_slow_model_never_runs_inline_and_probes_stay_prompt(
    cookies, environments, server_factory
) -> None:
    """A model that takes 50 ms a call runs in the predict thread: /healthz
    answers within 100 ms while it predicts."""
    service, python = service_with_predict(cookies, environments, SLOW)
    server = server_factory(python, service, WORKERS="1")
    server.wait_ready()
    stop = threading.Event()

    def keep_predicting() -> None:
        while not stop.is_set():
            assert server.request("/v1/predict", {"text": "x"})[0] == 200

    caller = threading.Thread(target=keep_predicting)
    caller.start()
    try:
        probes = []
        for _ in range(20):
            started = time.perf_counter()
            assert server.request("/healthz")[0] == 200
            probes.append(time.perf_counter() - started)
    finally:
        stop.set()
        caller.join()
    assert max(probes) < 0.1, probes  # a correctness bound on the loop, not speed
    calls = calls_settle(server, 1)
    assert calls.get("inline", 0) == 0 and calls["batched"] >= 1, calls
    assert server.stop() == 0, server.output()


@pytest.mark.xdist_group("other")  # shares that library's environment
def test_requests_arriving_together_still_batch(
    cookies, environments, server_factory
) -> None:
    """The fast path steps aside under load: requests that reach a busy worker
    together share predict() calls in the thread (fewer calls than requests)."""
    service, python = service_with_predict(cookies, environments, BEHAVIOUR)
    server = server_factory(python, service, WORKERS="1", INLINE_PREDICT_MAX_MS="50")
    server.wait_ready()
    # 16 connections made first; then a 40 ms call (still fast: inline) holds the
    # loop while the other 15 requests are sent, all at once.
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(16)]
    try:
        sockets[0].sendall(predict_request("sleep 0.04"))
        time.sleep(0.005)
        for connection in sockets[1:]:
            connection.sendall(predict_request("fine"))
        statuses = [status_of(connection) for connection in sockets]
    finally:
        for connection in sockets:
            connection.close()
    assert statuses == [200] * 16
    calls = calls_settle(server, 1)  # (/metrics writes its worker's counts first)
    assert calls.get("batched", 0) >= 1 and sum(calls.values()) < 16, calls
    assert server.stop() == 0, server.output()


def predict_request(text: str) -> bytes:
    body = json.dumps({"text": text}).encode()
    head = "POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def status_of(connection: socket.socket) -> int:
    """The status of the answer on this connection (read to its end)."""
    connection.settimeout(60)
    return int(read_to_end(connection).split(b" ", 2)[1])
