"""rules.yaml over a real scikit-learn model, served by real worker processes."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness.examples import example
from harness.metrics import predict_count, samples
from harness.models import close, in_process, trained_service
from harness.render import bake
from harness.server import source_env
from harness.template import module, package
from harness.waiting import wait_until

LIBRARY = "scikit-learn"
RULES = """
rules:
  - name: setosa-reviewed
    when: label == "setosa" and probabilities["setosa"] > 0.5
    set: {label: "setosa-reviewed"}
    reason: SETOSA
  - name: virginica
    when: label == "virginica"
  - name: never
    when: probabilities["setosa"] > 1.5
    set: {label: "never"}
  - name: after-review
    when: label == "setosa-reviewed"
    reason: REVIEWED
"""
FAILING = """
  - name: broken
    when: label == "versicolor" and probabilities["no-such-class"] > 0.5
"""
BAD_RULES = {  # kind: (rule, what the one line must say)
    "syntax error": ('when: label == "a" and', "syntax error"),
    "field the model does not output": ('when: queue == "urgent"', "'queue'"),
    "set a field Output lacks": ("when: 'true'\n    set: {queue: urgent}", "'queue'"),
    "wrong type for a field": ("when: 'true'\n    set: {label: [1]}", "label"),
    "duplicate name": ("when: 'true'\n  - name: r\n    when: 'false'", "duplicate"),
}
BAD_FILES = {  # kind: (whole file, what the one line must say)
    "not YAML": ("rules:\n  - name: [r\n", "not valid YAML at line 3"),
    "unknown mode": (
        "mode: every\nrules:\n  - {name: r, when: 'true'}\n",
        "mode 'every' must be one of first, all",
    ),
    "rules not a list": ("rules: {name: r}\n", "'rules' must be a list"),
}


AGREE = """
import json, sys
from pathlib import Path
import rule_engine
import {conditions} as conditions
from {model} import Input, Model
model = Model()
model.load(Path("artifacts"))
inputs = [Input.model_validate(x) for x in json.load(sys.stdin)]
instances = list(zip(inputs, model.predict(inputs)))
def outcome(test, instance):
    try:
        return bool(test(instance))
    except Exception:
        return "error"
for text in json.loads(sys.argv[1]):
    _, test, fast = conditions.parse(text)
    slow = rule_engine.Rule(text, context=conditions.CONTEXT).matches
    got = [(outcome(test, i), outcome(slow, i)) for i in instances]
    print(json.dumps([text, fast, [a for a, b in got if a != b]]))
