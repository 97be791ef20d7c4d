"""Liveness, readiness and request ids."""

import httpx

from {{ cookiecutter.__package_name }}.config import MODEL_FILE


def test_healthz_answers_ok(client: httpx.Client) -> None:
    """It answers 200 as soon as the process runs."""
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_readyz_says_why_not_ready(client: httpx.Client) -> None:
    """It answers 200 when ready, else 503 with the reason (the stub: model.py)."""
    answer = client.get("/readyz")
    if answer.status_code == 200:
        assert answer.json()["status"] == "ready"
        return
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["message"]
    if error["code"] == "not_implemented":
        assert MODEL_FILE in error["message"]
        assert "predict()" in error["message"]


def test_request_id_is_made_or_echoed(client: httpx.Client) -> None:
    """Every answer carries X-Request-ID: the caller's, or a new one."""
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) >= 16
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    missing = client.get("/no-such-route")
    assert missing.headers["X-Request-ID"] == missing.json()["error"]["request_id"]
