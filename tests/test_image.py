"""The rendered image, built by a real container engine, serves a real model."""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import BY_LIBRARY, run
from test_serving import close, example, in_process, trained_service

ENGINE = os.environ.get("CONTAINER_ENGINE", "docker")
GRACE = 25  # GRACEFUL_SHUTDOWN_TIMEOUT's default, in seconds
# A bare "torch" from the index is the multi-GB CUDA build: torch images install
# from wheels/ (`make wheels`, with this machine's pip settings and CPU build).
WHEELHOUSE = {"torch"}
# The torch image builds here from wheels/, but copying its ~1 GB environment layer
# took over 10 minutes per build on this shared 2-core machine: opt in to run it.
OPT_IN = {"torch": "IMAGE_TEST_TORCH"}


def engine() -> str:
    """The container engine's CLI, or skip saying why none can be used."""
    path = shutil.which(ENGINE)
    if not path:
        pytest.skip(f"no container engine: {ENGINE} is not installed")
    info = subprocess.run([path, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.skip(f"{ENGINE} cannot reach an engine ({reason}); .ci/run starts one")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, body: object = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def timed(command: list[str], cwd: Path) -> float:
    started = time.monotonic()
    run(command, cwd=cwd, timeout=1500)
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_image_serves_the_trained_model_and_stops_on_sigterm(
    cookies, environments, library: str
) -> None:
    """Build (then again after a code change, reusing the dependency layer), run on
    127.0.0.1: /readyz, predictions equal to in-process ones; SIGTERM stops it with
    exit 0 within the grace period."""
    variable = OPT_IN.get(library)
    if variable and not os.environ.get(variable):
        pytest.skip(f"{library} image: over 10 min to build here; {variable}=1 runs it")
    docker = engine()
    service, python = trained_service(cookies, environments, library)
    image, name = f"modelservice-test-{library}", f"modelservice-test-{library}"
    make = ["make", f"CONTAINER_ENGINE={docker}", f"PYTHON={python}", f"IMAGE={image}"]
    if library in WHEELHOUSE:
        run([*make, "wheels"], cwd=service, timeout=900)
    subprocess.run([docker, "rm", "-f", name], capture_output=True)
    try:
        first = timed([*make, "image", "TAG=test"], service)  # cold on a new machine
        before = json.loads(inspect(docker, f"{image}:test", "{{json .RootFS.Layers}}"))
        model_py = next(service.glob("src/*/model.py"))  # a code change only:
        model_py.write_text(model_py.read_text(encoding="utf-8") + "# edited\n")
        cached = timed([*make, "image", "TAG=test"], service)
        after = json.loads(inspect(docker, f"{image}:test", "{{json .RootFS.Layers}}"))
        # Only the layers from the service code on (code, model files, rules) are
        # new: the dependencies' layer before them is reused.
        assert len(before) == len(after), (before, after)
        changed = [
            i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b
        ]
        assert changed and changed == list(range(changed[0], len(after))), changed
        assert len(changed) <= 3, (before, after)
        size = int(inspect(docker, f"{image}:test", "{{.Size}}")) / 1e6
        print(f"\n{library}: build {first:.0f} s, ", end="")
        print(f"{cached:.1f} s after a code change, {size:.0f} MB", end="")

        port = free_port()
        started = time.monotonic()
        run(
            [docker, "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000"]
            + [f"{image}:test"],
            cwd=service,
        )
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if call(url + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() - started < 180, logs(docker, name)
            time.sleep(0.2)
        print(f", ready {time.monotonic() - started:.1f} s after docker run", end="")

        inputs = example(library).inputs(20)
        expected = in_process(python, service, inputs)
        for instance, want in zip(inputs, expected, strict=True):
            status, body = call(url + "/v1/predict", instance)
            assert status == 200, body
            assert close(json.loads(body), want), (instance, body, want)
        status, body = call(url + "/v1/predict", {"instances": inputs})
        assert status == 200 and close(json.loads(body)["predictions"], expected)

        started = time.monotonic()
        run([docker, "stop", "--time", str(GRACE + 5), name], cwd=service)
        stopped = time.monotonic() - started
        print(f", stopped {stopped:.1f} s after SIGTERM")
        assert stopped < GRACE, logs(docker, name)
        state = inspect(docker, name, "{{.State.ExitCode}} {{.Config.User}}")
        assert state == "0 10001:10001", logs(docker, name)
        lines = [json.loads(x) for x in logs(docker, name).splitlines() if x[:1] == "{"]
        assert sum(x.get("route") == "/v1/predict" for x in lines) == 21
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True)
        subprocess.run([docker, "rmi", f"{image}:test"], capture_output=True)
        subprocess.run([docker, "rmi", f"{image}:0.1.0"], capture_output=True)


def inspect(docker: str, name: str, template: str) -> str:
    done = subprocess.run(
        [docker, "inspect", "--format", template, name], capture_output=True, text=True
    )
    return done.stdout.strip()


def logs(docker: str, name: str) -> str:
    done = subprocess.run([docker, "logs", name], capture_output=True, text=True)
    return done.stdout + done.stderr
