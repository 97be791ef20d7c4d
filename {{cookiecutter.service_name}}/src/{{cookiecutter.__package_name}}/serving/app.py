"""create_app(): the Sanic application, put together from the parts of serving/."""

from importlib import metadata

from sanic import Sanic

from ..config import SERVICE_NAME
from . import (
    cors,
    docs,
    errors,
    health,
    lifecycle,
    logs,
    middleware,
    openapi,
    predict,
    v2,
)
from .deferred import Deferred
from .runtime import Runtime
from .settings import Settings


def create_app(*, settings: Settings | None = None) -> Sanic:
    """Build the app; Sanic calls this in every worker process."""
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    app = Sanic(SERVICE_NAME, configure_logging=False)
    app.config.update(
        REQUEST_MAX_SIZE=settings.max_body_bytes,
        REQUEST_TIMEOUT=settings.request_timeout,
        RESPONSE_TIMEOUT=settings.predict_timeout + 5,
        KEEP_ALIVE_TIMEOUT=settings.keep_alive_timeout,
        GRACEFUL_SHUTDOWN_TIMEOUT=settings.graceful_shutdown_timeout,
        NOISY_EXCEPTIONS=False,
        FALLBACK_ERROR_FORMAT="json",
    )
    app.error_handler.add(Exception, errors.handle)
    # State the handlers read, on app.ctx only.
    app.ctx.settings = settings
    app.ctx.runtime = Runtime(settings)  # the model and rules; loaded at start
    app.ctx.deferred = Deferred(app.ctx.runtime.flush_counts)  # logs, metrics: bulk
    app.ctx.description = _description()
    lifecycle.add(app)  # start: batcher and model load; stop: drain
    middleware.add(app)  # request ids, API_TOKEN, one log line per request
    app.blueprint(health.blueprint)  # /healthz /readyz /metrics
    app.blueprint(predict.blueprint)  # /v1/predict /v1/model
    app.blueprint(docs.blueprint)  # /openapi.json /docs
    if settings.v2_enabled:
        app.blueprint(v2.blueprint)  # /v2/...: the Open Inference Protocol
    app.ctx.openapi = openapi.serialized(app)  # from the routes above
    cors.add(app, settings.origins)  # last: it answers preflights for every route
    return app


def _description() -> str:
    try:
        return metadata.metadata(SERVICE_NAME)["Summary"] or ""
    except metadata.PackageNotFoundError:
        return ""
