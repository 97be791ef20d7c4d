"""Render a service from this template, install it, start it, wait until it is ready.

Shared by the bench scripts and scripts/bench_validate.py. A Server listens on
127.0.0.1 only and runs in its own process group, so stopping it ends its workers
and nothing else.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
PIP = ("-m", "pip", "install", "-q", "--disable-pip-version-check")


def sh(*command: object, cwd: Path | None = None, env: dict | None = None) -> str:
    """Run a command, return its stdout; exit with the end of its output on failure."""
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode:
        output = (done.stdout + done.stderr)[-3000:]
        sys.exit(f"{' '.join(map(str, command))} failed:\n{output}")
    return done.stdout


def render(folder: Path, python: object = sys.executable, **context: str) -> Path:
    """Render the template into `folder` with `python` (it has cookiecutter), the
    answers in `context`; return the service's folder. Replay files stay in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "cookiecutter.yaml"
    config.write_text(
        f"replay_dir: {folder / 'replay'}\ncookiecutters_dir: {folder / 'cc'}\n"
    )
    answers = [f"{key}={value}" for key, value in context.items()]
    sh(python, "-m", "cookiecutter", "--no-input", "--output-dir", folder,
       "--config-file", config, TEMPLATE, *answers)  # fmt: skip
    defaults = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    return folder / context.get("service_name", defaults["service_name"])


def install(service: Path, folder: Path, *first: str) -> Path:
    """A fresh virtual environment in `folder` with the packages `first` (if any),
    then the service; return its python."""
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    if first:
        sh(python, *PIP, *first)
    sh(python, *PIP, service)
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m <package>` of a rendered service, its src/ first on the path, with
    WORKERS workers; the constructor returns once GET /readyz answers 200, which it
    does only when every worker has its model loaded and warmed up."""

    def __init__(
        self, python: object, service: Path, workers: int = 2, **env: str
    ) -> None:
        self.name, self.port = service.name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = {"HOST": "127.0.0.1", "PORT": str(self.port)}
        settings |= {"WORKERS": str(workers), "PYTHONPATH": str(service / "src")}
        # stderr to a file for the reasons of a failed start; stdout (the request log)
        # is dropped. stop() closes the file.
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(python), "-m", service.name.replace("-", "_")],
            cwd=service,
            env={**os.environ, **settings, **env},
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            start_new_session=True,
        )
        try:
            self._wait_ready(timeout=180)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline, why = time.monotonic() + timeout, "no answer"
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=5):
                    return
            except urllib.error.HTTPError as error:  # 503 and the reason
                why = f"{error.code} {error.read().decode(errors='replace')}"
            except OSError as error:
                why = str(error)
            time.sleep(0.1)
        self.stderr.seek(0)
        log = self.stderr.read()[-3000:].decode(errors="replace")
        sys.exit(f"the {self.name} service did not become ready: {why}\n{log}")

    def stop(self) -> int:
        """SIGTERM (the service drains and exits); SIGKILL its group after 60 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        self.stderr.close()
        return code

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def tree(pid: int) -> list[int]:
    """The process and all its descendants, parents first (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop(0))
        todo += children.get(found[-1], [])
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of one process in MB; 0 if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0
