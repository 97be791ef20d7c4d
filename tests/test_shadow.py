"""Shadow traffic and the compare command: a candidate model tried on real requests."""

import json
import os
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import client
from harness.commands import run
from harness.examples import MARKERS, example, script, write_block
from harness.metrics import samples
from harness.models import close, in_process, trained_service
from harness.render import bake
from harness.server import Server, free_port, source_env
from harness.template import module
from harness.waiting import wait_until

LIBRARY = "scikit-learn"
COUNT = 60  # requests the primary answers and copies to the candidate
# The candidate: the same data, a more regularised model, so some answers differ.
TRAIN_CANDIDATE = """
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
data = load_iris()
model = LogisticRegression(C=0.05, max_iter=500)
model.fit(data.data, data.target_names[data.target])
joblib.dump(model, "artifacts/model.joblib")
"""
# A candidate that sleeps 2 s or fails (CANDIDATE_MODE), after its warm-up prediction.
ODD = """
import os
import time

self.calls = getattr(self, "calls", 0) + 1
if self.calls > 1 and os.environ.get("CANDIDATE_MODE") == "slow":
    time.sleep(2)
if self.calls > 1 and os.environ.get("CANDIDATE_MODE") == "fail":
    raise RuntimeError("a candidate that fails")
"""
CANDIDATE_LATENCY = "_shadow_candidate_duration_seconds_count"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(LIBRARY)]


def shadow_counts(server: Server) -> dict[str, float]:
    """shadow_predictions_total by outcome, summed over the workers."""
    return {
        labels["outcome"]: value
        for name, found in samples(server).items()
        if name.endswith("_shadow_predictions_total")
        for labels, value in found
    }


def agree(a: dict, b: dict) -> bool:
    """The documented default comparison, written again here: labels equal and the
    same most probable class (SHADOW_RANK_TOP=1)."""
    a_top = max(a["probabilities"], key=a["probabilities"].get)
    b_top = max(b["probabilities"], key=b["probabilities"].get)
    return a["label"] == b["label"] and a_top == b_top


def send_all(server: Server, inputs: list[dict]) -> list[tuple[int, dict, float]]:
    """Each input as one request (8 at a time), with request id shadow-<i>: status,
    answer and seconds taken."""

    def one(i: int) -> tuple[int, dict, float]:
        started = time.perf_counter()
        headers = {"X-Request-ID": f"shadow-{i}"}
        status, _, body = server.request("/v1/predict", inputs[i], headers=headers)
        return status, json.loads(body), time.perf_counter() - started

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(len(inputs))))


@pytest.fixture(scope="module")
def pair(cookies_session, environments):
    """A primary and a candidate (another model of the same data), two workers each;
    the primary copies every request to the candidate and logs every prediction.
    COUNT requests are answered before the tests look."""
    primary, python = trained_service(cookies_session, environments, LIBRARY)
    candidate = bake(cookies_session, ml_library=LIBRARY)
    write_block(candidate, MARKERS["predict"], example(LIBRARY).PREDICT)
    run([python, "-c", TRAIN_CANDIDATE], candidate)
    inputs = example(LIBRARY).inputs(COUNT, seed=7)
    expected = in_process(python, primary, inputs)
    theirs = in_process(python, candidate, inputs)
    with (
        Server(python, candidate) as b,
        Server(python, primary, SHADOW_URL=b.url, PREDICTION_LOG_RATE="1") as a,
    ):
        sent = send_all(a, inputs)
        wait_until(
            lambda: sum(shadow_counts(a).values()) >= COUNT,
            30,
            lambda: f"copies compared: {shadow_counts(a)}\n{a.output()}",
        )
        yield SimpleNamespace(
            python=python, primary=primary, candidate=candidate, a=a, b=b,
            inputs=inputs, sent=sent, expected=expected, theirs=theirs,
        )  # fmt: skip
        assert a.stop() == 0, a.output()  # its shadow task stops with it


def test_primary_answers_as_it_does_without_a_candidate(pair) -> None:
    """Every caller gets the primary's own in-process answer."""
    assert [status for status, _, _ in pair.sent] == [200] * COUNT
    for (_, answer, _), want in zip(pair.sent, pair.expected, strict=True):
        assert close(answer, want)


