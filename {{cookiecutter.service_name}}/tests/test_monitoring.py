"""deploy/monitoring/ (alert rules, dashboard) is what `make monitoring` writes."""

from pathlib import Path

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
