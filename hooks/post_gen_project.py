"""Remove what the chosen options do not need, record the template, print next steps."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

SERVICE_NAME = json.loads(
    r"""
{{ cookiecutter.service_name | tojson }}
""".strip()
)
PACKAGE_NAME = json.loads(
    r"""
{{ cookiecutter.__package_name | tojson }}
""".strip()
)
ML_LIBRARY = json.loads(
    r"""
{{ cookiecutter.ml_library | tojson }}
""".strip()
)

# Where the template came from, so `make template-update` (cruft) can find it again.
TEMPLATE = json.loads(
    r"""
{{ cookiecutter._template | tojson }}
""".strip()
)
# The template's local folder (or clone); absent when cruft renders.
REPO_DIR = json.loads(
    r"""
{{ cookiecutter._repo_dir | default("") | tojson }}
""".strip()
)
# Set by cruft in its own renders, where cruft writes .cruft.json itself.
CRUFT_RENDER = json.loads(
    r"""
{{ cookiecutter._commit | default("") | tojson }}
""".strip()
)

# Paths (relative to the rendered service) that the chosen library does not use.
# Empty today: library-specific content is included at render time from
# templates/libraries/<name>/. (artifacts/README.md stays for every library: git
# keeps no empty folder, and the image build copies artifacts/.)
REMOVE_PATHS: dict[str, list[str]] = {}

NEXT_STEPS = f"""
Rendered {SERVICE_NAME}. Next:
  1. cd {SERVICE_NAME} && make install
  2. copy your trained model into artifacts/ and write predict() in
     src/{PACKAGE_NAME}/model.py (and load() if the default does not fit)
  3. make test, then make run (and, in another shell, make predict)
"""


def git(*args: str) -> str:
    """Output of a read-only git command in the template folder, or '' (no git)."""
    try:
        done = subprocess.run(
            ["git", "-C", REPO_DIR, *args], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def template_source() -> str:
    """A URL or an absolute path that cruft can clone (abbreviations such as gh:x
    and relative paths are not)."""
    if "://" in TEMPLATE or TEMPLATE.startswith("git@") or Path(TEMPLATE).is_absolute():
        return TEMPLATE
    if not REPO_DIR:
        return TEMPLATE
    if ":" in TEMPLATE:  # an abbreviation: cookiecutter cloned it into REPO_DIR
        return git("remote", "get-url", "origin") or TEMPLATE
    return str(Path(REPO_DIR).resolve())


def record_template() -> None:
    """Write .cruft.json (template, commit, answers) and align .cookiecutter.json."""
    answers_file = Path(".cookiecutter.json")
    answers = json.loads(answers_file.read_text(encoding="utf-8"))
    answers["_template"] = template_source()
    text = json.dumps(answers, indent=2, sort_keys=True) + "\n"  # as jsonify(2)
    answers_file.write_text(text, encoding="utf-8")
    context = {k: v for k, v in answers.items() if k != "_template_version"}
    state = {
        "template": answers["_template"],
        "commit": git("rev-parse", "HEAD") or None,  # None: run `cruft link` once
        "checkout": None,
        "context": {"cookiecutter": context},
        "directory": None,
        "skip": [],
    }
    text = json.dumps(state, indent=2) + "\n"
    Path(".cruft.json").write_text(text, encoding="utf-8")


def main() -> int:
    if not CRUFT_RENDER:
        record_template()
    for relative in REMOVE_PATHS.get(ML_LIBRARY, []):
        path = Path(relative)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    print(NEXT_STEPS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
