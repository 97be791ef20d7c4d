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
from types import SimpleNamespace

import pytest
import yaml

from harness.commands import run
from harness.examples import example
from harness.metrics import answers, predict_count, samples
from harness.models import in_process, record_training, trained_service, validate
from harness.render import bake
from harness.server import Server, source_env
from harness.template import LIBRARIES, module, package
from harness.waiting import wait_until

KINDS = {"equals", "one_of", "approx", "top_k", "rank_of", "matches"}
LIBRARY = "scikit-learn"  # the end-to-end library; the others get the cheap checks
LOG_RATE = 0.5


CHECK_RENDERED_CASES = """
import re, sys
from pathlib import Path
import {cases} as cases
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
    script = CHECK_RENDERED_CASES.format(cases=module(service, "cases"))
    output = run([sys.executable, "-c", script], service, **source_env(service))
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


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
def live(cookies_session, environments, chat, tmp_path_factory):
    """A trained scikit-learn service with a parity record and 50 golden cases of
    its answers, served by two workers (a sampled, redacted prediction log; ready
    only once the parity canary passes); the tests below only talk to it, but for
    test_metrics_add_up_across_workers's requests. Stopped with exit 0 at the end."""
    service, python = trained_service(cookies_session, environments, LIBRARY)
    record_training(python, service, "parity", example(LIBRARY).inputs(20, seed=1))
    inputs = example(LIBRARY).inputs(50, seed=2)
    cases = golden_cases(inputs, in_process(python, service, inputs))
    folder = tmp_path_factory.mktemp("validation")
    (folder / "good.yaml").write_text(yaml.safe_dump({"cases": cases}), "utf-8")
    wrong = cases[:3] + [
        {
            "name": "setosa-is-not-virginica",
            "input": {"features": [5.1, 3.5, 1.4, 0.2]},
            "expect": [{"field": "label", "equals": "virginica"}],
        }
    ]
    (folder / "wrong.yaml").write_text(yaml.safe_dump({"cases": wrong}), "utf-8")
    server = Server(
        python,
        service,
        PREDICTION_LOG_RATE=str(LOG_RATE),
        PREDICTION_LOG_REDACT="probabilities",
        REQUIRE_PARITY="1",  # ready only once the parity canary passes
    )
    try:
        server.wait_ready()
        hook = f"http://127.0.0.1:{chat.server_port}/hook"
        yield SimpleNamespace(
            service=service, python=python, server=server, inputs=inputs,
            folder=folder, hook=hook,
        )  # fmt: skip
        assert server.stop() == 0, server.output()
    finally:
        server.kill()
        server.log.close()


def validate_live(live, *args: str) -> subprocess.CompletedProcess:
    """The validate command against the live service."""
    return validate(live.python, live.service, live.server.url, *args)


LIVE = [
    pytest.mark.xdist_group("scikit-learn"),  # shares that library's environment
    pytest.mark.slow,
]


