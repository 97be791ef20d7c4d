"""Run a command and get its output, or an error carrying the end of it."""

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


class CommandFailed(AssertionError):
    """A command exited non-zero (an AssertionError, so a test fails with it)."""


def completed(
    command: Sequence[object], cwd: Path | None, timeout: float | None, env: dict
) -> subprocess.CompletedProcess:
    """Run `command` (with PYTHONDONTWRITEBYTECODE=1 and `env` over os.environ)."""
    done = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        output = (done.stdout + done.stderr)[-6000:]
        raise CommandFailed(f"{' '.join(map(str, command))} failed:\n{output}")
    return done


def run(
    command: Sequence[object], cwd: Path | None = None, timeout: float = 600, **env: str
) -> str:
    """Run a command; its stdout and stderr together. CommandFailed if it fails."""
    done = completed(command, cwd, timeout, env)
    return done.stdout + done.stderr


def sh(*command: object, cwd: Path | None = None, **env: str) -> str:
    """Run a command; its stdout alone. CommandFailed if it fails."""
    return completed(command, cwd, None, env).stdout


def log(message: str) -> None:
    """A timestamped progress line on stderr (stdout is for the report)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
