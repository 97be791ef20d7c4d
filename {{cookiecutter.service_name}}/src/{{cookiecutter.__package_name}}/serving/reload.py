"""rules.yaml again on SIGHUP (`make reload`), without a restart.

The main process checks the new file first: a bad one is one log line naming the
problem, and the old rules keep serving. A good one is passed on, as SIGHUP, to
every worker process (app.manager's), which reads it and swaps its Runtime's RuleSet
in one assignment: the predict thread reads that once per batch, so a batch never
mixes two rule sets. The main process warns once about rules that are probably
not meant (rules.RuleSet.warnings), at start and at each reload.
"""

import asyncio
import logging
import os
import signal
from pathlib import Path

from sanic import Sanic

from . import metrics, openapi, rules
from .runtime import Runtime

log = logging.getLogger(__name__)


def watch(app: Sanic, path: Path) -> None:
    """In the main process: warn about the rules at start, then check and pass on
    every SIGHUP."""
    serving: rules.RuleSet = app.ctx.runtime.rules  # as the app loaded them
    _warn(serving)

    def hangup(signum: int, frame: object) -> None:
        nonlocal serving
        try:
            new = rules.reload(path, serving)
        except (OSError, ValueError) as error:  # RulesError is a ValueError
            log.error(f"rules not reloaded, the old rules keep serving: {error}")
            return
        serving = new
        log.info(f"reloading {path}: {len(new.rules)} rules, digest {new.digest[:12]}")
        _warn(new)
        # app.manager: Sanic's worker manager (main process only, while serving);
        # its transient processes are the workers (compat.check() looks for them).
        for worker in app.manager.transient_processes:
            if worker.pid:  # None while a worker is being replaced
                os.kill(worker.pid, signal.SIGHUP)

    signal.signal(signal.SIGHUP, hangup)


def listen(app: Sanic) -> None:
    """In a worker: on SIGHUP, serve the rules of RULES_FILE as they are now."""
    runtime: Runtime = app.ctx.runtime
    path = app.ctx.settings.rules_file

    def hangup() -> None:
        try:
            new = rules.reload(path, runtime.rules)
        except (OSError, ValueError) as error:  # changed again since the main's check
            log.error(f"rules not reloaded, the old rules keep serving: {error}")
            return
        for name in new.names:
            metrics.RULE_FIRINGS.labels(name)  # exported as 0 before it first fires
        old, runtime.rules = runtime.rules, new  # the switch: one assignment
        if new.answer is not old.answer:  # the first rules: answers gain `reasons`
            app.ctx.openapi = openapi.serialized(app)
        if app.ctx.loaded:  # model_info names the rules this worker serves
            metrics.model_info(runtime.version, runtime.digest, old.digest, 0)
            metrics.model_info(runtime.version, runtime.digest, new.digest)

    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, hangup)


def _warn(ruleset: rules.RuleSet) -> None:
    for warning in ruleset.warnings:
        log.warning(warning)
