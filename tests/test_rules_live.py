"""rules.yaml a scientist can trust: `=~` warned about, tried from the command line,
reloaded on SIGHUP by every worker under load; `make parity` and `make smoke`."""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict

from harness.commands import run
from harness.containers import Image, engine
from harness.examples import example
from harness.models import service_with_predict, trained_service
from harness.render import bake
from harness.server import source_env as service_env
from harness.waiting import wait_until

LIBRARY = "scikit-learn"
STARTING = """
mode: all
rules:
  - name: starts-tosa
    when: label =~ "tosa"
    reason: STARTS
  - name: anchored
    when: label =~ "^virginica" or label !~ "^v"
    reason: ANCHORED
  - name: contains-tosa
    when: label =~~ "tosa"
    reason: CONTAINS
"""
ADDED = """
  - name: reviewed
    when: label =~~ "[a-z]"
    reason: REVIEWED
"""


def lines(server) -> list[dict]:
    return [json.loads(x) for x in server.output(10**7).splitlines() if x[:1] == "{"]


def rules_digest(server) -> str:
    return json.loads(server.request("/v1/model")[2])["rules_digest"]


def firings_by_worker(metrics: Path, rule: str) -> dict[int, float]:
    """rule_firings_total{rule} of each worker, from its own metrics file."""
    found = {}
    for path in metrics.glob("counter_*.db"):
        pid = int(path.stem.rpartition("_")[2])
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            _, sample, labels, _ = json.loads(key)
            if sample.endswith("_rule_firings_total") and labels.get("rule") == rule:
                found[pid] = found.get(pid, 0) + value
    return found


def setosa_input() -> dict:
    return next(x for x in example(LIBRARY).inputs(60) if x["features"][2] < 2)


