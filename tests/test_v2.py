"""The Open Inference Protocol (v2) routes of a real 2-worker service, called with
a real v2 client (tritonclient), answering as /v1/predict does."""

import json
import subprocess

import pytest

from harness.environments import BY_LIBRARY
from harness.examples import example
from harness.metrics import answers, samples
from harness.models import close, trained_service
from harness.waiting import wait_until

INFER = "/v2/models/<name:str>/infer"
# Run with the service's Python, where tritonclient is installed: metadata,
# readiness, then each batch of rows as tensors built from the metadata.
CLIENT = """
import json, sys
import numpy as np
import tritonclient.http as v2

url, model, batches = sys.argv[1], sys.argv[2], json.load(sys.stdin)
client = v2.InferenceServerClient(url)
assert client.is_server_live() and client.is_server_ready()
assert client.is_model_ready(model)
metadata = client.get_model_metadata(model)
kinds = {"BYTES": object, "BOOL": bool, "FP64": np.float64, "INT64": np.int64}
found = []
for rows in batches:
    tensors = []
    for spec in metadata["inputs"]:
        values = [row[spec["name"]] for row in rows]
        if spec["datatype"] == "BYTES" and not isinstance(values[0], str):
            values = [json.dumps(value) for value in values]
        array = np.array(values, dtype=kinds[spec["datatype"]])
        tensor = v2.InferInput(spec["name"], list(array.shape), spec["datatype"])
        tensor.set_data_from_numpy(array, binary_data=False)
        tensors.append(tensor)
    wanted = [v2.InferRequestedOutput(o["name"], binary_data=False)
              for o in metadata["outputs"]]
    result = client.infer(model, tensors, outputs=wanted, request_id="r-1")
    assert result.get_response()["id"] == "r-1"
    columns = {}
    for spec in metadata["outputs"]:
        array = result.as_numpy(spec["name"])
        assert array.shape[0] == len(rows), (spec, array.shape)
        columns[spec["name"]] = [
            value.decode() if isinstance(value, bytes) else value
            for value in array.tolist()
        ]
    found += [dict(zip(columns, row)) for row in zip(*columns.values())]
print(json.dumps({"metadata": metadata, "answers": found}))
"""


@pytest.fixture(scope="module")
def served(cookies_session, environments, tmp_path_factory):
    """One trained, running 2-worker service per library, made on first use."""
    from harness.server import Server

    running: dict[str, tuple] = {}

    def get(library: str):
        if library not in running:
            service, python = trained_service(cookies_session, environments, library)
            server = Server(python, service, MAX_BATCH_SIZE="4")
            running[library] = (server.__enter__(), python)
        return running[library]

    yield get
    for server, _ in running.values():
        server.__exit__()


def _decoded(answer: dict, want: dict) -> dict:
    """BYTES outputs that hold JSON (dicts, lists of text) as their values."""
    return {
        key: json.loads(value)
        if isinstance(value, str) and not isinstance(want.get(key), str)
        else value
        for key, value in answer.items()
    }


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_v2_client_infers_what_v1_answers(served, library: str) -> None:
    """tritonclient reads the metadata, sees the model ready and infers single rows
    and batches (over MAX_BATCH_SIZE) equal to /v1/predict's answers."""
    server, python = served(library)
    rows = example(library).inputs(12)
    batches = [rows[:1], rows[1:2], rows[2:12]]
    status, _, body = server.request("/v1/predict", {"instances": rows})
    assert status == 200, body
    expected = json.loads(body)["predictions"]
    before = answers(server, INFER).get("200", 0)

    done = subprocess.run(
        [str(python), "-c", CLIENT, server.url.removeprefix("http://"), server.name],
        input=json.dumps(batches),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)
    names = [t["name"] for t in result["metadata"]["inputs"]]
    assert sorted(names) == sorted(rows[0])
    assert len(result["answers"]) == len(rows)
    for got, want in zip(result["answers"], expected, strict=True):
        assert close(_decoded(got, want), want), (got, want)
    wait_until(
        lambda: answers(server, INFER).get("200", 0) - before >= len(batches),
        10,
        "v2 requests counted in /metrics",
    )


def _infer(server, body: object) -> tuple[int, str]:
    status, headers, raw = server.request(f"/v2/models/{server.name}/infer", body)
    payload = json.loads(raw)
    assert headers["X-Request-ID"]
    assert status == 200 or list(payload) == ["error"], payload
    return status, payload.get("error", "")


def _tensors(server, rows: list[dict]) -> list[dict]:
    """Rows as JSON tensors, one per input of the model's metadata."""
    metadata = json.loads(server.request(f"/v2/models/{server.name}")[2])
    tensors = []
    for spec in metadata["inputs"]:
        values = [row[spec["name"]] for row in rows]
        width = [len(values[0])] if isinstance(values[0], list) else []
        tensors.append({**spec, "shape": [len(rows), *width], "data": values})
    return tensors


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_invalid_tensors_get_400_with_a_clear_message(served, library: str) -> None:
    """A wrong datatype, a wrong shape, an unknown input and too few values get 400
    and v2's {"error": "..."} naming the problem."""
    server, _ = served(library)
    good, *others = _tensors(server, example(library).inputs(1))
    status, message = _infer(server, {"inputs": [good, *others]})
    assert status == 200, message
    wrong = "BOOL" if good["datatype"] == "BYTES" else "BYTES"
    cases = {
        "datatype": {**good, "datatype": wrong},
        "shape": {**good, "shape": [1, *good["shape"]]},
        "unknown input": {**good, "name": "no_such_input"},
        "values": {**good, "data": good["data"] * 2},
    }
    for expected, tensor in cases.items():
        status, message = _infer(server, {"inputs": [tensor, *others]})
        assert status == 400 and expected in message, (expected, message)


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_metrics_count_v2_predictions_like_v1(served, library: str) -> None:
    """/metrics counts v2 instances in the same predictions counter as v1 ones."""
    server, _ = served(library)

    def predicted() -> float:
        return sum(
            value
            for name, values in samples(server).items()
            if name.endswith("_predictions_total")
            for labels, value in values
            if labels["outcome"] == "ok"
        )

    before = predicted()
    status, message = _infer(
        server, {"inputs": _tensors(server, example(library).inputs(3))}
    )
    assert status == 200, message
    wait_until(lambda: predicted() - before >= 3, 10, "3 v2 instances counted")
