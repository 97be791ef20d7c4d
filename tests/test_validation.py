"""Golden cases, the validate command, chat report, parity, prediction log, metrics."""

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from conftest import LIBRARIES, bake, run, service_env
from prometheus_client.parser import text_string_to_metric_families
from test_serving import example, in_process, trained_service

KINDS = {"equals", "one_of", "approx", "top_k", "rank_of", "matches"}
LIBRARY = "scikit-learn"  # the end-to-end library; the others get the cheap checks
LOG_RATE = 0.5


def validate(python: Path, service: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m <package>.tools.validate ARGS` in the service folder."""
    package = service.name.replace("-", "_")
    return subprocess.run(
        [str(python), "-m", f"{package}.tools.validate", *args],
        cwd=service,
        env={**os.environ, **service_env(service)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


CHECK_RENDERED_CASES = """
import re, sys
from pathlib import Path
from {package}.tools import cases
text = Path("validation/cases.yaml").read_text(encoding="utf-8")
print(len(cases.parse(text)))
# The commented examples, uncommented, are a valid case using every type.
examples = "cases:\\n" + "\\n".join(
    line[1:] for line in text.splitlines() if re.match(r"#\\s{{2}}", line)
)
(case,) = cases.parse(examples)
print(" ".join(sorted({{e.kind for e in case.expectations}})))
"""


@pytest.mark.parametrize("library", LIBRARIES)
def test_rendered_cases_parse_and_show_every_type(cookies, library: str) -> None:
    """cases.yaml has a working case for the example input and every type, commented."""
    service = bake(cookies, ml_library=library)
    script = CHECK_RENDERED_CASES.format(package=service.name.replace("-", "_"))
    output = run([sys.executable, "-c", script], service, **service_env(service))
    count, kinds = output.splitlines()
    assert int(count) >= 1
    assert set(kinds.split()) == KINDS


BAD_FILES = {
    "not YAML": ("cases:\n  - name: a\n    input: {x: [1, 2}\n", ":3:", "a"),
    "unknown type": (
        "cases:\n  - name: first\n    input: {x: 1}\n    expect: []\n"
        "  - name: second\n    input: {x: 1}\n    expect:\n"
        "      - {field: label, equals: a}\n      - {field: label, equal: a}\n",
        ":9:",
        "second",
    ),
    "missing option": (
        "cases:\n  - name: ranked\n    input: {x: 1}\n    expect:\n"
        "      - {field: items, rank_of: doc-1}\n",
        ":5:",
        "ranked",
    ),
    "unknown key": ("cases:\n  - name: typo\n    inputs: {x: 1}\n", ":2:", "typo"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_case_file_gives_one_line_naming_case_and_line(
    cookies, tmp_path: Path, name: str
) -> None:
    """Bad YAML or an unknown expectation: exit 2 and one line with line and case."""
    text, line, case = BAD_FILES[name]
    service = bake(cookies, ml_library="other")
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    done = validate(
        Path(sys.executable), service, "--cases", str(tmp_path / "bad.yaml")
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"bad.yaml{line}" in lines[0], done.stderr
    assert f"case {case!r}" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_service_gives_one_line(cookies) -> None:
    """No service at the URL: exit 2 with one line saying so, no traceback."""
    service = bake(cookies, ml_library="other")
    done = validate(Path(sys.executable), service, "http://127.0.0.1:9")
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot reach http://127.0.0.1:9")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


class ChatReceiver(http.server.BaseHTTPRequestHandler):
    """A chat incoming webhook: keeps every JSON body posted to it."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chat():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ChatReceiver)
    server.posts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def golden_cases(inputs: list[dict], outputs: list[dict]) -> list[dict]:
    """One case per input, cycling through the expectation types."""
    made = []
    for i, (given, answer) in enumerate(zip(inputs, outputs, strict=True)):
        label, scores = answer["label"], answer["probabilities"]
        kinds = [
            {"field": "label", "equals": label},
            {"field": "label", "one_of": [label, "none of these"]},
            {"field": "probabilities", "approx": scores, "tolerance": 1e-6},
            {"field": "probabilities", "top_k": 1, "label": label},
            {"field": "probabilities", "rank_of": label, "at_most": 1},
            {"field": f"probabilities.{label}", "matches": {"ge": 0.3, "le": 1}},
        ]
        made.append(
            {
                "name": f"case-{i:02d}",
                "input": given,
                "latency_ms": 5000,
                "expect": [kinds[i % len(kinds)], kinds[(i + 3) % len(kinds)]],
            }
        )
    return made


@pytest.mark.xdist_group("scikit-learn")  # shares that library's environment
@pytest.mark.slow
def test_validation_against_a_live_service(
    cookies, environments, server_factory, chat, tmp_path: Path
) -> None:
    """50 cases pass against two workers; a wrong one fails by name, in chat too;
    parity holds (and a tampered record fails by field); the log samples."""
    service, python = trained_service(cookies, environments, LIBRARY)
    package = service.name.replace("-", "_")
    recorder = f"import json, sys\nfrom {package}.tools import parity\n"
    recorder += "parity.record(json.load(sys.stdin))"
    parity_inputs = example(LIBRARY).inputs(20, seed=1)
    subprocess.run(
        [str(python), "-c", recorder],
        cwd=service,
        input=json.dumps(parity_inputs),
        text=True,
        check=True,
        env={**os.environ, **service_env(service)},
    )
    inputs = example(LIBRARY).inputs(50, seed=2)
    cases = golden_cases(inputs, in_process(python, service, inputs))
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"cases": cases}), encoding="utf-8")

    server = server_factory(
        python,
        service,
        PREDICTION_LOG_RATE=str(LOG_RATE),
        PREDICTION_LOG_REDACT="probabilities",
        REQUIRE_PARITY="1",  # ready only once the parity canary passes
    )
    server.wait_ready()

    started = time.perf_counter()
    done = validate(
        python, service, server.url, "--cases", str(good),
        "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"),
        "--webhook", f"http://127.0.0.1:{chat.server_port}/hook",
    )  # fmt: skip
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"50 cases against a live service: {seconds:.2f} s (whole command)")
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["passed"], report["failed"]) == (50, 0)
    junit = ET.parse(tmp_path / "r.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("50", "0")
    assert chat.posts[-1]["text"].startswith("✅") and chat.posts[-1]["blocks"]

    wrong = cases[:3] + [
        {
            "name": "setosa-is-not-virginica",
            "input": {"features": [5.1, 3.5, 1.4, 0.2]},
            "expect": [{"field": "label", "equals": "virginica"}],
        }
    ]
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump({"cases": wrong}))
    hook = f"http://127.0.0.1:{chat.server_port}/hook"
    args = (server.url, "--cases", str(tmp_path / "wrong.yaml"), "--webhook", hook)
    done = validate(python, service, *args)
    assert done.returncode == 1, done.stdout + done.stderr
    failing = [line for line in done.stdout.splitlines() if "FAIL" in line]
    assert len(failing) == 1 and failing[0].startswith("setosa-is-not-virginica")
    posted = chat.posts[-1]
    assert posted["text"].startswith("❌") and "3 passed, 1 failed" in posted["text"]
    blocks = json.dumps(posted["blocks"])
    assert "setosa-is-not-virginica" in blocks and server.url in blocks
    assert "expected label equals 'virginica', got setosa" in blocks
    meta = json.loads(server.request("/v1/model")[2])
    assert meta["model_version"] in blocks

    # A chat that cannot be reached is reported; the validation result stands.
    args = (server.url, "--cases", str(tmp_path / "wrong.yaml"), "--webhook")
    done = validate(python, service, *args, "http://127.0.0.1:9/hook")
    assert done.returncode == 1 and "cannot reach the webhook" in done.stderr

    done = validate(python, service, server.url, "--parity")
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((service / "artifacts/parity.json").read_text())
    record["cases"][2]["output"]["probabilities"]["setosa"] += 0.01
    (tmp_path / "tampered.json").write_text(json.dumps(record))
    done = validate(
        python, service, server.url, "--parity", str(tmp_path / "tampered.json")
    )
    assert done.returncode == 1
    assert "parity case 2: field probabilities.setosa: recorded" in done.stdout

    ask = ("--ask", json.dumps({"features": [5.1, 3.5, 1.4, 0.2]}), "--target")
    done = validate(python, service, server.url, *ask, "versicolor")
    assert done.returncode == 0 and "probabilities: rank 2 of 3" in done.stdout

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda x: server.request("/v1/predict", x), inputs * 4))
    for bad in ({"features": [1.0]}, {"instances": [{"features": []}]}):
        assert server.request("/v1/predict", bad)[0] == 422
    time.sleep(0.5)  # each worker writes its counts just after its last response
    metrics = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(server.request("/metrics")[2].decode())
        for s in f.samples
    }
    by_name: dict[str, list] = {}
    for (name, labels), value in metrics.items():
        by_name.setdefault(name, []).append((dict(labels), value))
    ok = next(
        v
        for lab, v in by_name[f"{package}_predictions_total"]
        if lab["outcome"] == "ok"
    )
    labels = by_name[f"{package}_predicted_labels_total"]
    assert sum(v for _, v in labels) == ok  # every prediction, from both workers
    assert {lab["label"] for lab, _ in labels} <= {"setosa", "versicolor", "virginica"}
    assert by_name[f"{package}_predicted_score_count"][0][1] == ok
    invalid = {lab["field"]: v for lab, v in by_name[f"{package}_invalid_inputs_total"]}
    assert invalid == {"features": 2}
    (info,) = [lab for lab, _ in by_name[f"{package}_model_info"]]
    assert info["version"] == meta["model_version"]
    assert meta["artifact_digest"].startswith(info["digest"])

    assert server.stop() == 0, server.output()
    lines = [json.loads(x) for x in server.output(tail=0).splitlines() if x]
    served = [
        x for x in lines if x.get("route") == "/v1/predict" and x["status"] == 200
    ]
    logged = [x for x in lines if x.get("logger") == "service.prediction"]
    share = len(logged) / len(served)
    print(f"prediction log: {len(logged)} of {len(served)} requests ({share:.2f})")
    assert abs(share - LOG_RATE) < 0.15, share  # binomial: about 6 standard deviations
    for line in logged:
        assert {"request_id", "model_version", "latency_ms", "inputs"} <= set(line)
        assert all(o["probabilities"] == "[redacted]" for o in line["outputs"])
        assert "[redacted]" not in json.dumps(line["inputs"])

    # Logged lines become draft cases, which pass when replayed in-process.
    drafts = tmp_path / "drafts.yaml"
    done = validate(python, service, "--draft", server.log.name)
    assert done.returncode == 0, done.stderr
    drafts.write_text(done.stdout)
    assert len(yaml.safe_load(done.stdout)["cases"]) == len(logged)
    done = validate(python, service, "--cases", str(drafts))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.xdist_group("scikit-learn")  # shares that library's environment
@pytest.mark.slow
def test_readiness_requires_a_passing_parity_canary(
    cookies, environments, server_factory
) -> None:
    """With REQUIRE_PARITY=1, a record the model does not reproduce keeps it unready."""
    service, python = trained_service(cookies, environments, LIBRARY)
    package = service.name.replace("-", "_")
    inputs = example(LIBRARY).inputs(5)
    recorder = f"from {package}.tools import parity\nparity.record({inputs!r})"
    run([str(python), "-c", recorder], service, **service_env(service))
    path = service / "artifacts/parity.json"
    record = json.loads(path.read_text())
    record["cases"][1]["output"]["label"] = "no-such-class"
    path.write_text(json.dumps(record))
    server = server_factory(python, service, WORKERS="1", REQUIRE_PARITY="1")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            status, _, body = server.request("/readyz")
        except OSError:
            status, body = 0, b"loading"
        if b"loading" not in body:
            break
        time.sleep(0.2)
    assert status == 503, body
    message = json.loads(body)["error"]["message"]
    assert "parity case 1: field label: recorded 'no-such-class'" in message
    assert server.stop() == 0
    # The generated test of the record fails the same way, naming case and field.
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "parity"],
        cwd=service,
        env={**os.environ, **service_env(service)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    expected = "parity case 1: field label: recorded 'no-such-class'"
    assert expected in done.stdout, done.stdout[-4000:]
