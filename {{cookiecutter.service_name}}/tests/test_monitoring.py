"""deploy/monitoring/ (alert rules, dashboard) is what `make monitoring` writes."""

from pathlib import Path

import pytest

from {{ cookiecutter.__package_name }}.tools import monitoring

FOLDER = Path(__file__).resolve().parents[1] / "deploy" / "monitoring"


def test_monitoring_files_are_the_tools_output() -> None:
    """The rules and dashboard are up to date: `make monitoring` rewrites them."""
    settings = monitoring.written_with(FOLDER)
    for name, text in monitoring.files(**settings).items():
        written = (FOLDER / name).read_text(encoding="utf-8")
        assert written == text, f"deploy/monitoring/{name} is stale: make monitoring"


def test_monitoring_settings_reach_the_rules_and_are_recorded(tmp_path) -> None:
    """A changed threshold lands in the rules and in their header, which the
    check above reads back."""
    monitoring.main(["--out", str(tmp_path), "--psi-warning", "0.2", "--window", "2h"])
    rules = (tmp_path / "rules.yml").read_text(encoding="utf-8")
    assert "> 0.2\n" in rules and "[2h]" in rules and "[1h]" not in rules
    settings = monitoring.written_with(tmp_path)
    assert settings == {**monitoring.DEFAULTS, "psi_warning": 0.2, "window": "2h"}


@pytest.mark.parametrize(
    ("option", "value"), [("--window", "1hour"), ("--psi-warning", "-1")]
)
def test_monitoring_rejects_a_bad_setting_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, option: str, value: str
) -> None:
    """A bad duration or number stops the tool with a line naming it; no file."""
    with pytest.raises(SystemExit) as stopped:
        monitoring.main(["--out", str(tmp_path), option, value])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert option in error and repr(value) in error, error
    assert not list(tmp_path.iterdir())
