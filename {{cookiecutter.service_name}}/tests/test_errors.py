"""Every failure answers with the JSON error envelope and the right status."""

import json

import httpx
import pytest

from {{ cookiecutter.__package_name }}.serving.runtime import example_input
from {{ cookiecutter.__package_name }}.serving.settings import Settings

EXAMPLE = example_input().model_dump(mode="json")
TOO_MANY = Settings().max_instances + 1
HOSTILE = {  # bodies other services send by mistake, or attackers on purpose
    "not JSON": b"features=1&label=2",
    "not UTF-8": b"\xff\xfe\x00",
    "empty": b"",
    "null": b"null",
    "a list": b"[]",
    "a string": b'"text"',
    "NaN": b'{"instances": [NaN]}',
    "Infinity": b'{"instances": [-Infinity]}',
    "a number too big for a double": b'{"instances": [1e999]}',
    "an integer of 400 digits": b'{"instances": [1' + b"0" * 400 + b"]}",
    "arrays nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "instances nested 500 deep": b'{"instances": ' + b"[" * 500 + b"]" * 500 + b"}",
    "empty instances": b'{"instances": []}',
    "instances not a list": b'{"instances": {}}',
    "instances of null": b'{"instances": [null]}',
    "more instances than MAX_INSTANCES": json.dumps(
        {"instances": [EXAMPLE] * TOO_MANY}
    ).encode(),
    "the example with a key beside instances": json.dumps(
        {"instances": [EXAMPLE], "extra": 1}
    ).encode(),
    "the example with every value of another type": json.dumps(
        {k: 12345 if isinstance(v, str) else str(v) for k, v in EXAMPLE.items()}
    ).encode(),
    "the example with every value null": json.dumps(dict.fromkeys(EXAMPLE)).encode(),
}


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
    # JSON's words, though valid bodies are validated from the decoded payload
    assert error["details"][0]["message"] == "Input should be an object"


def test_empty_batch_answers_422(client: httpx.Client) -> None:
    """An empty list of instances is refused."""
    answer = client.post("/v1/predict", json={"instances": []})
    assert_envelope(answer, 422, "invalid_input")


def test_body_too_large_answers_413(client: httpx.Client) -> None:
    """A body over MAX_BODY_BYTES is refused before it is parsed."""
    answer = client.post("/v1/predict", content=b" " * 2_000_000, headers=JSON)
    assert_envelope(answer, 413, "body_too_large")


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_bodies_answer_4xx_with_the_envelope(
    client: httpx.Client, name: str
) -> None:
    """Malformed, huge, nested or wrong-shaped bodies: 400 or 422, never a 5xx."""
    answer = client.post("/v1/predict", content=HOSTILE[name], headers=JSON)
    assert answer.status_code in (400, 422), answer.text
    code = "malformed_json" if answer.status_code == 400 else "invalid_input"
    assert_envelope(answer, answer.status_code, code)
    assert client.get("/healthz").status_code == 200


def test_unknown_route_answers_404(client: httpx.Client) -> None:
    assert_envelope(client.get("/v9/nothing"), 404, "not_found")


JSON = {"Content-Type": "application/json"}
