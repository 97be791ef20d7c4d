"""A rendered service as a real server: `python -m <package>` on a free port of
127.0.0.1, in its own process group, its output in a file of the service folder."""

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path

from harness import client
from harness.template import package
from harness.waiting import wait_until


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def source_env(service: Path) -> dict[str, str]:
    """Environment to run a rendered service from its own src/ (over an installed
    copy of it)."""
    return {"PYTHONPATH": str(service / "src")}


class Server:
    """`python -m <package>` of a rendered service with WORKERS (default 2) workers.

    Its log is server-<port>.log, its workers' metrics files metrics-<port>/, both in
    the service folder, so several servers can run from one folder. `quiet` drops
    the request log (stdout; for load tests), keeping stderr. As a context manager
    it waits until ready on entry and stops on exit.
    """

    def __init__(
        self, python: object, service: Path, quiet: bool = False, **env: str
    ) -> None:
        self.name, self.port = service.name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (service / f"server-{self.port}.log").open("w+", encoding="utf-8")
        self.metrics = service / f"metrics-{self.port}"  # the workers' shared files
        settings = {"HOST": "127.0.0.1", "PORT": str(self.port), "WORKERS": "2", **env}
        settings["METRICS_DIR"] = str(self.metrics)
        self.workers = int(settings["WORKERS"])
        health = settings.get("API_TOKEN_HEALTH") == "1"  # /readyz needs the token
        self.health_token = settings.get("API_TOKEN", "") if health else ""
        self.process = subprocess.Popen(
            [str(python), "-m", package(service)],
            cwd=service,
            env={**os.environ, **source_env(service), **settings},
            stdout=subprocess.DEVNULL if quiet else self.log,
            stderr=self.log if quiet else subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() reaches workers
        )

    def request(
        self,
        path: str,
        body: object = None,
        token: str = "",
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> tuple[int, dict, bytes]:
        """One request; body: JSON-able, or bytes sent as they are."""
        return client.request(self.url + path, body, token, headers, method)

    def send_raw(self, data: bytes) -> bytes:
        """Send bytes as they are (a request cut short, say); return all the server
        answers until it closes the connection (TimeoutError after 15 s)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=15) as sock:
            sock.sendall(data)
            return read_to_end(sock)

    def ready(self) -> bool:
        """/readyz answers 200 and every worker's model_ready gauge is 1 (read from
        its metrics file where prometheus_client is importable: /readyz answers for
        whichever worker takes the connection)."""
        assert self.process.poll() is None, f"the server exited:\n{self.output()}"
        try:
            if self.request("/readyz", token=self.health_token)[0] != 200:
                return False
        except OSError:  # not listening yet
            return False
        try:
            from harness.metrics import ready_workers
        except ImportError:  # a bare python3 running a bench script
            return True
        return ready_workers(self.metrics) >= self.workers

    def wait_ready(self, timeout: float = 180) -> None:
        """Every worker has loaded and warmed up its model, and /readyz says so."""
        wait_until(self.ready, timeout, lambda: f"not ready:\n{self.output()}", 0.1)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (the service drains and exits); its exit code. Then SIGKILL its
        group, for workers that outlive it."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the main process and its workers (they outlive it otherwise)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def output(self, tail: int = 6000) -> str:
        """The end of its log (all of it with tail=0)."""
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8")[-tail:]

    def __enter__(self) -> "Server":
        try:
            self.wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):  # killed all the same
            self.stop(timeout=60)
        self.log.close()


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends on this connection until it closes it."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer
