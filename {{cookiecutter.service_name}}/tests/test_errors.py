"""Every failure answers with the JSON error envelope and the right status."""

import httpx


def assert_envelope(answer: httpx.Response, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == answer.headers["X-Request-ID"]
    assert "Traceback" not in answer.text
    return error


def test_malformed_json_answers_400(client: httpx.Client) -> None:
    """A body that is not JSON gets 400."""
    answer = client.post("/v1/predict", content=b'{"features": [1,', headers=JSON)
    assert_envelope(answer, 400, "malformed_json")


def test_schema_violation_answers_422_with_field_paths(client: httpx.Client) -> None:
    """Instances that do not fit Input get 422 naming each bad field."""
    answer = client.post("/v1/predict", json={"instances": [42, "x"]})
    error = assert_envelope(answer, 422, "invalid_input")
    assert [d["field"] for d in error["details"]] == ["instances.0", "instances.1"]


def test_empty_batch_answers_422(client: httpx.Client) -> None:
    """An empty list of instances is refused."""
    answer = client.post("/v1/predict", json={"instances": []})
    assert_envelope(answer, 422, "invalid_input")


def test_body_too_large_answers_413(client: httpx.Client) -> None:
    """A body over MAX_BODY_BYTES is refused before it is parsed."""
    answer = client.post("/v1/predict", content=b" " * 2_000_000, headers=JSON)
    assert_envelope(answer, 413, "body_too_large")


def test_unknown_route_answers_404(client: httpx.Client) -> None:
    assert_envelope(client.get("/v2/nothing"), 404, "not_found")


JSON = {"Content-Type": "application/json"}
