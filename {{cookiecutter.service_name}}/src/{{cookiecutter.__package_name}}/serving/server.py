"""Start the service: check settings, rules and dependencies, share a metrics
folder, run the workers. `python -m <package>` and the container call main().

prometheus_client reads PROMETHEUS_MULTIPROC_DIR when it is first imported, so this
module imports nothing that imports it before main() has set it: app, metrics and
the rest are imported inside main(). tests/test_compat.py checks this.
"""

import atexit
import logging
import os
import shutil
import sys
import tempfile
from functools import partial
from pathlib import Path

from ..config import MODEL_FILE, PACKAGE_NAME
from . import compat, logs, storage
from .settings import Settings, SettingsError

log = logging.getLogger(__name__)


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


def check() -> Settings:
    """Settings, model.py's imports, rules and dependencies, checked; one line and
    exit 1 if not."""
    try:
        settings = Settings.from_env()
        from . import rules  # imports model.py, and so the model's library
    except SettingsError as error:
        sys.exit(f"error: {error}")
    except ModuleNotFoundError as error:
        sys.exit(
            f"error: {MODEL_FILE} needs {error.name!r}, which is not installed: add"
            " its package to dependencies in pyproject.toml, then `make install`"
        )
    try:
        rules.load(settings.rules_file)  # a bad rule stops the start here
    except rules.RulesError as error:
        sys.exit(f"error: {error}")
    if problem := storage.check(settings.artifacts_uri):
        sys.exit(f"error: {problem}")
    if problems := compat.check():
        sys.exit(
            f"error: {problems[0]}; install the versions pyproject.toml allows"
            " (make install), or update the service from the template"
        )
    return settings


def main() -> None:
    """Entry point of `python -m <package>` and of the container."""
    settings = check()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder(settings))
    if settings.artifacts_uri:
        storage.reset(settings.artifacts_dir)  # the workers fetch the files

    from prometheus_client.multiprocess import mark_process_dead
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from . import monitoring, reload
    from .app import create_app

    compat.harden_worker_manager()
    loader = AppLoader(factory=partial(create_app, settings=settings))
    app = loader.load()
    # Importing the app made this process's own live gauges (in-flight 0, not ready):
    # it serves nothing, so drop them from the workers' sums and minimums.
    mark_process_dead(os.getpid())
    app.prepare(
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        protocol=compat.Protocol,
        access_log=False,
        motd=False,
    )
    logs.configure(settings.log_level)
    url = f"http://{settings.host}:{settings.port}"
    log.info(
        f"listening on {url} with {settings.workers} workers; {url}/readyz answers"
        " 200 once every worker has loaded its model and made a warm-up prediction"
    )
    log.info(monitoring.describe())
    reload.watch(app, settings.rules_file)  # rules.yaml: warnings; SIGHUP reloads
    _write_pid(settings)
    Sanic.serve(primary=app, app_loader=loader)


def _write_pid(settings: Settings) -> None:
    """PID_FILE (set by `make run`): where `make reload` finds this process."""
    if settings.pid_file:
        path = Path(settings.pid_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{os.getpid()}\n", encoding="utf-8")
        atexit.register(path.unlink, missing_ok=True)