def test_shadow_counts_equal_an_in_process_comparison(pair) -> None:
    """agree and disagree in /metrics equal the two models compared in-process."""
    agreed = sum(map(agree, pair.expected, pair.theirs))
    assert 0 < agreed < COUNT, "the two models should differ on some inputs"
    counts = shadow_counts(pair.a)
    assert counts == {
        "agree": agreed,
        "disagree": COUNT - agreed,
        "error": 0,
        "timeout": 0,
        "dropped": 0,
    }


def test_shadow_exports_differences_and_candidate_latency(pair) -> None:
    """Each copy adds one difference per numeric field and one candidate latency."""
    found = samples(pair.a)
    differences = {
        labels["field"]: value
        for name, values in found.items()
        if name.endswith("_shadow_difference_count")
        for labels, value in values
    }
    assert differences == {"probabilities": COUNT}
    latency = found[next(n for n in found if n.endswith(CANDIDATE_LATENCY))]
    assert [value for _, value in latency] == [COUNT]


def test_disagreements_are_logged_with_both_answers(pair) -> None:
    """One log line per disagreement: its request id, input and both answers."""
    lines = [json.loads(x) for x in pair.a.output(0).splitlines() if x.startswith("{")]
    logged = {x["request_id"]: x for x in lines if x["msg"] == "shadow disagreement"}
    differ = {
        f"shadow-{i}"
        for i, (a, b) in enumerate(zip(pair.expected, pair.theirs, strict=True))
        if not agree(a, b)
    }
    assert set(logged) == differ
    for request_id, line in logged.items():
        i = int(request_id.split("-")[1])
        assert line["input"] == pair.inputs[i]
        assert close(line["primary"], pair.expected[i])
        assert close(line["candidate"], pair.theirs[i])


