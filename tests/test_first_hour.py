"""A scientist's first hour: what they add (a rule, parity, their own Output, a
dependency) keeps the service's own checks green, or fails with one clear line."""

import json
import re
import subprocess
import textwrap

import pytest

from harness.commands import run
from harness.examples import replace_block
from harness.metrics import samples
from harness.models import service_with_predict, trained_service
from harness.server import source_env as service_env
from harness.waiting import wait_until

LIBRARY = "scikit-learn"
PYTEST = ["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]


def readme_rule(service) -> str:
    """The rules.yaml example of the rendered README, as a scientist copies it."""
    readme = (service / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(\s*mode: first\n.*?)```", readme, re.S)
    assert block, "the README shows no rules.yaml example"
    return textwrap.dedent(block[1])


@pytest.mark.slow
@pytest.mark.xdist_group(LIBRARY)
def test_readme_rule_keeps_make_test_and_parity_green(
    cookies, environments, server_factory
) -> None:
    """With the README's rule and a parity record, the service's tests and every
    parity check (in-process, live, REQUIRE_PARITY) pass."""
    service, python = trained_service(cookies, environments, LIBRARY)
    (service / "rules.yaml").write_text(readme_rule(service), encoding="utf-8")
    package = service.name.replace("-", "_")
    inputs = [{"features": [5.9, 3.0, 5.1, 1.8]}, {"features": [6.3, 2.8, 4.9, 1.5]}]
    inputs += [{"features": [5.1, 3.5, 1.4, 0.2]}]
    record = f"from {package}.tools import parity\nparity.record({inputs!r})"
    run([str(python), "-c", record], service, **service_env(service))

    output = run([str(python), *PYTEST], service, **service_env(service))
    assert "parity.json" not in output, output  # the live parity test ran

    validate = [str(python), "-m", f"{package}.tools.validate", "--parity"]
    assert "0 problems" in run(validate, service, **service_env(service))

    server = server_factory(python, service, REQUIRE_PARITY="1")
    server.wait_ready()  # the canary compared predict() with the record
    status, _, body = server.request("/v1/predict", {"instances": inputs})
    assert status == 200 and all(
        "reasons" in answer for answer in json.loads(body)["predictions"]
    )
    live = run(
        [*validate[:-1], server.url, "--parity"], service, **service_env(service)
    )
    assert "0 problems" in live, live


MISSING_AT_LOAD = """
import not_installed_package  # noqa: F401
"""


@pytest.mark.slow
@pytest.mark.xdist_group("other")
def test_a_missing_package_is_named_in_one_line(
    cookies, environments, server_factory
) -> None:
    """A package load() needs names itself in /readyz; one model.py imports at the
    top stops the start with one line saying what to do."""
    service, python = service_with_predict(
        cookies, environments, 'return [Output(label="x", score=1.0) for _ in inputs]'
    )
    model_py = next(service.glob("src/*/model.py"))
    source = model_py.read_text(encoding="utf-8")
    model_py.write_text(
        replace_block(source, "loading code", MISSING_AT_LOAD), encoding="utf-8"
    )
    server = server_factory(python, service, WORKERS="1")

    def reason() -> str:
        try:
            status, _, body = server.request("/readyz")
        except OSError:  # not listening yet
            return ""
        return json.loads(body)["error"]["message"] if status == 503 else ""

    wait_until(lambda: "not_installed_package" in reason(), 60, "no reason in /readyz")
    assert "no module named 'not_installed_package'" in reason()
    assert "pyproject.toml" in reason() and "\n" not in reason()

    model_py.write_text("import not_installed_package\n" + source, encoding="utf-8")
    done = subprocess.run(
        [str(python), "-m", service.name.replace("-", "_")],
        cwd=service,
        env={**service_env(service), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert "'not_installed_package'" in lines[0] and "pyproject.toml" in lines[0]


NAMED_SCORE = """
label: str
p: float = Field(description="Confidence, from 0 to 1.")
score_field: ClassVar[str] = "p"  # what predicted_score observes
"""


@pytest.mark.slow
@pytest.mark.xdist_group("other")
def test_output_names_the_fields_its_metrics_watch(
    cookies, environments, server_factory
) -> None:
    """An Output whose score has another name says so, and predicted_score counts
    it; the start-up log names the fields and where the service listens."""
    service, python = service_with_predict(
        cookies, environments, 'return [Output(label="x", p=0.7) for _ in inputs]'
    )
    model_py = next(service.glob("src/*/model.py"))
    source = replace_block(
        model_py.read_text(encoding="utf-8"), "what your model answers", NAMED_SCORE
    )
    source = source.replace("from pathlib", "from typing import ClassVar\nfrom pathlib")
    model_py.write_text(source, encoding="utf-8")
    server = server_factory(python, service)
    server.wait_ready()
    for _ in range(3):
        assert server.request("/v1/predict", {"text": "a", "unknown": 1})[0] == 200
    prefix = service.name.replace("-", "_") + "_"
    counted = lambda: metrics(server, prefix).get("predicted_score_count")  # noqa: E731
    wait_until(lambda: counted() == 3, 30, "predicted_score did not count 3")
    values = metrics(server, prefix)
    assert values['unknown_fields_total{field="unknown"}'] == 3
    log = server.output(tail=0)
    assert f"listening on {server.url}" in log
    assert "predicted_score observes Output.p" in log


def metrics(server, prefix: str) -> dict[str, float]:
    """/metrics summed over the workers: name{labels} -> value, without prefix."""
    found = {}
    for name, values in samples(server).items():
        for labels, value in values:
            text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            found[name.removeprefix(prefix) + (f"{{{text}}}" if text else "")] = value
    return found
