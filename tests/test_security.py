"""Security defaults: nothing internal in error answers, tokens, CORS off by default."""

import json
import os
import shutil
import subprocess

import pytest

from harness.commands import run
from harness.examples import write_block
from harness.models import BEHAVIOUR, service_with_predict
from harness.server import source_env
from harness.template import package
from harness.waiting import wait_until

TOKEN = "s3cret-token-value"
BROKEN_LOAD = """
open("/srv/secret-models/model.bin")  # fails: a path that must stay in the log
"""
VERSIONS = """
import platform, pydantic, sanic
print(platform.python_version(), pydantic.VERSION, sanic.__version__)
"""


def not_ready_answer(server) -> tuple[int, dict, bytes]:
    """/readyz once loading has ended (in failure)."""

    def answer() -> tuple[int, dict, bytes] | None:
        found = server.request("/readyz")
        return None if b"loading" in found[2] else found

    return wait_until(answer, 60, server.output, every=0.1)


@pytest.mark.xdist_group("other")  # shares that library's environment
def test_error_answers_hold_no_trace_path_or_version(
    cookies, environments, server_factory
) -> None:
    """Every kind of error answer, headers and body: no stack trace, no file path,
    no library or Python version (the log has the details)."""
    service, python = service_with_predict(cookies, environments, BEHAVIOUR)
    settings = {"API_TOKEN": TOKEN, "PREDICT_TIMEOUT": "1", "REQUEST_TIMEOUT": "1"}
    settings["INLINE_PREDICT_MAX_MS"] = "0"  # a call slow by input would run inline
    server = server_factory(python, service, WORKERS="1", **settings)
    broken = shutil.copytree(service, service.parent / "broken" / service.name)
    write_block(broken, "loading code", BROKEN_LOAD)
    not_ready = server_factory(python, broken, WORKERS="1")
    server.wait_ready()

    answers = {
        400: server.request("/v1/predict", b"{not json", token=TOKEN),
        401: server.request("/v1/predict", {"text": "hi"}),
        404: server.request("/v2/nothing"),
        405: server.request("/healthz", {"text": "hi"}),
        422: server.request("/v1/predict", {"text": 12}, token=TOKEN),
        500: server.request("/v1/predict", {"text": "boom"}, token=TOKEN),
        503: not_ready_answer(not_ready),
        504: server.request("/v1/predict", {"text": "sleep 1.5"}, token=TOKEN),
    }
    texts = {}
    for expected, (status, headers, body) in answers.items():
        assert status == expected, body
        assert "Server" not in headers and "server" not in headers
        texts[status] = json.dumps(headers) + body.decode()
    head = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n"
    head += f"Authorization: Bearer {TOKEN}\r\n\r\n{{{{"
    texts[413] = server.send_raw(head.format(99_999_999).encode()).decode()
    texts[408] = server.send_raw(head.format(50).encode()).decode()  # then stalls
    assert texts[413].startswith("HTTP/1.1 413 ") and '"body_too_large"' in texts[413]
    assert texts[408].startswith("HTTP/1.1 408 ") and '"request_timeout"' in texts[408]

    secrets = ["Traceback", 'File "', '.py"', "secret", "site-packages", "/srv/"]
    secrets += [
        str(service.parent),
        *run([str(python), "-c", VERSIONS], service).split(),
    ]
    for status, text in texts.items():
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, f"the {status} answer shows {leaked}: {text}"
    assert "secret-models" in not_ready.output()  # the whole error is in the log
    assert TOKEN not in server.output(0)
    assert server.stop() == 0 and not_ready.stop() == 0


@pytest.mark.xdist_group("other")  # shares that library's environment
def test_api_token_guards_what_the_settings_say(
    cookies, environments, server_factory
) -> None:
    """API_TOKEN: /v1/, /v2/models/ and the OpenAPI document need it; /metrics and
    health (v2's too) only when API_TOKEN_METRICS / API_TOKEN_HEALTH say so; v2's
    server metadata (/v2) never. The token is never logged."""
    service, python = service_with_predict(cookies, environments, BEHAVIOUR)
    default = server_factory(python, service, API_TOKEN=TOKEN, WORKERS="1")
    strict = server_factory(
        python, service, API_TOKEN=TOKEN, API_TOKEN_METRICS="1", API_TOKEN_HEALTH="1"
    )
    default.wait_ready()
    body = {"text": "hello"}
    model = f"/v2/models/{service.name}"
    tensor = {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hello"]}
    for path, data in [
        ("/v1/predict", body),
        ("/v1/model", None),
        ("/openapi.json", None),
        (model, None),
        (f"{model}/ready", None),
        (f"{model}/infer", {"inputs": [tensor]}),
    ]:
        assert default.request(path, data)[0] == 401
        assert default.request(path, data, token="wrong" + TOKEN)[0] == 401
        assert default.request(path, data, token=TOKEN)[0] == 200
    health = ("/healthz", "/readyz", "/v2/health/live", "/v2/health/ready")
    for path in (*health, "/metrics", "/v2"):
        assert default.request(path)[0] == 200
    strict.wait_ready()
    for path in (*health, "/metrics"):
        assert strict.request(path)[0] == 401
        assert strict.request(path, token=TOKEN)[0] == 200
    assert strict.request("/v2")[0] == 200
    assert strict.request("/v1/predict", body, token=TOKEN)[0] == 200
    assert default.stop() == 0 and strict.stop() == 0
    assert TOKEN not in default.output(0) + strict.output(0)


@pytest.mark.xdist_group("other")  # shares that library's environment
def test_cors_is_off_unless_origins_are_configured(
    cookies, environments, server_factory
) -> None:
    """No CORS header by default; CORS_ORIGINS allows just those origins (answering
    their preflights); a malformed origin stops the start with one line."""
    service, python = service_with_predict(cookies, environments, BEHAVIOUR)
    off = server_factory(python, service, WORKERS="1")
    allowed = "https://app.example"
    on = server_factory(python, service, WORKERS="1", CORS_ORIGINS=allowed)
    off.wait_ready()
    on.wait_ready()
    body = {"text": "hello"}

    def cors(server, method: str, origin: str) -> tuple[int, dict]:
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        status, answer, _ = server.request(
            "/v1/predict", body, headers=headers, method=method
        )
        return status, {
            k.lower(): v
            for k, v in answer.items()
            if k.lower().startswith("access-control")
        }

    assert cors(off, "POST", allowed) == (200, {})
    assert cors(off, "OPTIONS", allowed)[0] == 405
    status, headers = cors(on, "OPTIONS", allowed)
    assert status == 204 and headers["access-control-allow-origin"] == allowed
    assert headers["access-control-allow-methods"] == "POST"
    assert "Authorization" in headers["access-control-allow-headers"]
    status, headers = cors(on, "POST", allowed)
    assert status == 200 and headers["access-control-allow-origin"] == allowed
    assert "X-Request-ID" in headers["access-control-expose-headers"]
    assert cors(on, "OPTIONS", "https://evil.example") == (403, {})
    assert cors(on, "POST", "https://evil.example") == (
        200,
        {},
    )  # the browser blocks it
    assert off.stop() == 0 and on.stop() == 0

    bad = subprocess.run(
        [str(python), "-m", package(service)],
        cwd=service,
        env={**os.environ, **source_env(service), "CORS_ORIGINS": "app.example"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "error: CORS_ORIGINS: 'app.example' is not an origin like https://app.example"
    ]
