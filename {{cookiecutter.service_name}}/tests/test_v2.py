"""The Open Inference Protocol (v2) routes, as KServe, Triton and MLServer clients
call them: metadata from Input and Output, infer as /v1/predict answers."""

import json

import httpx
from pydantic import BaseModel

from {{ cookiecutter.__package_name }}.config import SERVICE_NAME
from {{ cookiecutter.__package_name }}.model import Input
from {{ cookiecutter.__package_name }}.serving.runtime import example_input

MODEL = f"/v2/models/{SERVICE_NAME}"


def example_tensors(client: httpx.Client) -> list[dict]:
    """The example input as one tensor per field, as the metadata describes them."""
    example = example_input().model_dump(mode="json")
    tensors = []
    for spec in client.get(MODEL).json()["inputs"]:
        value = example[spec["name"]]
        if spec["datatype"] == "BYTES" and not isinstance(value, str):
            value = json.dumps(value)  # dicts, nested models ...: JSON text
        shape = [1, len(value)] if isinstance(value, list) else [1]
        data = value if isinstance(value, list) else [value]
        tensors.append({**spec, "shape": shape, "data": data})
    return tensors


def test_v2_metadata_has_a_tensor_per_field(
    client: httpx.Client, answer_model: type[BaseModel]
) -> None:
    """The model metadata names one input per Input field, one output per answer
    field, each with a datatype and a shape whose first dimension is the batch."""
    assert client.get("/v2").json()["name"] == SERVICE_NAME
    answer = client.get(MODEL)
    assert answer.status_code == 200, answer.text
    metadata = answer.json()
    assert [t["name"] for t in metadata["inputs"]] == list(Input.model_fields)
    assert [t["name"] for t in metadata["outputs"]] == list(answer_model.model_fields)
    for tensor in metadata["inputs"] + metadata["outputs"]:
        assert tensor["datatype"] and tensor["shape"][0] == -1, tensor


def test_v2_infer_answers_as_v1_predict(client: httpx.Client) -> None:
    """The example as tensors gets what /v1/predict gives it: 200 with one output
    tensor per field, or, while predict() is the stub, 501 as {"error": "..."}."""
    v1 = client.post("/v1/predict", json=example_input().model_dump(mode="json"))
    answer = client.post(
        f"{MODEL}/infer", json={"id": "r-1", "inputs": example_tensors(client)}
    )
    assert answer.status_code == v1.status_code, answer.text
    if v1.status_code == 501:
        assert list(answer.json()) == ["error"]
        assert answer.json()["error"] == v1.json()["error"]["message"]
        return
    assert v1.status_code == 200, v1.text
    body = answer.json()
    assert body["id"] == "r-1"
    assert [t["name"] for t in body["outputs"]] == list(v1.json())


def test_v2_infer_wrong_datatype_answers_400(client: httpx.Client) -> None:
    """A tensor whose datatype does not fit its field gets 400 naming the input."""
    first, *others = example_tensors(client)
    wrong = "BOOL" if first["datatype"] == "BYTES" else "BYTES"
    answer = client.post(
        f"{MODEL}/infer", json={"inputs": [{**first, "datatype": wrong}, *others]}
    )
    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]
    assert first["name"] in message and "datatype" in message
