"""Fuzzing the Open Inference Protocol (v2) routes: hypothesis (with the service's
test dependencies) sends valid and broken inference requests to a real service;
no 5xx, every error in v2's {"error": "..."} shape, every 200 as the metadata says.

The v2 routes are not in the OpenAPI document (its JSON Schema cannot say that a
tensor's shape must fit its data), so schemathesis does not reach them: this does.
"""

import json
import re
import subprocess

import pytest

from harness.environments import BY_LIBRARY
from harness.examples import example
from harness.metrics import answers
from harness.models import trained_service

REQUESTS = 1000  # per library, at the least

FUZZ = r"""
import http.client, json, sys
from hypothesis import HealthCheck, given, settings, strategies as st

port, model, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rows = json.load(sys.stdin)
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def send(method, path, body=None):
    connection.request(method, path, body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    return answer.status, answer.read()


metadata = json.loads(send("GET", f"/v2/models/{model}")[1])
TYPES = ["BOOL", "BYTES", "FP16", "FP32", "FP64", "INT8", "INT64", "UINT8", "X"]
scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def tensors(picked):
    found = []
    for spec in metadata["inputs"]:
        column = [row[spec["name"]] for row in picked]
        if spec["datatype"] == "BYTES" and not isinstance(column[0], str):
            column = [json.dumps(v) for v in column]
        width = [len(column[0])] if isinstance(column[0], list) else []
        found.append({**spec, "shape": [len(picked), *width], "data": column})
    return found


@st.composite
def requests(draw):
    if draw(st.integers(0, 9)) == 0:  # any JSON at all
        return json.dumps(draw(values)).encode()
    picked = draw(st.lists(st.sampled_from(rows), min_size=1, max_size=6))
    body = {"inputs": tensors(picked)}
    for _ in range(draw(st.integers(0, 2))):
        if not body["inputs"]:
            break
        tensor = draw(st.sampled_from(body["inputs"]))
        change = draw(st.sampled_from(
            ["datatype", "shape", "name", "element", "data", "drop", "twice", "key"]
        ))
        if change == "datatype":
            tensor["datatype"] = draw(st.sampled_from(TYPES))
        elif change == "shape":
            tensor["shape"] = draw(st.lists(st.integers(-2, 8), max_size=3) | values)
        elif change == "name":
            tensor["name"] = draw(st.text(max_size=8) | values)
        elif change == "element" and tensor["data"]:
            index = draw(st.integers(0, len(tensor["data"]) - 1))
            tensor["data"][index] = draw(values)
        elif change == "data":
            tensor["data"] = draw(values)
        elif change == "drop":
            if tensor in body["inputs"]:
                body["inputs"].remove(tensor)
        elif change == "twice":
            body["inputs"].append(dict(tensor))
        else:
            tensor[draw(st.text(max_size=6))] = draw(values)
    if draw(st.booleans()):
        body["id"] = draw(st.text(max_size=10) | values)
    if draw(st.integers(0, 3)) == 0:
        names = [o["name"] for o in metadata["outputs"]]
        chosen = st.lists(st.sampled_from(names) | st.text(max_size=5), max_size=3)
        body["outputs"] = [{"name": n} for n in draw(chosen)]
    if draw(st.integers(0, 5)) == 0:
        body["parameters"] = draw(values)
    return json.dumps(body).encode()


statuses = {}


@settings(max_examples=count, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(requests(), st.sampled_from(["infer", "infer", "infer", "meta", "ready"]))
def check(body, route):
    path = {"infer": f"/v2/models/{model}/infer", "meta": f"/v2/models/{model}",
            "ready": f"/v2/models/{model}/ready"}[route]
    infer = route == "infer"
    status, raw = send("POST" if infer else "GET", path, body if infer else None)
    statuses[status] = statuses.get(status, 0) + 1
    assert status < 500, (status, raw, body)
    answer = json.loads(raw)
    if status != 200:
        assert list(answer) == ["error"] and isinstance(answer["error"], str), raw
        return
    if route == "infer":
        sent = json.loads(body)
        n = sent["inputs"][0]["shape"][0]
        wanted = [o["name"] for o in sent.get("outputs") or metadata["outputs"]]
        names = [o["name"] for o in answer["outputs"]]
        assert names == list(dict.fromkeys(wanted)), raw
        assert all(o["shape"][0] == n for o in answer["outputs"]), raw
        assert answer.get("id") == sent.get("id"), raw


check()
print(json.dumps({"requests": sum(statuses.values()), "statuses": statuses}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_fuzzed_v2_requests_get_protocol_answers(
    cookies, environments, server_factory, library: str
) -> None:
    """1000+ generated v2 requests (valid rows, wrong datatypes, shapes, names and
    elements, any JSON): no 5xx; errors are {"error": "..."}; 200s fit the request."""
    service, python = trained_service(cookies, environments, library)
    server = server_factory(python, service, MAX_BATCH_SIZE="4")
    server.wait_ready()
    before = answers(server)
    done = subprocess.run(
        [str(python), "-c", FUZZ, str(server.port), server.name, str(REQUESTS)],
        input=json.dumps(example(library).inputs(30)),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-6000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{library}: {report}")
    assert report["requests"] >= REQUESTS
    assert report["statuses"].get("200", 0) >= REQUESTS // 10  # not only errors
    after = answers(server)
    fives = {s: n - before.get(s, 0) for s, n in after.items() if re.match("5", s)}
    assert not [n for n in fives.values() if n], fives
    assert server.stop() == 0, server.output()
