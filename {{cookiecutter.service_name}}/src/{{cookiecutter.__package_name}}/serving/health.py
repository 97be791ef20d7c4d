"""Routes for the platform: liveness, readiness and Prometheus metrics."""

import orjson
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import raw

from . import metrics
from .errors import ServiceError
from .openapi import STATUS, json_body, operation
from .runtime import Runtime

blueprint = Blueprint("health")
JSON = "application/json"


@blueprint.get("/healthz")
@operation("Liveness", json_body(STATUS, "alive"))
async def healthz(request: Request) -> HTTPResponse:
    return raw(b'{"status":"ok"}', content_type=JSON)


@blueprint.get("/readyz")
@operation("Readiness: model loaded and warmed up", json_body(STATUS, "ready"), (503,))
async def readyz(request: Request) -> HTTPResponse:
    check_ready(request)
    body = {"status": "ready", "model_version": request.app.ctx.runtime.version}
    return raw(orjson.dumps(body), content_type=JSON)


@blueprint.get("/metrics")
@operation(
    "Prometheus metrics of all workers",
    {"description": "text format", "content": {"text/plain": {}}},
)
async def metrics_route(request: Request) -> HTTPResponse:
    request.app.ctx.deferred.flush()
    body, content_type = metrics.render()
    return raw(body, content_type=content_type)


def check_ready(request: Request) -> None:
    """503 with the reason unless this worker and every other one are ready."""
    runtime, settings = request.app.ctx.runtime, request.app.ctx.settings
    if not runtime.ready:
        raise not_ready(runtime, status=503)
    if not metrics.every_worker_ready(settings.workers):  # not on one of them
        raise ServiceError(503, "not_ready", "other workers are still loading")


def not_ready(runtime: Runtime, status: int) -> ServiceError:
    """The answer while the model is not ready: why, and 501 for the stub."""
    code = "not_implemented" if runtime.stub else "not_ready"
    return ServiceError(status, code, runtime.reason)
