"""The API's documentation: GET /openapi.json, and /docs, Swagger UI over it.

Its files come from the swagger-ui-bundle-v2 package and are served from here, so
the page loads nothing from outside the service. The page and its files are public
(nothing in them describes the model); /openapi.json stays behind API_TOKEN when it
is set: the page then asks for the token once, keeps it for the browser tab and
sends it with the document request and with "Try it out".
"""

from pathlib import Path
from string import Template

from sanic import Blueprint, HTTPResponse, Request
from sanic.exceptions import NotFound
from sanic.response import file, html, raw
from swagger_ui_bundle import swagger_ui_path

from ..config import SERVICE_NAME

DIST = Path(str(swagger_ui_path))
VERSION = DIST.name.rpartition("-")[2]  # in the asset URLs: an update is refetched
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
CACHED = "public, max-age=31536000, immutable"  # a year: the URLs carry VERSION
PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$name: API</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png?v=$version">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css?v=$version">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js?v=$version"></script>
<script>
const key = "$name-api-token", token = sessionStorage.getItem(key);
const isDocument = (url) => new URL(url, location.href).pathname === "/openapi.json";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  requestInterceptor: (request) => {
    if (token && isDocument(request.url)) {
      request.headers.Authorization = "Bearer " + token;
    }
    return request;
  },
  responseInterceptor: (response) => {
    if (response.status === 401 && isDocument(response.url)) {
      const given = prompt("This service needs its API token (API_TOKEN):");
      if (given) {
        sessionStorage.setItem(key, given);
        location.reload();
      }
    }
    return response;
  },
  onComplete: () => token && window.ui.preauthorizeApiKey("bearer", token),
});
</script>
</body>
</html>
""").substitute(name=SERVICE_NAME, version=VERSION)

blueprint = Blueprint("docs")


@blueprint.get("/openapi.json")
async def openapi_document(request: Request) -> HTTPResponse:
    return raw(request.app.ctx.openapi, content_type="application/json")


@blueprint.get("/docs")
async def page(request: Request) -> HTTPResponse:
    return html(PAGE, headers={"Cache-Control": "no-cache"})


@blueprint.get("/docs/assets/<name:str>")  # one route (and metrics label) for all
async def asset(request: Request, name: str) -> HTTPResponse:
    if name not in ASSETS:
        raise NotFound("no such file")
    return await file(
        DIST / name,
        request_headers=request.headers,  # 304 when the browser has it
        mime_type=ASSETS[name],
        headers={"cache-control": CACHED},  # (the key file() looks for)
    )
