"""What every request goes through: its id, API_TOKEN, and its log line and metrics."""

import hmac
import itertools
import os
import re
from time import perf_counter

from sanic import HTTPResponse, Request, Sanic

from . import logs, metrics
from .errors import ServiceError
from .settings import Settings

REQUEST_ID = re.compile(r"[\w.:-]{1,128}")


class RequestIds:
    """32 hex digits like uuid4().hex: random per worker, then a counter."""

    def __init__(self) -> None:
        self.prefix, self.counter = os.urandom(8).hex(), itertools.count()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


def guarded_routes(settings: Settings) -> tuple[str, ...]:
    """The path prefixes that need API_TOKEN (none when it is not set)."""
    if not settings.api_token:
        return ()
    guarded = ("/v1/", "/v2/models/", "/openapi.json")
    if settings.api_token_metrics:
        guarded += ("/metrics",)
    if settings.api_token_health:
        guarded += ("/healthz", "/readyz", "/v2/health/")
    return guarded


def check_token(request: Request, token: str) -> None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), token.encode()
    ):
        raise ServiceError(
            401, "unauthorized", "a valid 'Authorization: Bearer <token>' is required"
        )


def add(app: Sanic) -> None:
    """Give every request an id and a timer, check API_TOKEN where it applies, and
    leave one log line and its metrics, written after the response is sent."""
    settings, deferred, runtime = app.ctx.settings, app.ctx.deferred, app.ctx.runtime
    new_id, guarded = RequestIds(), guarded_routes(settings)

    @app.on_request
    async def begin(request: Request) -> None:
        given = request.headers.get("x-request-id", "")
        request.ctx.request_id = given if REQUEST_ID.fullmatch(given) else new_id()
        request.ctx.started = perf_counter()
        request.ctx.instances = 0
        deferred.started()
        if guarded and request.path.startswith(guarded) and request.method != "OPTIONS":
            check_token(request, settings.api_token)  # (a CORS preflight has none)

    @app.on_response
    async def finish(request: Request, response: HTTPResponse) -> None:
        request_id = getattr(request.ctx, "request_id", None) or new_id()
        response.headers["X-Request-ID"] = request_id
        started = getattr(request.ctx, "started", None)
        if started is None:  # failed before begin() ran (e.g. body too large)
            deferred.started()
            started = perf_counter()
        elapsed = perf_counter() - started
        route = request.uri_template or "unmatched"
        metrics.count(metrics.REQUESTS, route, request.method, str(response.status))
        metrics.observe(metrics.LATENCY, elapsed, route)
        fields = {
            "request_id": request_id,
            "method": request.method,
            "route": route,
            "status": response.status,
            "latency_ms": round(elapsed * 1000, 3),
            "model_version": runtime.version,
            "batch_size": getattr(request.ctx, "instances", 0),
        }
        if fired := getattr(request.ctx, "rules", None):
            fields["rules"] = fired
        logs.request(fields)
        deferred.finished()  # writes logs and metrics after the response is sent
