"""Start the service: check settings, share a metrics folder, run the workers."""

import atexit
import os
import shutil
import sys
import tempfile
from functools import partial
from pathlib import Path

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


def main() -> None:
    """Entry point of `python -m <package>` and of the container."""
    try:
        settings = Settings.from_env()
        rules.load(settings.rules_file)  # a bad rule stops the start here
    except (SettingsError, rules.RulesError) as error:
        sys.exit(f"error: {error}")
    # Set before prometheus_client is imported here or in any worker process.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder(settings))

    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from .app import create_app

    loader = AppLoader(factory=partial(create_app, settings=settings))
    app = loader.load()
    app.prepare(
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        motd=False,
    )
    Sanic.serve(primary=app, app_loader=loader)
