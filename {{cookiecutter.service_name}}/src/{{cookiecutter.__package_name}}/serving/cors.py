"""CORS, for browser apps calling the service: off unless CORS_ORIGINS is set.

Off, no response carries an Access-Control header and browsers on other sites
cannot read answers. On, an allowed Origin gets its CORS headers and preflight
(OPTIONS) requests are answered for every route.
"""

from sanic import HTTPResponse, Request, Sanic

from .errors import ServiceError

ALLOW_HEADERS = "Authorization, Content-Type, X-Request-ID"
EXPOSE_HEADERS = "X-Request-ID, Retry-After"
MAX_AGE = "600"  # seconds a browser may reuse a preflight answer


def add(app: Sanic, origins: list[str]) -> None:
    """Answer CORS for these origins ("*": any); none: CORS stays off."""
    if not origins:
        return
    methods = {route.uri: route.methods for route in app.router.routes}

    def allowed(request: Request) -> str | None:
        origin = request.headers.get("origin")
        return origin if origin and ("*" in origins or origin in origins) else None

    async def preflight(request: Request) -> HTTPResponse:
        if not allowed(request):
            raise ServiceError(403, "origin_not_allowed", "this origin is not allowed")
        allow = ", ".join(sorted(methods[request.route.uri]))
        headers = {
            "Access-Control-Allow-Methods": allow,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": MAX_AGE,
        }
        return HTTPResponse(status=204, headers=headers)

    for uri in methods:
        name = "cors_" + uri.strip("/").replace("/", "_").replace(".", "_")
        app.add_route(preflight, uri, methods=["OPTIONS"], name=name)

    @app.on_response
    async def cors_headers(request: Request, response: HTTPResponse) -> None:
        response.headers["Vary"] = "Origin"
        if origin := allowed(request):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
