"""The OpenAPI document, generated from the pydantic models in model.py."""

from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from .config import SERVICE_NAME, TEMPLATE_VERSION
from .model import Input, Output


class Batch(BaseModel):
    """Several instances in one request."""

    instances: list[Input] = Field(min_length=1)

    model_config = {"extra": "forbid"}  # {"instances": [...], "other": 1} is no batch


class Predictions(BaseModel):
    """One prediction per instance, in the order sent."""

    predictions: list[Output]


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str | None
    details: Any = None


class Error(BaseModel):
    """Every failed request answers with this envelope."""

    error: ErrorBody


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _json(_ref("Error"), "error envelope") for status in statuses}


def document(
    description: str, output: type[Output] = Output, guarded: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Build the OpenAPI 3.1 document once, at start (output: with rule reasons;
    guarded: the path prefixes that need API_TOKEN, declared as bearer security)."""
    models = [(m, "validation") for m in (Input, Output, Batch, Predictions, Error)]
    _, schema = models_json_schema(models, ref_template="#/components/schemas/{model}")
    if output is not Output:  # rules.yaml adds "reasons" to every answer
        answer = output.model_json_schema(ref_template="#/components/schemas/{model}")
        answer.pop("$defs", None)
        schema["$defs"]["Output"] = answer
    status = {"type": "object"}
    predict_body = {"oneOf": [_ref("Input"), _ref("Batch")]}
    answer = {"oneOf": [_ref("Output"), _ref("Predictions")]}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": SERVICE_NAME,
            "version": TEMPLATE_VERSION,
            "description": description,
        },
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "responses": {"200": _json(status, "alive")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: model loaded and warmed up",
                    "responses": {"200": _json(status, "ready"), **_errors(503)},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of all workers",
                    "responses": {
                        "200": {
                            "description": "text format",
                            "content": {"text/plain": {}},
                        }
                    },
                }
            },
            "/v1/predict": {
                "post": {
                    "summary": "Predict one instance, or a batch under 'instances'",
                    "requestBody": {"required": True, **_json(predict_body, "")},
                    "responses": {
                        "200": _json(answer, "one Output, or {'predictions': [...]}"),
                        **_errors(400, 401, 413, 422, 500, 501, 503, 504),
                    },
                }
            },
            "/v1/model": {
                "get": {
                    "summary": "Model metadata and schemas",
                    "responses": {"200": _json(status, "metadata"), **_errors(401)},
                }
            },
        },
        "components": {"schemas": schema["$defs"]},
    }
    if guarded:  # so clients, and the Authorize button of /docs, send the token
        bearer = {"type": "http", "scheme": "bearer"}
        doc["components"]["securitySchemes"] = {"bearer": bearer}
        for path, item in doc["paths"].items():
            if path.startswith(guarded):
                for operation in item.values():
                    operation["security"] = [{"bearer": []}]
                    operation["responses"].setdefault("401", _errors(401)["401"])
    return doc