@pytest.mark.xdist_group("scikit-learn")
@pytest.mark.slow
def test_rules_check_warns_about_start_matches_and_tries_inputs(
    cookies, environments, tmp_path: Path
) -> None:
    """`=~` matches at the start, `=~~` anywhere; an unanchored `=~` is a warning
    naming the rule (the check passes); INPUT shows the rules that fire and the
    answer, OUTPUT tries the rules without the model."""
    service, python = trained_service(cookies, environments, LIBRARY)
    rules = tmp_path / "rules.yaml"
    rules.write_text(STARTING, encoding="utf-8")
    make = ["make", "-s", "rules-check", f"BIN={python.parent}"]
    env = {**service_env(service), "RULES_FILE": str(rules)}
    shown = run([*make, f"INPUT={json.dumps(setosa_input())}"], service, **env)
    warnings = [x for x in shown.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1 and "rule 'starts-tosa'" in warnings[0], shown
    assert "=~~" in warnings[0], warnings
    [tried] = [json.loads(x) for x in shown.splitlines() if x.startswith("{")]
    assert tried["output"]["label"] == "setosa", tried
    assert tried["fired"] == ["anchored", "contains-tosa"], tried
    assert tried["answer"]["reasons"] == ["ANCHORED", "CONTAINS"], tried
    output = json.dumps({"label": "virginica", "probabilities": {"virginica": 1.0}})
    shown = run([*make, f"OUTPUT={output}"], service, **env)
    [tried] = [json.loads(x) for x in shown.splitlines() if x.startswith("{")]
    assert tried["fired"] == ["anchored"], tried


@pytest.mark.xdist_group("other")
@pytest.mark.slow
def test_rules_check_input_without_a_model_says_so(cookies, environments) -> None:
    """With predict() still a stub, INPUT is one line saying so; OUTPUT works."""
    service, python = bake(cookies, ml_library="other"), environments.python("other")
    (service / "rules.yaml").write_text(
        'rules:\n  - {name: low, when: "score < 0.6"}\n', encoding="utf-8"
    )
    make = ["make", "-s", "rules-check", f"BIN={python.parent}"]
    done = subprocess.run(
        [*make, 'INPUT={"text": "this is urgent please"}'],
        cwd=service,
        env={**os.environ, **service_env(service)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0, done.stdout
    errors = [x for x in done.stderr.splitlines() if not x.startswith("make")]
    assert len(errors) == 1 and "not implemented yet" in errors[0], done.stderr
    assert "OUTPUT" in errors[0], errors
    output = 'OUTPUT={"label": "positive", "score": 0.5}'
    shown = run([*make, output], service, **service_env(service))
    assert '"fired": ["low"]' in shown, shown


@pytest.mark.xdist_group("scikit-learn")
@pytest.mark.slow
def test_sighup_reloads_rules_in_every_worker_under_load(
    cookies, environments, server_factory, tmp_path: Path
) -> None:
    """Under load, a changed rules.yaml and SIGHUP: within 2 s every answer, from
    both workers, has the new rule's reason, and no request fails; a broken file
    and SIGHUP: the old rules keep serving, one log line names the problem. The
    start warns once (main process) about the unanchored `=~`."""
    service, python = trained_service(cookies, environments, LIBRARY)
    rules = tmp_path / "rules.yaml"
    rules.write_text(STARTING, encoding="utf-8")
    pid_file = tmp_path / "service.pid"  # as `make run` sets it, for `make reload`
    server = server_factory(
        python, service, RULES_FILE=str(rules), PID_FILE=str(pid_file)
    )
    server.wait_ready()
    warned = [x for x in lines(server) if x["level"] == "WARNING"]
    assert len(warned) == 1 and "'starts-tosa'" in warned[0]["msg"], warned
    first = rules_digest(server)

    answers: list[tuple[float, int, list[str]]] = []
    stop = threading.Event()

    def load() -> None:  # a new connection per request: both workers get some
        while not stop.is_set():
            status, _, body = server.request("/v1/predict", setosa_input())
            reasons = json.loads(body).get("reasons", []) if status == 200 else []
            answers.append((time.monotonic(), status, reasons))

    sender = threading.Thread(target=load)
    sender.start()
    try:
        wait_until(lambda: len(answers) >= 50, 60, "no answers under load")
        rules.write_text(STARTING + ADDED, encoding="utf-8")
        reloaded = time.monotonic()
        server.process.send_signal(signal.SIGHUP)
        both = lambda: len(firings_by_worker(server.metrics, "reviewed")) >= 2  # noqa: E731
        wait_until(both, 30, server.output)
        wait_until(lambda: answers[-1][0] >= reloaded + 3, 30, "the load stopped")
        second = rules_digest(server)

        rules.write_text(STARTING + ADDED + "  - name: [broken\n", encoding="utf-8")
        broken = time.monotonic()
        assert pid_file.read_text("utf-8").strip() == str(server.process.pid)
        run(["make", "-s", "reload", f"PID_FILE={pid_file}"], service)
        refused = lambda: any("not reloaded" in x["msg"] for x in lines(server))  # noqa: E731
        wait_until(refused, 30, server.output)
        wait_until(lambda: answers[-1][0] >= broken + 2, 30, "the load stopped")
    finally:
        stop.set()
        sender.join()
    assert {status for _, status, _ in answers} == {200}
    late = [reasons for t, _, reasons in answers if t > reloaded + 2]
    assert late and all("REVIEWED" in r for r in late), late
    assert all("CONTAINS" in r for _, _, r in answers)
    assert not any("REVIEWED" in r for t, _, r in answers if t < reloaded)
    assert second != first and rules_digest(server) == second
    problems = [x for x in lines(server) if "not reloaded" in x["msg"]]
    assert len(problems) == 1 and "not valid YAML" in problems[0]["msg"], problems
    assert problems[0]["level"] == "ERROR"


@pytest.mark.xdist_group("scikit-learn")
@pytest.mark.slow
def test_make_parity_records_from_a_file_of_inputs(
    cookies, environments, tmp_path: Path
) -> None:
    """`make parity INPUTS=file` records the model's answers; validate reproduces
    them."""
    service, python = trained_service(cookies, environments, LIBRARY)
    inputs = example(LIBRARY).inputs(12)
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(x) + "\n" for x in inputs), "utf-8")
    env = service_env(service)
    shown = run(
        ["make", "-s", "parity", f"BIN={python.parent}", f"INPUTS={samples}"],
        service,
        **env,
    )
    assert "12 inputs" in shown, shown
    record = json.loads((service / "artifacts" / "parity.json").read_text("utf-8"))
    assert [case["input"] for case in record["cases"]] == inputs
    package = service.name.replace("-", "_")
    checked = run(
        [str(python), "-m", f"{package}.tools.validate", "--parity"], service, **env
    )
    assert "12 recorded cases, 0 problems" in checked, checked


@pytest.mark.xdist_group("scikit-learn")
@pytest.mark.slow
def test_make_smoke_runs_the_golden_cases_against_the_image(
    cookies, environments
) -> None:
    """`make smoke`: build, run on a free port, golden cases pass, stopped."""
    try:
        docker = engine()
    except LookupError as error:
        pytest.skip(f"{error}; scripts/test.py starts one")
    service, python = trained_service(cookies, environments, LIBRARY)
    image = Image(docker, service, python, LIBRARY, "modelservice-test-smoke")
    try:
        shown = run(
            [
                *image.make,
                "smoke",
                f"BIN={python.parent}",
                f"BUILD_FLAGS=--label {image.label}",
            ],
            service,
            timeout=1500,
            **service_env(service),
        )
        assert "is ready on http://127.0.0.1:" in shown, shown
        assert " pass" in shown and "FAIL" not in shown, shown
        running = image.quiet("ps", "-q", "--filter", f"ancestor={image.tag}")
        assert not running.stdout.strip(), "the smoke container is still running"
    finally:
        image.remove()


def test_make_image_without_an_engine_says_how_to_use_another(cookies) -> None:
    """No reachable engine: one line naming CONTAINER_ENGINE=podman."""
    service = bake(cookies, ml_library="other")
    done = subprocess.run(
        ["make", "-s", "image", "CONTAINER_ENGINE=no-such-engine"],
        cwd=service,
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [x for x in done.stderr.splitlines() if not x.startswith("make")]
    assert done.returncode != 0 and len(errors) == 1, done.stderr
    assert "CONTAINER_ENGINE=podman" in errors[0], errors


@pytest.mark.xdist_group("other")
@pytest.mark.slow
def test_first_rules_reach_a_service_started_without_any(
    environments, server_factory, cookies, tmp_path: Path
) -> None:
    """A service started with no rules takes its first rules on SIGHUP: answers and
    the OpenAPI document gain `reasons`, in both workers."""
    service, python = service_with_predict(
        cookies, environments, 'return [Output(label="ok", score=0.5) for _ in inputs]'
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\n", encoding="utf-8")
    server = server_factory(python, service, RULES_FILE=str(rules))
    server.wait_ready()
    assert b"reasons" not in server.request("/openapi.json")[2]
    rules.write_text(
        "rules:\n  - name: unsure\n    when: score < 0.6\n    reason: UNSURE\n",
        encoding="utf-8",
    )
    server.process.send_signal(signal.SIGHUP)

    def both_workers_fire() -> bool:  # a new connection a request: both answer
        found = [server.request("/v1/predict", {"text": "a"}) for _ in range(10)]
        reasons = [json.loads(body).get("reasons") for _, _, body in found]
        fired = firings_by_worker(server.metrics, "unsure")
        return reasons == [["UNSURE"]] * 10 and len(fired) == 2

    wait_until(both_workers_fire, 30, server.output)
    assert b"reasons" in server.request("/openapi.json")[2]
