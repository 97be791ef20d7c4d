"""The JSON error envelope every failed request answers with."""

import logging
from typing import Any

import orjson
from sanic import HTTPResponse, Request
from sanic.exceptions import SanicException

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error with a status, a stable code and a message safe to show a caller."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details, headers or {}


def envelope(request: Request, error: ServiceError) -> HTTPResponse:
    """Render an error as {"error": {"code", "message", "request_id", "details"}};
    on the Open Inference Protocol routes (/v2) as {"error": "message"}, 400 for
    every invalid input (the request id is in the X-Request-ID header)."""
    if request.path == "/v2" or request.path.startswith("/v2/"):
        return _v2(error)
    body = {
        "code": error.code,
        "message": error.message,
        "request_id": getattr(request.ctx, "request_id", None),
        "details": error.details,
    }
    return HTTPResponse(
        orjson.dumps({"error": body}),
        status=error.status,
        headers=error.headers,
        content_type="application/json",
    )


def _v2(error: ServiceError) -> HTTPResponse:
    message, status = error.message, error.status
    if status == 422 and isinstance(error.details, list):  # field by field
        problems = [f"{d.get('field')}: {d.get('message')}" for d in error.details]
        message, status = f"{message}: {'; '.join(problems)}", 400
    return HTTPResponse(
        orjson.dumps({"error": message}),
        status=status,
        headers=error.headers,
        content_type="application/json",
    )


def handle(request: Request, exception: Exception) -> HTTPResponse:
    """Handle every exception: known ones keep their status, others are 500."""
    if isinstance(exception, ServiceError):
        return envelope(request, exception)
    if isinstance(exception, SanicException):  # 404, 405, 413, 408 ... raised by Sanic
        status = exception.status_code
        code = _SANIC_CODES.get(status, "http_error")
        message = str(exception) if status < 500 else "internal error"
        headers = dict(getattr(exception, "headers", None) or {})  # e.g. Allow on 405
        return envelope(request, ServiceError(status, code, message, headers=headers))
    log.error(
        "unhandled error",
        exc_info=exception,
        extra={"request_id": getattr(request.ctx, "request_id", None)},
    )
    return envelope(request, ServiceError(500, "internal_error", "internal error"))


_SANIC_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "body_too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}
