"""Real models, trained here, served by a real multi-worker process over HTTP."""

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import BY_LIBRARY, EXAMPLES, bake, example, run, service_env
from fill import fill, replace_block
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

REQUESTS = 200
REL_TOLERANCE = 1e-5  # a row scored in a batch may differ in its last float32 bits
IN_PROCESS = """
import json, sys
from pathlib import Path
from {package}.model import Input, Model
model = Model()
model.load(Path("artifacts"))
inputs = [Input.model_validate(x) for x in json.load(sys.stdin)]
print(json.dumps([o.model_dump(mode="json") for o in model.predict(inputs)]))
"""


def close(a: object, b: object) -> bool:
    """Equal, with floats compared within REL_TOLERANCE."""
    if isinstance(a, float | int) and isinstance(b, float | int):
        return a == pytest.approx(b, rel=REL_TOLERANCE, abs=1e-7)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(close, a, b))
    return a == b


class Server:
    """`python -m <package>` of a rendered service, on a free port of 127.0.0.1."""

    def __init__(self, python: Path, service: Path, **env: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # Named by port: several servers can run from one service folder.
        self.log = (service / f"server-{self.port}.log").open("w+", encoding="utf-8")
        self.metrics = service / f"metrics-{self.port}"  # the workers' shared files
        settings = {"HOST": "127.0.0.1", "PORT": str(self.port), "WORKERS": "2", **env}
        settings["METRICS_DIR"] = str(self.metrics)
        self.workers = int(settings["WORKERS"])
        health = settings.get("API_TOKEN_HEALTH") == "1"  # /readyz needs the token
        self.health_token = settings.get("API_TOKEN", "") if health else ""
        self.process = subprocess.Popen(
            [str(python), "-m", service.name.replace("-", "_")],
            cwd=service,
            env={**os.environ, **service_env(service), **settings},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() reaches workers
        )

    def request(
        self,
        path: str,
        body: object = None,
        token: str = "",
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> tuple[int, dict, bytes]:
        """One request; body: JSON-able, or bytes sent as they are."""
        data = body if body is None or isinstance(body, bytes) else json.dumps(body)
        data = data.encode() if isinstance(data, str) else data
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def send_raw(self, data: bytes) -> bytes:
        """Send bytes as they are (a request cut short, say); return all the server
        answers until it closes the connection (TimeoutError after 15 s)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=15) as sock:
            sock.sendall(data)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        return answer

    def ready_workers(self) -> int:
        """Workers whose model_ready gauge is 1, read from their metrics files.

        /readyz answers for whichever worker takes the connection, so a run of 200s
        can all come from one worker while the other is still loading.
        """
        ready = 0
        for path in self.metrics.glob("gauge_livemin_*.db"):
            try:
                values = MmapedDict.read_all_values_from_file(str(path))
            except (OSError, ValueError, struct.error):  # being made or removed
                continue
            for key, value, *_ in values:
                ready += json.loads(key)[1].endswith("_model_ready") and value == 1
        return ready

    def wait_ready(self) -> None:
        """Every worker has loaded and warmed up its model, and /readyz says so."""
        deadline = time.monotonic() + 180
        while (
            self.ready_workers() < self.workers
            or self.request("/readyz", token=self.health_token)[0] != 200
        ):
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, f"not ready in time:\n{self.output()}"
            time.sleep(0.1)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the main process and its workers (they outlive it otherwise)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def output(self, tail: int = 6000) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8")[-tail:]


def in_process(python: Path, service: Path, inputs: list[dict]) -> list[dict]:
    """What the model answers for these inputs in-process, without the service."""
    script = IN_PROCESS.format(package=service.name.replace("-", "_"))
    done = subprocess.run(
        [str(python), "-c", script],
        cwd=service,
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **service_env(service)},
    )
    return json.loads(done.stdout)


def service_with_predict(cookies, environments, body: str) -> tuple[Path, Path]:
    """An `other` service whose predict() is `body` (no artifacts needed)."""
    service = bake(cookies, ml_library="other")
    model_py = next(service.glob("src/*/model.py"))
    filled = replace_block(
        model_py.read_text(encoding="utf-8"), "prediction code", body
    )
    model_py.write_text(filled, encoding="utf-8")
    return service, environments.python("other")


def answers(server: Server, route: str | None = None) -> dict[str, float]:
    """Answers by status (of one route, or of all), as /metrics sums them over the
    workers."""
    counts: dict[str, float] = {}
    families = text_string_to_metric_families(server.request("/metrics")[2].decode())
    for family in families:
        if not family.name.endswith("_http_requests"):
            continue
        for sample in family.samples:
            wanted = route is None or sample.labels["route"] == route
            if wanted and sample.name.endswith("_total"):
                status = sample.labels["status"]
                counts[status] = counts.get(status, 0) + sample.value
    return counts


def predict_count(server: Server) -> float:
    """The 200 answers of /v1/predict, as /metrics sums them over the workers."""
    return answers(server, "/v1/predict").get("200", 0)


def trained_service(cookies, environments, library: str) -> tuple[Path, Path]:
    """Render, train the example model into artifacts/, and fill in predict()."""
    service = bake(cookies, ml_library=library)
    python = environments.python(library)
    run(
        [str(python), str(EXAMPLES / library / "example.py"), "train", "artifacts"],
        service,
    )
    fill(library, service)
    return service, python


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
        **service_env(service),
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
    deadline = time.monotonic() + 10
    while (counted := predict_count(server)) < REQUESTS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert counted == REQUESTS
    assert server.stop() == 0, server.output()
    lines = [json.loads(line) for line in server.output(tail=0).splitlines() if line]
    logged = [x for x in lines if x.get("route") == "/v1/predict"]
    assert len(logged) == REQUESTS and all(x["status"] == 200 for x in logged)


BEHAVIOUR = """
import time

outputs = []
for item in inputs:
    if item.text == "boom":
        raise ValueError("a bug in predict, with a secret path /srv/secret")
    if item.text.startswith("sleep"):
        time.sleep(float(item.text.split()[1]))
    outputs.append(Output(label="ok", score=1.0))
return outputs
"""


@pytest.mark.xdist_group("other")  # shares the "other" environment
def test_slow_or_failing_predict_keeps_the_worker_answering(
    cookies, environments, server_factory
) -> None:
    """A slow predict() leaves /healthz answering; a timeout is 504; a bug is 500."""
    service, python = service_with_predict(cookies, environments, BEHAVIOUR)
    server = server_factory(python, service, WORKERS="1", PREDICT_TIMEOUT="2")
    server.wait_ready()

    slow = threading.Thread(
        target=server.request, args=("/v1/predict", {"text": "sleep 1.5"})
    )
    slow.start()
    time.sleep(0.3)  # the slow request is inside predict() now
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
    server = server_factory(python, service, WORKERS="1", MAX_QUEUE="6")
    server.wait_ready()

    def send(text: str) -> tuple[int, dict, bytes]:
        return server.request("/v1/predict", {"text": text})

    with ThreadPoolExecutor(8) as pool:
        busy = pool.submit(send, "sleep 2")  # holds the predict thread
        time.sleep(0.5)
        queued = [pool.submit(send, t) for t in ["fine"] * 5 + ["boom"]]
        time.sleep(0.8)  # six requests wait: the queue is full
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
    """The load test (tools/loadtest.py) prints one row per level; exit 1 on a miss."""
    service, python = trained_service(cookies, environments, "other")
    server = server_factory(python, service, WORKERS="1")
    server.wait_ready()
    command = [str(python), "-m", f"{service.name.replace('-', '_')}.tools.loadtest"]
    command += [server.url, "--seconds", "0.5", "--concurrency", "1,4"]
    output = run(command, service, **service_env(service))
    rows = [line.split() for line in output.splitlines()[2:]]
    assert [(row[0], row[-1]) for row in rows] == [("1", "ok"), ("4", "ok")], output
    missed = subprocess.run(
        command,
        cwd=service,
        env={**os.environ, **service_env(service), "LOADTEST_P99_MS": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert missed.returncode == 1 and "MISSED" in missed.stdout, missed.stdout
    assert server.stop() == 0, server.output()
