"""Bad answers are refused with one clear line, and nothing is written."""

import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment
from cookiecutter.exceptions import FailedHookException, OutputDirExistsException

from harness.template import CHOICES, ROOT

BAD_NAMES = [
    "",
    "Iris",
    "iris_classifier",
    "-iris",
    "iris-",
    "1iris",
    "iris classifier",
    "iris.classifier",
    "a/b",
    "a/b/c",
    "/iris",
    "iris/",
    "iris/../etc",
    'iris"; import os; os.system("echo pwned") #',
    "iris'); rm -rf / #",
    "$(touch pwned)",
    "{% raw %}{{ 7 * 7 }}{% endraw %}",
    "iris\nclassifier",
    "iris\\classifier",
    "../iris",
    "iris`id`",
    "iris;ls",
    "iris|cat",
    "iris&&true",
    "{% raw %}{% if true %}iris{% endif %}{% endraw %}",
    "ïris",
    "іris",  # Cyrillic i
    "a" * 41,
    "class",
    "import",
    "async",
    "json",
    "sanic",
    "numpy",
    "xgboost",
    "onnxruntime",
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_bad_service_name_is_refused_and_nothing_written(
    cookies, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Refused with FailedHookException; the output folder is left exactly as it was
    (no new entry at any depth, not even an empty folder), and so is the cwd."""
    cwd = tmp_path / "cwd"  # a shell injection would write here
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    output = Path(str(cookies._output_factory("check"))).parent
    before = sorted(output.rglob("*"))
    result = cookies.bake(extra_context={"service_name": name})
    if name:
        assert isinstance(result.exception, FailedHookException), result.exception
        lines = str(result.exception).strip().splitlines()
        assert len(lines) <= 1 and "pre_gen_project" not in str(lines), lines
    else:  # cookiecutter itself refuses an empty folder name, before any hook
        assert isinstance(result.exception, OutputDirExistsException)
    # pytest-cookies makes each bake a new output folder (unless it stopped while
    # rendering cookiecutter.json): that folder stays empty.
    new = set(output.rglob("*")) - set(before)
    assert len(new) <= 1 and all(p.parent == output for p in new), sorted(new)
    assert not [p for p in new if any(p.iterdir())], sorted(new)
    assert not list(cwd.iterdir())


@pytest.mark.parametrize("name", ["ab", "iris-classifier", "model2", "a" * 40])
def test_good_service_name_renders(cookies, name: str) -> None:
    assert cookies.bake(extra_context={"service_name": name}).exit_code == 0


def render_hook(tmp_path: Path, name: str) -> Path:
    """Render pre_gen_project.py exactly as cookiecutter does, with this answer."""
    answers = {k: v for k, v in CHOICES.items() if k != "_extensions"}
    context = {"cookiecutter": {**answers, "service_name": name}}
    context["cookiecutter"]["__package_name"] = name.replace("-", "_")
    source = (ROOT / "hooks" / "pre_gen_project.py").read_text(encoding="utf-8")
    hook = tmp_path / "pre_gen_project.py"
    text = StrictEnvironment(context=context).from_string(source).render(**context)
    hook.write_text(text, encoding="utf-8")
    return hook


@pytest.mark.parametrize("name", ["Iris", "a" * 41, "class", 'x"""; print("pwned")'])
def test_hook_says_what_is_allowed_in_one_line(tmp_path: Path, name: str) -> None:
    """The message is one line: the problem, then what is allowed."""
    hook = render_hook(tmp_path, name)
    done = subprocess.run([sys.executable, hook], capture_output=True, text=True)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: service_name")
    assert "lowercase letters, digits and '-'" in lines[0]
    assert "pwned" not in done.stdout
