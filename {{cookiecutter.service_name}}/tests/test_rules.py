"""rules.yaml: checked at start, applied to every prediction after predict()."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from {{ cookiecutter.__package_name }}.config import PACKAGE_NAME
from {{ cookiecutter.__package_name }}.model import Output
from {{ cookiecutter.__package_name }}.serving import rules
from {{ cookiecutter.__package_name }}.serving.runtime import (
    Runtime,
    example_input,
)
from {{ cookiecutter.__package_name }}.serving.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FIELD = next(iter(Output.model_fields))  # any Output field
NOT_A_VALUE = {"not": [["a", "value"]]}  # fits no usual field type
BAD_RULES = {
    "syntax error": (f"when: {FIELD} ==", "syntax error"),
    "unknown field": ("when: no_such_field == 1", "'no_such_field'"),
    "set unknown field": ("when: 'true'\n  set: {no_such_field: 1}", "not a field"),
    "set wrong type": (f"when: 'true'\n  set:\n    {FIELD}: {NOT_A_VALUE}", "wrong"),
    "duplicate name": ("when: 'false'\n- name: r\n  when: 'true'", "duplicate"),
}


def write(folder: Path, body: str, mode: str = "first") -> Path:
    path = folder / "rules.yaml"
    path.write_text(f"mode: {mode}\nrules:\n- name: r\n  {body}\n", encoding="utf-8")
    return path


def test_rules_file_is_valid() -> None:
    """The service's own rules.yaml passes the checks made at start."""
    rules.load(ROOT / Settings().rules_file)


@pytest.mark.parametrize("kind", BAD_RULES)
def test_bad_rule_is_refused_with_one_line(tmp_path: Path, kind: str) -> None:
    """Each kind of bad rule is refused with one line naming the rule and problem."""
    body, problem = BAD_RULES[kind]
    if kind == "set wrong type":
        try:
            TypeAdapter(Output.model_fields[FIELD].annotation).validate_python(
                NOT_A_VALUE
            )
            pytest.skip(f"Output.{FIELD} accepts any value")
        except ValidationError:
            pass
    with pytest.raises(rules.RulesError) as error:
        rules.load(write(tmp_path, body))
    message = str(error.value)
    assert "\n" not in message and "rule 'r'" in message and problem in message


def test_bad_rules_stop_the_start(tmp_path: Path) -> None:
    """The service refuses to start on a bad rule, with one line, exit code 1."""
    path = write(tmp_path, "when: no_such_field == 1")
    done = subprocess.run(
        [sys.executable, "-m", PACKAGE_NAME],
        env={**os.environ, "RULES_FILE": str(path), "PORT": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no_such_field" in lines[0], done.stderr


@pytest.mark.parametrize("mode", rules.MODES)
def test_rules_change_only_the_answers_they_match(tmp_path: Path, mode: str) -> None:
    """A rule that fires adds its reason; one that does not leaves the answer as is."""
    runtime = Runtime(Settings.from_env({"ARTIFACTS_DIR": str(ROOT / "artifacts")}))
    runtime.load()
    if not runtime.ready:
        pytest.skip(runtime.reason)
    item = example_input()
    [output] = runtime.predict_model([item])
    body = "when: 'false'\n- name: one\n  when: 'true'\n- name: two\n  when: 'true'"
    ruleset = rules.load(write(tmp_path, body, mode))
    [(answer, fired)] = ruleset.apply([item], [output])
    expected = ["one"] if mode == "first" else ["one", "two"]
    assert answer.reasons == list(fired) == expected
    assert answer.model_dump(exclude={"reasons"}) == output.model_dump()
