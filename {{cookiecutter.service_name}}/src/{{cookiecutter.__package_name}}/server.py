"""Start the service: check settings, share a metrics folder, run the workers."""

import atexit
import os
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from sanic.exceptions import RequestTimeout
from sanic.http import Stage
from sanic.server.protocols.http_protocol import HttpProtocol

from . import rules
from .config import PACKAGE_NAME
from .settings import Settings, SettingsError


def metrics_folder(settings: Settings) -> Path:
    """An empty folder the workers share for their metrics (wiped at every start)."""
    if settings.metrics_dir:
        folder = Path(settings.metrics_dir)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder
    folder = Path(tempfile.mkdtemp(prefix=f"{PACKAGE_NAME}-metrics-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _harden_worker_manager() -> None:
    """Two fixes to Sanic's worker manager, the parent of the worker processes.

    1. Sanic's SIGTERM/SIGINT handler stops the workers inside the signal handler,
       which can interrupt the manager while it talks to its shared worker-state
       proxy and crash it (exit 1, not 0). Post the documented "__TERMINATE__"
       message to the manager's own monitor loop instead: same shutdown, outside
       the handler.
    2. Sanic does not replace a worker that dies (OOM kill, segfault in a native
       library): the service would run on fewer workers, or none. Restart it.
    (No import of .metrics here: this process must create no metric of its own.)
    """
    from prometheus_client.multiprocess import mark_process_dead
    from sanic.log import error_logger
    from sanic.worker.manager import WorkerManager
    from sanic.worker.process import ProcessState

    original_signal, original_sync = (
        WorkerManager.shutdown_signal,
        WorkerManager._sync_states,
    )

    def shutdown_signal(self: WorkerManager, signum: int, frame: object) -> None:
        if self._shutting_down:  # a second signal: let Sanic kill the workers
            return original_signal(self, signum, frame)
        self.monitor_publisher.send("__TERMINATE__")

    def sync_states(self: WorkerManager) -> None:
        original_sync(self)
        for worker in self.transient.values():
            for process in worker.processes:
                if process.state is ProcessState.FAILED and not self._shutting_down:
                    code = process.exitcode
                    error_logger.error(
                        f"worker {process.pid} died ({code}); restarting"
                    )
                    mark_process_dead(process.pid)  # its live gauges
                    self.restart(process_names=[process.name])

    WorkerManager.shutdown_signal = shutdown_signal
    WorkerManager._sync_states = sync_states


class Protocol(HttpProtocol):
    """Sanic's HTTP protocol, with REQUEST_TIMEOUT covering the body as well.

    Sanic cuts off a client that pauses longer than REQUEST_TIMEOUT while sending
    headers (408), but once the headers are in, a client that stalls mid-body holds
    its connection until RESPONSE_TIMEOUT. Here a stalled body gets the same 408.
    """

    def check_timeouts(self) -> None:
        http = self._http
        if (
            http is not None
            and http.stage is Stage.HANDLER
            and http.request_body  # the body is still arriving
            and time.monotonic() - self._time > self.request_timeout
        ):
            http.exception = RequestTimeout("the request body stalled")
            http.request_body = None  # answer 408 and close, not wait for the rest
            self._task.cancel()
            return
        super().check_timeouts()


def main() -> None:
    """Entry point of `python -m <package>` and of the container."""
    try:
        settings = Settings.from_env()
        rules.load(settings.rules_file)  # a bad rule stops the start here
    except (SettingsError, rules.RulesError) as error:
        sys.exit(f"error: {error}")
    # Set before prometheus_client is imported here or in any worker process.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder(settings))

    from prometheus_client.multiprocess import mark_process_dead
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from .app import create_app

    _harden_worker_manager()
    loader = AppLoader(factory=partial(create_app, settings=settings))
    app = loader.load()
    # Importing the app made this process's own live gauges (in-flight 0, not ready):
    # it serves nothing, so drop them from the workers' sums and minimums.
    mark_process_dead(os.getpid())
    app.prepare(
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        protocol=Protocol,
        access_log=False,
        motd=False,
    )
    Sanic.serve(primary=app, app_loader=loader)