class TestAgainstALiveService:
    """The validate command and the metrics, against one live two-worker service."""

    pytestmark = LIVE

    def test_golden_cases_pass_with_reports(self, live, chat) -> None:
        """50 golden cases pass: JSON and JUnit reports written, a ✅ summary posted."""
        started = time.perf_counter()
        done = validate_live(
            live, "--cases", str(live.folder / "good.yaml"),
            "--json", str(live.folder / "r.json"),
            "--junit", str(live.folder / "r.xml"), "--webhook", live.hook,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        assert done.returncode == 0, done.stdout + done.stderr
        print(f"50 cases against a live service: {seconds:.2f} s (whole command)")
        report = json.loads((live.folder / "r.json").read_text())
        assert (report["passed"], report["failed"]) == (50, 0)
        junit = ET.parse(live.folder / "r.xml").getroot()
        assert (junit.get("tests"), junit.get("failures")) == ("50", "0")
        assert chat.posts[-1]["text"].startswith("✅") and chat.posts[-1]["blocks"]

    def test_wrong_case_fails_by_name_in_chat_too(self, live, chat) -> None:
        """A wrong case exits 1 naming it alone; the ❌ chat post names it, the URL,
        what was expected and the model version."""
        wrong = str(live.folder / "wrong.yaml")
        done = validate_live(live, "--cases", wrong, "--webhook", live.hook)
        assert done.returncode == 1, done.stdout + done.stderr
        failing = [line for line in done.stdout.splitlines() if "FAIL" in line]
        assert len(failing) == 1 and failing[0].startswith("setosa-is-not-virginica")
        posted = chat.posts[-1]
        assert posted["text"].startswith("❌")
        assert "3 passed, 1 failed" in posted["text"]
        blocks = json.dumps(posted["blocks"])
        assert "setosa-is-not-virginica" in blocks and live.server.url in blocks
        assert "expected label equals 'virginica', got setosa" in blocks
        meta = json.loads(live.server.request("/v1/model")[2])
        assert meta["model_version"] in blocks

    def test_unreachable_chat_is_reported_and_the_result_stands(self, live) -> None:
        """A chat that cannot be reached is reported; the validation result stands."""
        wrong = str(live.folder / "wrong.yaml")
        done = validate_live(live, "--cases", wrong, "--webhook", "http://127.0.0.1:9/")
        assert done.returncode == 1 and "cannot reach the webhook" in done.stderr

    def test_parity_record_passes(self, live) -> None:
        """The parity record made from the trained model passes against the service."""
        done = validate_live(live, "--parity")
        assert done.returncode == 0, done.stdout + done.stderr

    def test_tampered_parity_record_fails_naming_the_field(self, live) -> None:
        """A parity record with one output changed fails, naming case and field."""
        record = json.loads((live.service / "artifacts/parity.json").read_text())
        record["cases"][2]["output"]["probabilities"]["setosa"] += 0.01
        (live.folder / "tampered.json").write_text(json.dumps(record))
        done = validate_live(live, "--parity", str(live.folder / "tampered.json"))
        assert done.returncode == 1
        assert "parity case 2: field probabilities.setosa: recorded" in done.stdout

    def test_ask_finds_a_labels_rank(self, live) -> None:
        """--ask with --target prints the rank of that label in the answer."""
        ask = ("--ask", json.dumps({"features": [5.1, 3.5, 1.4, 0.2]}), "--target")
        done = validate_live(live, *ask, "versicolor")
        assert done.returncode == 0 and "probabilities: rank 2 of 3" in done.stdout

    def test_metrics_add_up_across_workers(self, live) -> None:
        """After 300 predictions and 2 invalid inputs: label and score metrics count
        every prediction of both workers, invalid inputs by field, model info."""
        server, name = live.server, package(live.service)
        before = predict_count(server)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda x: server.request("/v1/predict", x), live.inputs * 6))
        for bad in ({"features": [1.0]}, {"instances": [{"features": []}]}):
            assert server.request("/v1/predict", bad)[0] == 422

        def counted() -> bool:  # each worker writes its counts after its last answer
            statuses = answers(server, "/v1/predict")
            return statuses.get("200", 0) >= before + 300 and "422" in statuses

        wait_until(counted, 10, "the answers counted")
        by_name = samples(server)
        ok = next(
            v
            for lab, v in by_name[f"{name}_predictions_total"]
            if lab["outcome"] == "ok"
        )
        labels = by_name[f"{name}_predicted_labels_total"]
        assert sum(v for _, v in labels) == ok  # every prediction, from both workers
        names = {lab["label"] for lab, _ in labels}
        assert names <= {"setosa", "versicolor", "virginica"}
        assert by_name[f"{name}_predicted_score_count"][0][1] == ok
        invalid = {
            lab["field"]: v for lab, v in by_name[f"{name}_invalid_inputs_total"]
        }
        assert invalid == {"features": 2}
        (info,) = [lab for lab, _ in by_name[f"{name}_model_info"]]
        meta = json.loads(server.request("/v1/model")[2])
        assert info["version"] == meta["model_version"]
        assert meta["artifact_digest"].startswith(info["digest"])

    def test_prediction_log_samples_the_share_redacted(self, live) -> None:
        """The prediction log holds about LOG_RATE of the answered predictions, each
        with its request id, version, latency and inputs, the outputs redacted."""
        logged, served = prediction_log(live)
        share = len(logged) / len(served)
        print(f"prediction log: {len(logged)} of {len(served)} requests ({share:.2f})")
        assert abs(share - LOG_RATE) < 0.15, share  # binomial: about 6 sd at 300
        for line in logged:
            assert {"request_id", "model_version", "latency_ms", "inputs"} <= set(line)
            assert all(o["probabilities"] == "[redacted]" for o in line["outputs"])
            assert "[redacted]" not in json.dumps(line["inputs"])

    def test_prediction_log_replays_as_draft_cases(self, live) -> None:
        """Logged lines become draft cases, which pass when replayed in-process."""
        logged, _ = prediction_log(live)
        drafts = live.folder / "drafts.yaml"
        done = validate(live.python, live.service, "--draft", live.server.log.name)
        assert done.returncode == 0, done.stderr
        drafts.write_text(done.stdout)
        assert len(yaml.safe_load(done.stdout)["cases"]) == len(logged)
        done = validate(live.python, live.service, "--cases", str(drafts))
        assert done.returncode == 0, done.stdout + done.stderr


