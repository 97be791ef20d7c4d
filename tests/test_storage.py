"""ARTIFACTS_URI: model files fetched at start from a local S3-compatible server
(moto, as a real process) and a local HTTP server, pinned, and tried again."""

import contextlib
import json
import os
import subprocess
import sys

import pytest

from harness.environments import BY_LIBRARY
from harness.examples import example
from harness.models import close, in_process, trained_service
from harness.server import free_port, source_env
from harness.template import package
from harness.waiting import wait_until

S3 = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
UPLOAD = """
import sys, pathlib, boto3
endpoint, folder = sys.argv[1], pathlib.Path(sys.argv[2])
s3 = boto3.client("s3", endpoint_url=endpoint)
s3.create_bucket(Bucket="models")
for path in folder.rglob("*"):
    if path.is_file():
        s3.upload_file(str(path), "models", f"v1/{path.relative_to(folder)}")
"""


@contextlib.contextmanager
def process(command: list[str], port: int, cwd=None):
    """A server process listening on 127.0.0.1:port; stopped after."""
    server = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until(lambda: _listening(port), 30, f"nothing listens on {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.kill()
        server.wait()


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_server(folder, port: int):
    command = [sys.executable, "-m", "http.server", "-b", "127.0.0.1", str(port)]
    return process(command, port, cwd=folder)


def digest(python, service) -> str:
    """The artifact digest of the service's own artifacts/ (what /v1/model shows)."""
    code = (
        f"from pathlib import Path; from {package(service)}.serving.runtime import"
        " artifact_digest; print(artifact_digest(Path('artifacts')))"
    )
    done = subprocess.run(
        [str(python), "-c", code],
        cwd=service,
        env={**os.environ, **source_env(service)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def model_files(service):
    """The files the example's training wrote (artifacts/ less its README and the
    training reference)."""
    kept = ("README.md", "reference.json")
    return [p for p in (service / "artifacts").iterdir() if p.name not in kept]


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_model_files_load_from_s3(
    cookies, environments, server_factory, library: str
) -> None:
    """From s3:// on a local S3-compatible server, into an empty ARTIFACTS_DIR:
    the right files load (digest pinned) and answer as the model in-process."""
    service, python = trained_service(cookies, environments, library)
    port = free_port()
    moto = [str(python), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with process(moto, port) as endpoint:
        env = {**S3, "AWS_ENDPOINT_URL": endpoint}
        upload = [str(python), "-c", UPLOAD, endpoint, str(service / "artifacts")]
        subprocess.run(upload, env={**os.environ, **env}, check=True)
        server = server_factory(
            python,
            service,
            ARTIFACTS_URI="s3://models/v1/",
            ARTIFACTS_DIR=str(service / "fetched"),
            ARTIFACTS_SHA256=digest(python, service),
            **env,
        )
        server.wait_ready()
    fetched = sorted(p.name for p in (service / "fetched").iterdir())
    assert [x for x in fetched if not x.startswith(".")] == sorted(
        p.name for p in (service / "artifacts").iterdir()
    )
    inputs = example(library).inputs(5)
    for instance, want in zip(inputs, in_process(python, service, inputs), strict=True):
        status, _, body = server.request("/v1/predict", instance)
        assert status == 200 and close(json.loads(body), want), (body, want)
    log = server.output(tail=0)
    assert log.count("fetched the model files from s3://models/v1/") == 1, log
    assert server.stop() == 0


@contextlib.contextmanager
def fetching_over_http(service, python, server_factory, **settings: str):
    """(the model file's name, a server) started with ARTIFACTS_URI naming its one
    model file on a local HTTP server, fetched into service/fetched, while that
    HTTP server runs."""
    (name,) = [p.name for p in model_files(service)]
    with http_server(service / "artifacts", free_port()) as url:
        uri = f"{url}/{name}"
        fetched = str(service / "fetched")
        settings |= {"ARTIFACTS_URI": uri, "ARTIFACTS_DIR": fetched}
        yield name, server_factory(python, service, **settings)


@pytest.mark.slow
@pytest.mark.xdist_group("other")
def test_model_file_loads_over_http(cookies, environments, server_factory) -> None:
    """One file from an https-like URL (a local HTTP server) loads and answers."""
    service, python = trained_service(cookies, environments, "other")
    with fetching_over_http(service, python, server_factory) as (name, server):
        server.wait_ready()
    assert (service / "fetched" / name).read_bytes() == (
        service / "artifacts" / name
    ).read_bytes()
    status, _, body = server.request("/v1/predict", {"text": "I love it"})
    assert status == 200 and json.loads(body)["label"] == "positive", body
    assert server.stop() == 0


@pytest.mark.slow
@pytest.mark.xdist_group("other")
def test_wrong_pin_keeps_the_service_unready_with_one_line(
    cookies, environments, server_factory
) -> None:
    """Files that do not match ARTIFACTS_SHA256: /readyz says so, the log has one
    line (from two workers), and the files are not used."""
    service, python = trained_service(cookies, environments, "other")
    pin = {"ARTIFACTS_SHA256": "0" * 64}
    with fetching_over_http(service, python, server_factory, **pin) as (name, server):
        said: list[str] = []

        def both_workers_refuse() -> bool:
            try:
                status, _, body = server.request("/readyz")
            except OSError:  # not listening yet
                return False
            said.append(body.decode())
            return status == 503 and all("ARTIFACTS_SHA256" in x for x in said[-8:])

        wait_until(
            lambda: both_workers_refuse() and len(said) >= 8, 60, lambda: said[-1]
        )
    message = json.loads(said[-1])["error"]["message"]
    assert "do not match ARTIFACTS_SHA256: pinned 000" in message
    log = server.output(tail=0)
    assert log.count("do not match ARTIFACTS_SHA256") == 1, log
    assert not (service / "fetched" / name).exists()
    status, _, _ = server.request("/v1/predict", {"text": "I love it"})
    assert status == 503


@pytest.mark.slow
@pytest.mark.xdist_group("other")
def test_unreachable_store_is_tried_again_with_backoff(
    cookies, environments, server_factory
) -> None:
    """Nothing listens at the URL: /readyz says what it waits for, the log shows
    growing pauses; once the store answers, the service becomes ready."""
    service, python = trained_service(cookies, environments, "other")
    (name,) = [p.name for p in model_files(service)]
    port = free_port()
    server = server_factory(
        python,
        service,
        ARTIFACTS_URI=f"http://127.0.0.1:{port}/{name}",
        ARTIFACTS_DIR=str(service / "fetched"),
    )
    wait_until(
        lambda: "trying again in 2 s" in server.output(tail=0),
        60,
        lambda: server.output(),
    )

    def says_why() -> bool:  # the other worker waits for this one: it says so
        status, _, body = server.request("/readyz")
        assert status == 503, body
        return b"could not fetch the model files" in body

    wait_until(says_why, 30, "/readyz never said why")
    log = server.output(tail=0)
    assert log.index("trying again in 0.5 s") < log.index("trying again in 1 s")
    with http_server(service / "artifacts", port):
        server.wait_ready(timeout=60)
    assert server.stop() == 0
