"""Real models, trained here, served by a real multi-worker process over HTTP."""

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.commands import run
from harness.environments import BY_LIBRARY
from harness.examples import example
from harness.metrics import in_flight, predict_count
from harness.models import (
    BEHAVIOUR,
    close,
    in_process,
    service_with_predict,
    trained_service,
)
from harness.server import source_env
from harness.template import module
from harness.waiting import wait_until

REQUESTS = 200


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_real_model_is_served_as_trained(
    cookies, environments, server_factory, library: str
) -> None:
    """200 requests over HTTP to two workers answer as the model does in-process."""
    service, python = trained_service(cookies, environments, library)
    run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=service)
    output = run(
        [str(python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=service,
        **source_env(service),
    )
    assert "is not implemented yet" not in output, output  # predict tests ran

    inputs = example(library).inputs(REQUESTS)
    expected = in_process(python, service, inputs)

    server = server_factory(python, service)
    server.wait_ready()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda x: server.request("/v1/predict", x), inputs))
    for instance, (status, headers, body), want in zip(
        inputs, answers, expected, strict=True
    ):
        assert status == 200, body
        assert headers["X-Request-ID"]
        assert close(json.loads(body), want), (instance, body, want)

    # Workers write their counts right after their last response: poll briefly.
    wait_until(lambda: predict_count(server) >= REQUESTS, 10, "200 counted")
    assert predict_count(server) == REQUESTS
    assert server.stop() == 0, server.output()
    lines = [json.loads(line) for line in server.output(tail=0).splitlines() if line]
    logged = [x for x in lines if x.get("route") == "/v1/predict"]
    assert len(logged) == REQUESTS and all(x["status"] == 200 for x in logged)


@pytest.mark.xdist_group("other")  # shares the "other" environment
def test_slow_or_failing_predict_keeps_the_worker_answering(
    cookies, environments, server_factory
) -> None:
    """A slow predict() leaves /healthz answering; a timeout is 504; a bug is 500."""
    service, python = service_with_predict(cookies, environments, BEHAVIOUR)
    # Fast path off: these calls are slow by input, which no estimate foresees.
    server = server_factory(
        python, service, WORKERS="1", PREDICT_TIMEOUT="2", INLINE_PREDICT_MAX_MS="0"
    )
    server.wait_ready()

    slow = threading.Thread(
        target=server.request, args=("/v1/predict", {"text": "sleep 1.5"})
    )
    slow.start()
    wait_until(lambda: in_flight(server) >= 1, 10, "the slow request in flight")
    assert server.request("/healthz")[0] == 200
    assert slow.is_alive(), "healthz waited for the slow predict()"
    slow.join()

    status, _, body = server.request("/v1/predict", {"text": "sleep 2.6"})
    assert status == 504 and json.loads(body)["error"]["code"] == "predict_timeout"
    status, _, body = server.request("/v1/predict", {"text": "boom"})
    assert status == 500 and b"secret" not in body and b"Traceback" not in body
    batch = {"instances": [{"text": "fine"}, {"text": "boom"}]}
    assert server.request("/v1/predict", batch)[0] == 500
    assert server.request("/v1/predict", {"text": "fine"})[0] == 200
    assert server.stop() == 0, server.output()


@pytest.mark.xdist_group("other")  # shares that library's environment
def test_full_queue_answers_503_and_a_bad_instance_fails_alone(
    cookies, environments, server_factory
) -> None:
    """Past MAX_QUEUE a request gets 503 + Retry-After at once; in a batch that
    fails, only the request with the bad instance gets 500."""
    service, python = service_with_predict(cookies, environments, BEHAVIOUR)
    # Fast path off: the busy call is slow by input, which no estimate foresees.
    server = server_factory(
        python, service, WORKERS="1", MAX_QUEUE="6", INLINE_PREDICT_MAX_MS="0"
    )
    server.wait_ready()

    def send(text: str) -> tuple[int, dict, bytes]:
        return server.request("/v1/predict", {"text": text})

    with ThreadPoolExecutor(8) as pool:
        busy = pool.submit(send, "sleep 2")  # holds the predict thread
        wait_until(lambda: in_flight(server) >= 1, 10, "the busy request in flight")
        queued = [pool.submit(send, t) for t in ["fine"] * 5 + ["boom"]]
        # six requests wait: the queue is full
        wait_until(lambda: in_flight(server) >= 7, 10, "seven requests in flight")
        status, headers, body = send("fine")
        assert status == 503, body
        assert headers["Retry-After"] and b'"overloaded"' in body
        assert busy.result()[0] == 200
        statuses = [future.result()[0] for future in queued]
    assert statuses == [200] * 5 + [500]  # the six ran as one batch, then alone
    assert server.stop() == 0, server.output()


@pytest.mark.xdist_group("other")  # shares that library's environment
def test_generated_load_test_reports_and_fails_on_missed_budget(
    cookies, environments, server_factory
) -> None:
    """`python -m <package>.loadtest` prints one row per level; exit 1 on a miss."""
    service, python = trained_service(cookies, environments, "other")
    server = server_factory(python, service, WORKERS="1")
    server.wait_ready()
    command = [str(python), "-m", module(service, "loadtest")]
    command += [server.url, "--seconds", "0.5", "--concurrency", "1,4"]
    output = run(command, service, **source_env(service))
    rows = [line.split() for line in output.splitlines()[2:]]
    assert [(row[0], row[-1]) for row in rows] == [("1", "ok"), ("4", "ok")], output
    missed = subprocess.run(
        command,
        cwd=service,
        env={**os.environ, **source_env(service), "LOADTEST_P99_MS": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert missed.returncode == 1 and "MISSED" in missed.stdout, missed.stdout
    assert server.stop() == 0, server.output()
