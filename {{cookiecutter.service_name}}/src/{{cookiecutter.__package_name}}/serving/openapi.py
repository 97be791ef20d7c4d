"""The OpenAPI document, built from the app's routes and the models in model.py.

Each route that belongs in the document says so where it is defined, with
@operation(...); document() walks the app's routes, so a route is listed once.
"""

import copy
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from pydantic.json_schema import models_json_schema

from ..config import SERVICE_NAME, TEMPLATE_VERSION
from ..model import Input, Output
from .middleware import guarded_routes
from .schemas import Batch, Error, Predictions

STATUS = {"type": "object"}
REF = "#/components/schemas/{model}"
PREDICT_BODY = {"oneOf": [{"$ref": REF.format(model=m)} for m in ("Input", "Batch")]}
ANSWER = {"oneOf": [{"$ref": REF.format(model=m)} for m in ("Output", "Predictions")]}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def operation(
    summary: str,
    ok: dict[str, Any],
    errors: tuple[int, ...] = (),
    body: dict[str, Any] | None = None,
) -> Callable[[Callable], Callable]:
    """Mark a route handler for the document: its summary, its 200 answer (see
    json_body) and the statuses it may answer with the error envelope."""
    spec: dict[str, Any] = {"summary": summary}
    if body is not None:
        spec["requestBody"] = {"required": True, **json_body(body, "")}
    error = json_body({"$ref": REF.format(model="Error")}, "error envelope")
    spec["responses"] = {"200": ok, **{str(status): error for status in errors}}

    def mark(handler: Callable) -> Callable:
        handler.__openapi__ = spec  # type: ignore[attr-defined]
        return handler

    return mark


def serialized(app: Any) -> bytes:
    """The document of a Sanic app of this service, as JSON: its routes, Output
    (with `reasons` when rules.yaml has rules), and API_TOKEN's guarded routes."""
    guarded = guarded_routes(app.ctx.settings)  # declared as bearer security
    answer = app.ctx.runtime.rules.answer
    doc = document(app.router.routes, app.ctx.description, answer, guarded)
    return orjson.dumps(doc)


def document(
    routes: Iterable[Any],
    description: str,
    output: type = Output,
    guarded: tuple[str, ...] = (),
) -> dict:
    """The OpenAPI 3.1 document of these Sanic routes (output: the answer model,
    with rule reasons when rules.yaml has rules; guarded: the path prefixes that
    need API_TOKEN, declared as bearer security)."""
    models = [(m, "validation") for m in (Input, Output, Batch, Predictions, Error)]
    _, schema = models_json_schema(models, ref_template=REF)
    if output is not Output:  # rules.yaml adds "reasons" to every answer
        answer = output.model_json_schema(ref_template=REF)
        answer.pop("$defs", None)
        schema["$defs"]["Output"] = answer
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        spec = getattr(route.handler, "__openapi__", None)
        if spec is not None:
            path = paths.setdefault("/" + route.path.lstrip("/"), {})
            for method in sorted(route.methods):
                path[method.lower()] = copy.deepcopy(spec)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": SERVICE_NAME,
            "version": TEMPLATE_VERSION,
            "description": description,
        },
        "paths": paths,
        "components": {"schemas": schema["$defs"]},
    }
    if guarded:  # so clients, and the Authorize button of /docs, send the token
        error = json_body({"$ref": REF.format(model="Error")}, "error envelope")
        doc["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
        for route_path, item in paths.items():
            if route_path.startswith(guarded):
                for spec in item.values():
                    spec["security"] = [{"bearer": []}]
                    spec["responses"].setdefault("401", error)
    return doc
