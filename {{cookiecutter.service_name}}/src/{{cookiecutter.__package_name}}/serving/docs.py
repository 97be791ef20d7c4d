"""The API's documentation: the OpenAPI document, built once at start."""

from sanic import Blueprint, HTTPResponse, Request
from sanic.response import raw

blueprint = Blueprint("docs")


@blueprint.get("/openapi.json")
async def openapi_document(request: Request) -> HTTPResponse:
    return raw(request.app.ctx.openapi, content_type="application/json")
