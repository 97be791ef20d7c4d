"""Render this template (or another checkout of it) into a folder."""

import sys
import tempfile
from pathlib import Path

from harness.commands import run
from harness.template import CHOICES, ROOT


def config(folder: Path) -> Path:
    """A cookiecutter config keeping replay and clone files in `folder`, not $HOME."""
    path = folder / "cookiecutter.yaml"
    path.write_text(
        f"replay_dir: {folder / 'replay'}\ncookiecutters_dir: {folder / 'cc'}\n",
        encoding="utf-8",
    )
    return path


def render(
    folder: Path, python: object = sys.executable, template: Path = ROOT, **context: str
) -> Path:
    """Render `template` into `folder` with `python` (it has cookiecutter) and the
    answers in `context`; return the service's folder."""
    folder.mkdir(parents=True, exist_ok=True)
    answers = [f"{key}={value}" for key, value in context.items()]
    run([python, "-m", "cookiecutter", "--no-input", "--output-dir", folder,
         "--config-file", config(folder), template, *answers])  # fmt: skip
    return folder / context.get("service_name", CHOICES["service_name"])


def bake(cookies, **context: object) -> Path:
    """Render with pytest-cookies' `cookies` and these answers; the service folder."""
    result = cookies.bake(extra_context=context)
    assert result.exit_code == 0, result.exception
    return Path(result.project_path)


def cookies(work: Path):
    """A pytest-cookies `cookies` outside pytest (bench scripts), rendering into
    folders of `work`."""
    from pytest_cookies.plugin import Cookies  # the template's test tools

    def folder(name: str) -> str:
        return tempfile.mkdtemp(prefix=f"{name}-", dir=work)

    return Cookies(str(ROOT), folder, config(work))