"""
CONDITIONS = [  # (condition, compiled to a closure) over iris's Input and Output
    ('label == "setosa"', True),
    ('label != "setosa" and probabilities["setosa"] > 0.01', True),
    ("probabilities[label] >= 0.9 or features[-1] > 1", True),
    ('not (label == "versicolor") and features[1] <= 3', True),
    ('label in ["setosa", "virginica"] or "x" in probabilities', True),
    ('label =~ "set.*" or label =~~ "os" or label !~ "v.*"', True),
    ('label > "t" and features[0] > 0.1 + 0.2', True),
    ('probabilities["virginica"] == probabilities[label]', True),
    ('probabilities["no-such-class"] > 0.5', True),  # raises in both
    ("features[7] > 0", True),  # raises in both
    ("features[0] + features[1] > 8", False),  # arithmetic: rule-engine runs it
    ("label.length > 6", False),  # attributes: rule-engine runs it
]


def firings(server, requests: int) -> dict[str, float]:
    """Rule firings by rule, once /metrics counts `requests` answers."""
    # Each worker writes its counts just after its last response.
    wait_until(lambda: predict_count(server) >= requests, 10, "answers counted")
    return {
        labels["rule"]: value
        for name, found in samples(server).items()
        if name.endswith("_rule_firings_total")
        for labels, value in found
    }


@pytest.mark.xdist_group("scikit-learn")  # shares that library's environment
@pytest.mark.slow
def test_rules_change_answers_count_and_log(
    cookies,
    environments,
    server_factory,
    tmp_path: Path,
) -> None:
    """Rules that fire change the answer, the metric and the log; others change
    nothing; "all" applies every match in order, "first" only the first."""
    service, python = trained_service(cookies, environments, LIBRARY)
    (tmp_path / "all.yaml").write_text("mode: all" + RULES, encoding="utf-8")
    (tmp_path / "first.yaml").write_text(
        "mode: first" + RULES + FAILING, encoding="utf-8"
    )
    every = server_factory(python, service, RULES_FILE=str(tmp_path / "all.yaml"))
    first = server_factory(
        python, service, RULES_FILE=str(tmp_path / "first.yaml"), WORKERS="1"
    )
    inputs = example(LIBRARY).inputs(60)
    expected = in_process(python, service, inputs)
    labels = [e["label"] for e in expected]
    assert {"setosa", "versicolor", "virginica"} <= set(labels)  # every rule is tried
    every.wait_ready()
    first.wait_ready()

    for instance, want in zip(inputs, expected, strict=True):
        status, _, body = every.request("/v1/predict", instance)
        assert status == 200, body
        answer = json.loads(body)
        reasons = {"setosa": ["SETOSA", "REVIEWED"], "virginica": ["virginica"]}
        assert answer.pop("reasons") == reasons.get(want["label"], [])
        if want["label"] == "setosa":
            want = {**want, "label": "setosa-reviewed"}
        assert close(answer, want), (instance, answer, want)

        status, _, body = first.request("/v1/predict", instance)
        if want["label"] == "versicolor":  # only "broken" matches, and it raises
            error = json.loads(body)["error"]
            assert status == 500 and error["code"] == "rule_failed", body
            assert "broken" in error["message"] and "Traceback" not in body.decode()
            continue
        assert status == 200, body
        reasons = {"setosa-reviewed": ["SETOSA"], "virginica": ["virginica"]}
        assert json.loads(body)["reasons"] == reasons[want["label"]]

    assert first.request("/healthz")[0] == 200  # the failing rule crashed nothing
    document = json.loads(every.request("/openapi.json")[2])
    assert "reasons" in document["components"]["schemas"]["Output"]["required"]
    assert firings(every, len(inputs)) == {
        "setosa-reviewed": labels.count("setosa"),
        "virginica": labels.count("virginica"),
        "never": 0,
        "after-review": labels.count("setosa"),
    }
    assert every.stop() == 0 and first.stop() == 0, first.output()
    lines = [json.loads(x) for x in every.output(tail=0).splitlines() if x]
    logged = [x.get("rules", []) for x in lines if x.get("route") == "/v1/predict"]
    named = {"setosa": ["after-review", "setosa-reviewed"], "virginica": ["virginica"]}
    assert sorted(logged) == sorted(named.get(label, []) for label in labels)
    assert '"rule failed"' in first.output(tail=0)  # logged, with the rule's name


@pytest.mark.xdist_group("scikit-learn")  # shares that library's environment
@pytest.mark.slow
def test_fast_conditions_agree_with_rule_engine(cookies, environments) -> None:
    """Conditions compiled to closures give rule-engine's results, errors included."""
    service, python = trained_service(cookies, environments, LIBRARY)
    script = AGREE.format(
        conditions=module(service, "conditions"), model=module(service, "model")
    )
    done = subprocess.run(
        [str(python), "-c", script, json.dumps([c for c, _ in CONDITIONS])],
        cwd=service,
        input=json.dumps(example(LIBRARY).inputs(150)),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **source_env(service)},
    )
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(text, fast) for text, fast, _ in results] == CONDITIONS
    assert all(not differ for _, _, differ in results), results


@pytest.mark.xdist_group("scikit-learn")  # shares that library's environment
@pytest.mark.parametrize("kind", [*BAD_RULES, *BAD_FILES])
def test_bad_rules_file_stops_the_start(
    cookies, environments, tmp_path: Path, kind: str
) -> None:
    """Each kind of bad rule stops the service with one line naming rule and problem."""
    service = bake(cookies, ml_library=LIBRARY)
    if kind in BAD_FILES:
        text, problem = BAD_FILES[kind]
    else:
        rule, problem = BAD_RULES[kind]
        text = f"rules:\n  - name: r\n    {rule}\n"
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [str(environments.python(LIBRARY)), "-m", package(service)],
        cwd=service,
        env={**os.environ, **source_env(service), "RULES_FILE": str(path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert problem in lines[0] and str(path) in lines[0], lines[0]
    assert "rule 'r'" in lines[0] or kind in BAD_FILES, lines[0]