def compare(pair, *args: str) -> subprocess.CompletedProcess:
    """`validate --compare PRIMARY CANDIDATE ARGS` in the primary's folder."""
    command = [str(pair.python), "-m", module(pair.primary, "validate"), "--compare"]
    return subprocess.run(
        [*command, pair.a.url, pair.b.url, *args],
        cwd=pair.primary,
        env={**os.environ, **source_env(pair.primary)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compare_replays_the_prediction_log_and_agrees_with_in_process(
    pair, tmp_path: Path
) -> None:
    """--replay of the primary's own log: its agreement rate is the in-process one."""
    log = tmp_path / "primary.log"
    log.write_text(pair.a.output(0), encoding="utf-8")
    report, junit = tmp_path / "compare.json", tmp_path / "compare.xml"
    args = ["--replay", str(log), "--json", str(report), "--junit", str(junit)]
    done = compare(pair, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(report.read_text(encoding="utf-8"))
    agreed = sum(map(agree, pair.expected, pair.theirs))
    assert (result["total"], result["agree"]) == (COUNT, agreed)
    assert result["agreement"] == agreed / COUNT
    assert f"{agreed}/{COUNT} agree" in done.stdout
    assert {"p50", "p99"} <= set(result["latency_ms"]["b"])
    assert {x["input"]["features"][0] for x in result["disagreements"]} <= {
        x["features"][0] for x in pair.inputs
    }
    assert ET.parse(junit).getroot().get("failures") == "0"


def test_compare_fails_under_min_agreement(pair, tmp_path: Path) -> None:
    """Agreement under --min-agreement exits 1 and fails the JUnit case."""
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("\n".join(map(json.dumps, pair.inputs)), encoding="utf-8")
    junit = tmp_path / "compare.xml"
    args = ["--replay", str(inputs), "--min-agreement", "1", "--junit", str(junit)]
    done = compare(pair, *args)
    assert done.returncode == 1, done.stdout + done.stderr
    assert ET.parse(junit).getroot().get("failures") == "1"


@pytest.fixture(scope="module")
def odd(cookies_session, environments) -> tuple[Path, Path]:
    """A candidate service whose predict() sleeps 2 s or fails (CANDIDATE_MODE)."""
    service = bake(cookies_session, ml_library=LIBRARY)
    python = environments.python(LIBRARY)
    run([python, script(LIBRARY), "train", "artifacts"], service)
    write_block(service, MARKERS["predict"], ODD + example(LIBRARY).PREDICT)
    return service, python


@pytest.mark.parametrize(
    ("mode", "outcome"), [("slow", "timeout"), ("fail", "error"), ("down", "error")]
)
def test_a_slow_failing_or_absent_candidate_changes_nothing(
    pair, odd, mode: str, outcome: str
) -> None:
    """Callers get the same answers, promptly; each copy is counted as its outcome."""
    service, python = odd
    inputs = pair.inputs[:10]
    if mode == "down":
        candidate = None
        url = f"http://127.0.0.1:{free_port()}"
    else:
        candidate = Server(python, service, CANDIDATE_MODE=mode).__enter__()
        url = candidate.url
    try:
        with Server(
            pair.python, pair.primary, SHADOW_URL=url, SHADOW_TIMEOUT_MS="300"
        ) as a:
            sent, expected = send_all(a, inputs), pair.expected[:10]
            for (status, answer, seconds), want in zip(sent, expected, strict=True):
                assert status == 200 and close(answer, want)
                assert seconds < 1.5, "the caller waited for the candidate's 2 s"
            wait_until(
                lambda: shadow_counts(a).get(outcome) == len(inputs),
                30,
                lambda: f"{shadow_counts(a)}\n{a.output()}",
            )
            assert sum(shadow_counts(a).values()) == len(inputs)
    finally:
        if candidate is not None:
            candidate.__exit__()


def test_make_candidate_serves_other_artifacts_for_make_compare(pair) -> None:
    """`make candidate ARTIFACTS=...` serves the other model beside the running one;
    `make compare` then reports on both in one step."""
    artifacts = pair.primary / "candidate-artifacts"
    shutil.copytree(pair.candidate / "artifacts", artifacts, dirs_exist_ok=True)
    port = free_port()
    env = {**os.environ, **source_env(pair.primary)}
    settings = [f"BIN={Path(pair.python).parent}", f"PORT={port}"]
    candidate = subprocess.Popen(
        ["make", "-s", "candidate", f"ARTIFACTS={artifacts}", *settings],
        cwd=pair.primary,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: make and the service
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: ready(url), 60, "make candidate is not ready", 0.1)
        digests = [
            json.loads(client.request(each + "/v1/model")[2])["artifact_digest"]
            for each in (url, pair.a.url)
        ]
        assert digests[0] != digests[1], "the candidate serves the same model"
        done = subprocess.run(
            ["make", "-s", "compare", f"URL={pair.a.url}", f"CANDIDATE_URL={url}"]
            + [settings[0]],
            cwd=pair.primary,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert " agree (" in done.stdout.splitlines()[0], done.stdout
    finally:
        os.killpg(candidate.pid, signal.SIGTERM)
        candidate.wait(60)


def ready(url: str) -> bool:
    """/readyz of the service at `url` answers 200."""
    try:
        return client.request(url + "/readyz")[0] == 200
    except OSError:
        return False


def test_copies_over_a_full_queue_are_dropped_and_counted(pair, odd) -> None:
    """With SHADOW_QUEUE=1 and a slow candidate, copies that do not fit are dropped,
    counted, and every caller is answered."""
    service, python = odd
    with (
        Server(python, service, CANDIDATE_MODE="slow") as candidate,
        Server(
            pair.python,
            pair.primary,
            SHADOW_URL=candidate.url,
            SHADOW_QUEUE="1",
            SHADOW_TIMEOUT_MS="5000",  # two 2 s predictions in a row fit
        ) as a,
    ):
        sent = send_all(a, pair.inputs[:20])
        assert [status for status, _, _ in sent] == [200] * 20
        wait_until(
            lambda: sum(shadow_counts(a).values()) == 20,
            60,
            lambda: f"{shadow_counts(a)}\n{a.output()}",
        )
        counts = shadow_counts(a)
        assert counts["dropped"] >= 20 - 2 * 2  # 2 workers: one sent, one queued
        assert counts["timeout"] == counts["error"] == 0, counts