def prediction_log(live) -> tuple[list[dict], list[dict]]:
    """The prediction log lines, and the request log lines of answered predictions,
    at least 300 of them (sent here if fewer), once /metrics counts them all."""
    server = live.server
    if predict_count(server) < 300:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda x: server.request("/v1/predict", x), live.inputs * 6))

    def lines() -> tuple[list[dict], list[dict]] | None:
        try:
            found = [json.loads(x) for x in server.output(tail=0).splitlines() if x]
        except ValueError:  # a line being written: read again
            return None
        served = [
            x for x in found if x.get("route") == "/v1/predict" and x["status"] == 200
        ]
        logged = [x for x in found if x.get("logger") == "service.prediction"]
        return (logged, served) if len(served) >= predict_count(server) else None

    # Each worker writes its log lines just after its last response.
    return wait_until(lines, 10, "every answered prediction logged")


@pytest.fixture(scope="module")
def mismatched(cookies_session, environments) -> tuple[Path, Path]:
    """A trained scikit-learn service whose parity record says case 1 is labelled
    'no-such-class'."""
    service, python = trained_service(cookies_session, environments, LIBRARY)
    record_training(python, service, "parity", example(LIBRARY).inputs(5))
    path = service / "artifacts/parity.json"
    record = json.loads(path.read_text())
    record["cases"][1]["output"]["label"] = "no-such-class"
    path.write_text(json.dumps(record))
    return service, python


MISMATCH = "parity case 1: field label: recorded 'no-such-class'"


@pytest.mark.xdist_group("scikit-learn")  # shares that library's environment
@pytest.mark.slow
def test_readiness_requires_a_passing_parity_canary(mismatched, server_factory) -> None:
    """With REQUIRE_PARITY=1, a record the model does not reproduce keeps it unready."""
    service, python = mismatched
    server = server_factory(python, service, WORKERS="1", REQUIRE_PARITY="1")

    def loaded() -> tuple[int, dict, bytes] | None:
        try:
            answer = server.request("/readyz")
        except OSError:  # not listening yet
            return None
        return None if b"loading" in answer[2] else answer

    status, _, body = wait_until(loaded, 120, server.output, every=0.2)
    assert status == 503, body
    message = json.loads(body)["error"]["message"]
    assert MISMATCH in message
    assert server.stop() == 0


@pytest.mark.xdist_group("scikit-learn")  # shares that library's environment
@pytest.mark.slow
def test_generated_parity_test_fails_naming_case_and_field(mismatched) -> None:
    """The generated test of a mismatching parity record fails, naming case and
    field."""
    service, python = mismatched
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "parity"],
        cwd=service,
        env={**os.environ, **source_env(service)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert MISMATCH in done.stdout, done.stdout[-4000:]
