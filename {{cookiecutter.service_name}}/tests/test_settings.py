"""Settings come from the environment and are checked at start."""

import os
import subprocess
import sys

import pytest

from {{ cookiecutter.__package_name }}.config import PACKAGE_NAME
from {{ cookiecutter.__package_name }}.serving.settings import (
    Settings,
    SettingsError,
)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "eighty"),
        ("WORKERS", "0"),
        ("LOG_LEVEL", "LOUD"),
        ("PREDICT_TIMEOUT", "nan"),
        ("INLINE_PREDICT_MAX_MS", "-1"),
        ("SHADOW_URL", "candidate:8001"),
    ],
)
def test_bad_setting_stops_start_with_one_line(variable: str, value: str) -> None:
    """The service refuses to start, with one line naming the variable."""
    env = {**os.environ, variable: value}
    done = subprocess.run(
        [sys.executable, "-m", PACKAGE_NAME],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], done.stderr


def test_settings_are_typed() -> None:
    """Values are converted to the type of their default."""
    settings = Settings.from_env({"PORT": "9000", "MAX_BATCH_WAIT_MS": "2.5"})
    assert settings.port == 9000
    assert settings.max_batch_wait_ms == 2.5
    with pytest.raises(SettingsError, match="MAX_BATCH_SIZE"):
        Settings.from_env({"MAX_BATCH_SIZE": "-1"})
