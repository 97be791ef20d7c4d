"""POST /v1/predict: one instance or a batch under "instances"."""

import httpx
import pytest

from {{ cookiecutter.__package_name }}.model import Output
from {{ cookiecutter.__package_name }}.serving.runtime import (
    _not_finite,
    example_input,
)

EXAMPLE = example_input().model_dump(mode="json")


def close(a: object, b: object, rel: float = 1e-5) -> bool:
    """Equal, but floats within a tolerance (float32 batches round differently)."""
    if isinstance(a, float | int) and isinstance(b, float | int):
        return a == pytest.approx(b, rel=rel, abs=1e-7)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(close, a, b))
    return a == b


def test_predict_stub_answers_501(client: httpx.Client) -> None:
    """While predict() is the stub, a valid request gets 501 saying what to write."""
    if client.get("/readyz").status_code == 200:
        pytest.skip("predict() is implemented")
    answer = client.post("/v1/predict", json=EXAMPLE)
    error = answer.json()["error"]
    if error["code"] != "not_implemented":
        pytest.skip(f"the model is not ready: {error['message']}")
    assert answer.status_code == 501
    assert "model.py" in error["message"]


def test_predict_example_fits_output(ready: httpx.Client) -> None:
    """The example input gets one answer that validates against Output."""
    answer = ready.post("/v1/predict", json=EXAMPLE)
    assert answer.status_code == 200, answer.text
    Output.model_validate(answer.json())


def test_predict_batch_answers_each_instance_in_order(ready: httpx.Client) -> None:
    """A batch gets one prediction per instance, equal to the single answers."""
    single = ready.post("/v1/predict", json=EXAMPLE).json()
    answer = ready.post("/v1/predict", json={"instances": [EXAMPLE] * 3})
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == 3
    assert all(close(prediction, single) for prediction in predictions)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ([0.1, 0.2], ""),
        ([1e308, 1e308], ""),  # finite numbers whose sum overflows
        ([0.1, float("nan")], "p.1"),
        ([float("inf"), float("-inf")], "p.0"),
        ([["x", 1.0, float("inf")]], "p.0.2"),
    ],
)
def test_an_answers_nan_or_infinity_is_named(value: list, path: str) -> None:
    """predict() answers are checked for NaN and infinity (JSON has neither)."""
    assert _not_finite({"p": value}) == path
