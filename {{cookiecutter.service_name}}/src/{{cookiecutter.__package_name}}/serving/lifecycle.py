"""Each worker's start and stop: its batcher and model load, then a clean drain."""

import gc
import os

from sanic import Sanic

from . import metrics, reload, shadow
from .batching import Batcher
from .runtime import Runtime


def add(app: Sanic) -> None:
    """At start: a batcher over Runtime.predict and the model load in its thread;
    at stop: the batcher ends and this worker's last logs and metrics are written.
    With SHADOW_URL, copies of requests go to the candidate (shadow.py)."""
    app.ctx.shadow = None

    @app.before_server_start
    async def start(app: Sanic) -> None:
        settings, runtime = app.ctx.settings, app.ctx.runtime
        app.ctx.batcher = Batcher(
            runtime.predict,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_batch_wait_ms,
            max_queue=settings.max_queue,
            timeout=settings.predict_timeout,
            inline_max_ms=settings.inline_predict_max_ms,
        )
        app.ctx.batcher.start()
        for name in runtime.rules.names:
            metrics.RULE_FIRINGS.labels(name)  # exported as 0 before it first fires
        app.ctx.loaded = False
        reload.listen(app)  # SIGHUP: rules.yaml again
        app.add_task(_load(app))
        app.ctx.shadow = shadow.start(settings)  # copies to SHADOW_URL, if set

    @app.after_server_stop
    async def stop(app: Sanic) -> None:
        await app.ctx.batcher.stop()
        if app.ctx.shadow:
            await app.ctx.shadow.stop()
        app.ctx.runtime.flush_counts(now=True)
        app.ctx.deferred.flush()
        metrics.worker_stopped(os.getpid())


async def _load(app: Sanic) -> None:
    runtime: Runtime = app.ctx.runtime
    await app.ctx.batcher.in_thread(runtime.load)
    app.ctx.batcher.estimate.record(runtime.warm_up)  # the fast path's first call
    # The model lives as long as the worker: keep the garbage collector from walking
    # its objects again and again (pauses while serving, seconds at exit).
    gc.freeze()
    metrics.model_info(runtime.version, runtime.digest, runtime.rules.digest)
    app.ctx.loaded = True
    metrics.MODEL_READY.set(1 if runtime.ready else 0)
