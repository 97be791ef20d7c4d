"""The Open Inference Protocol (v2) REST routes, as KServe, Triton and MLServer
serve them: health, model metadata and infer, through the same path as /v1/predict.

Its errors are {"error": "..."} (errors.py); tensors.py maps tensors to fields.
"""

from collections.abc import Iterable
from functools import cache
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import raw

from ..config import ML_LIBRARY, SERVICE_NAME, TEMPLATE_VERSION
from ..model import Input
from . import tensors
from .errors import ServiceError
from .health import check_ready
from .inputs import parse, rejected
from .predict import answer

blueprint = Blueprint("v2")
JSON = "application/json"
PREFIX = "/v2"
INPUTS = TypeAdapter(list[Input])  # rows of field values -> a batch of Input


def _json(body: object) -> HTTPResponse:
    return raw(orjson.dumps(body), content_type=JSON)


@cache
def _tensors(model: type) -> dict[str, tensors.Tensor]:
    return tensors.describe(model)


@cache
def _as_json(model: type) -> bool:
    """Whether any field of the model travels as JSON text."""
    return any(t.as_json for t in _tensors(model).values())


def _model(name: str) -> None:
    if name != SERVICE_NAME:
        message = f"unknown model {name!r}; this service serves {SERVICE_NAME!r}"
        raise ServiceError(404, "model_not_found", message)


@blueprint.get(PREFIX)
async def server_metadata(request: Request) -> HTTPResponse:
    return _json({"name": SERVICE_NAME, "version": TEMPLATE_VERSION, "extensions": []})


@blueprint.get(f"{PREFIX}/health/live")
async def live(request: Request) -> HTTPResponse:
    return _json({"live": True})


@blueprint.get(f"{PREFIX}/health/ready")
async def ready(request: Request) -> HTTPResponse:
    check_ready(request)  # what /readyz says
    return _json({"ready": True})


@blueprint.get(f"{PREFIX}/models/<name:str>")
async def model_metadata(request: Request, name: str) -> HTTPResponse:
    _model(name)
    runtime = request.app.ctx.runtime
    body = {
        "name": SERVICE_NAME,
        "versions": [runtime.version],
        "platform": f"modelservice-{ML_LIBRARY}",
        "inputs": [t.metadata() for t in _tensors(Input).values()],
        "outputs": [t.metadata() for t in _tensors(runtime.rules.answer).values()],
    }
    return _json(body)


@blueprint.get(f"{PREFIX}/models/<name:str>/ready")
async def model_ready(request: Request, name: str) -> HTTPResponse:
    _model(name)
    check_ready(request)
    return _json({"name": SERVICE_NAME, "ready": True})


@blueprint.post(f"{PREFIX}/models/<name:str>/infer")
async def infer(request: Request, name: str) -> HTTPResponse:
    _model(name)
    if "inference-header-content-length" in request.headers:
        message = "binary tensor data is not supported; send the tensors as JSON"
        raise tensors.bad(message)
    payload = _payload(request.body)
    runtime, settings = request.app.ctx.runtime, request.app.ctx.settings
    rows = tensors.rows(payload.get("inputs"), _tensors(Input), settings.max_instances)
    selected = _requested(payload.get("outputs"), _tensors(runtime.rules.answer))
    inputs = _inputs(rows, settings.max_instances)
    request.ctx.instances = len(inputs)
    outputs = await answer(request, inputs)
    answers = runtime.rules.adapter.dump_python(outputs, mode="json")
    body: dict[str, Any] = {"model_name": SERVICE_NAME}
    body["model_version"] = runtime.version
    if "id" in payload:
        body["id"] = payload["id"]
    body["outputs"] = tensors.outputs(answers, selected)
    return _json(body)


def _inputs(rows: list[dict[str, Any]], max_instances: int) -> list[Input]:
    """The same validation as /v1/predict's (strict types, bounds; 422 -> 400 here).
    Plain fields straight from the rows; fields sent as JSON text (dates, nested
    models ...) through /v1/predict's parser, since strict Python would refuse them."""
    if _as_json(Input):
        try:
            batch = orjson.dumps({"instances": rows})
        except TypeError:  # an integer over 64 bits inside a JSON (BYTES) element
            raise tensors.bad("a value is out of range") from None
        return parse(batch, max_instances)[0]
    try:
        return INPUTS.validate_python(rows, strict=True)
    except ValidationError as error:
        raise rejected(error, "instances") from None


def _payload(raw_body: bytes) -> dict[str, Any]:
    """The inference request object; 400 unless it is one."""
    try:
        payload = orjson.loads(raw_body)
    except orjson.JSONDecodeError as error:
        raise tensors.bad(f"the body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise tensors.bad("the body must be an inference request object")
    if not isinstance(payload.get("id", ""), str):
        raise tensors.bad("'id' must be a string")
    if not isinstance(payload.get("parameters", {}), dict):
        raise tensors.bad("'parameters' must be an object")
    return payload


def _requested(
    wanted: Any, by_name: dict[str, tensors.Tensor]
) -> Iterable[tensors.Tensor]:
    """The outputs a request names, in its order (all of them when it names none)."""
    if wanted is None or wanted == []:
        return by_name.values()
    if not isinstance(wanted, list) or not all(isinstance(w, dict) for w in wanted):
        raise tensors.bad("'outputs' must be a list of objects with a name")
    names = [w.get("name") for w in wanted]
    unknown = [n for n in names if not isinstance(n, str) or n not in by_name]
    if unknown:
        message = f"unknown output {unknown[0]!r}; the outputs are {', '.join(by_name)}"
        raise tensors.bad(message)
    return [by_name[n] for n in dict.fromkeys(names)]
