"""The model's routes: POST /v1/predict and GET /v1/model."""

import asyncio
import logging
from time import perf_counter

import orjson
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import raw

from ..config import ML_LIBRARY, SERVICE_NAME, TEMPLATE_VERSION
from ..model import Input, Output
from . import logs, metrics, monitoring, rules, shadow
from .batching import QueueFull
from .errors import ServiceError
from .health import not_ready
from .inputs import parse
from .openapi import ANSWER, PREDICT_BODY, STATUS, json_body, operation

blueprint = Blueprint("predict")
log = logging.getLogger(__name__)
JSON = "application/json"


@blueprint.post("/v1/predict")
@operation(
    "Predict one instance, or a batch under 'instances'",
    json_body(ANSWER, "one Output, or {'predictions': [...]}"),
    (400, 401, 413, 422, 500, 501, 503, 504),
    body=PREDICT_BODY,
)
async def predict(request: Request) -> HTTPResponse:
    ctx = request.app.ctx
    runtime, settings = ctx.runtime, ctx.settings
    inputs, batched = parse(request.body, settings.max_instances)
    request.ctx.instances = len(inputs)
    outputs = await answer(request, inputs)
    body = runtime.rules.adapter.dump_json(outputs)
    body = b'{"predictions":' + body + b"}" if batched else body[1:-1]
    if ctx.shadow:  # a copy for the candidate, sent later by another task
        request_id, count = request.ctx.request_id, len(inputs)
        ctx.shadow.offer(shadow.Copy(request_id, request.body, body, batched, count))
    return raw(body, content_type=JSON)


@blueprint.get("/v1/model")
@operation("Model metadata and schemas", json_body(STATUS, "metadata"), (401,))
async def model_info(request: Request) -> HTTPResponse:
    runtime, settings = request.app.ctx.runtime, request.app.ctx.settings
    body = {
        "service": SERVICE_NAME,
        "description": request.app.ctx.description,
        "model_version": runtime.version,
        "library": ML_LIBRARY,
        "artifact_digest": runtime.digest,
        "rules_digest": runtime.rules.digest,
        "template_version": TEMPLATE_VERSION,
        "ready": runtime.ready,
        "limits": {
            "max_batch_size": settings.max_batch_size,
            "max_instances": settings.max_instances,
            "max_body_bytes": settings.max_body_bytes,
        },
        "input_schema": Input.model_json_schema(),
        "output_schema": runtime.rules.answer.model_json_schema(),
    }
    return raw(orjson.dumps(body), content_type=JSON)


async def answer(request: Request, inputs: list[Input]) -> list[Output]:
    """The answers to these inputs, as every route gives them: batched, rules
    counted and named in the log line, monitored, sampled into the prediction log.
    501 while predict() is the stub, 503 while the model is not ready."""
    runtime = request.app.ctx.runtime
    if not runtime.ready:
        raise not_ready(runtime, status=501 if runtime.stub else 503)
    results = await _answers(request, inputs)
    outputs = [output for output, _ in results]
    fired = [name for _, names in results for name in names]
    if fired:
        for name in fired:
            metrics.count(metrics.RULE_FIRINGS, name)
        request.ctx.rules = sorted(set(fired))  # named in the request's log line
    monitoring.observe(outputs)
    if logs.sampled(request.app.ctx.settings.prediction_log_rate):
        _log_prediction(request, inputs, outputs)
    return outputs


async def _answers(
    request: Request, inputs: list[Input]
) -> list[tuple[Output, rules.Fired]]:
    """Run inputs through the batcher in chunks of at most MAX_BATCH_SIZE; errors
    become their answers (503, 504, 501, 500)."""
    batcher, settings = request.app.ctx.batcher, request.app.ctx.settings
    size = settings.max_batch_size
    outcome = "error"
    try:
        if len(inputs) <= size:
            results = await batcher.submit(inputs)
        else:
            chunks = [inputs[i : i + size] for i in range(0, len(inputs), size)]
            parts = await asyncio.gather(*(batcher.submit(c) for c in chunks))
            results = [result for part in parts for result in part]
        outcome = "ok"
    except QueueFull:
        outcome = "overloaded"
        raise ServiceError(
            503,
            "overloaded",
            "too many requests are waiting; retry shortly",
            headers={"Retry-After": "1"},
        ) from None
    except TimeoutError:
        outcome = "timeout"
        message = f"no prediction within {settings.predict_timeout} s"
        raise ServiceError(504, "predict_timeout", message) from None
    except NotImplementedError as error:
        raise ServiceError(501, "not_implemented", str(error)) from None
    except rules.RuleFailed as error:
        fields = {"request_id": request.ctx.request_id, "rule": error.args[0]}
        log.error("rule failed", exc_info=error.__cause__, extra={"fields": fields})
        message = f"rule {error.args[0]!r} failed on this input"
        raise ServiceError(500, "rule_failed", message) from None
    except Exception as error:
        fields = {"request_id": request.ctx.request_id}
        log.error("predict failed", exc_info=error, extra={"fields": fields})
        message = "the model failed on this input"
        raise ServiceError(500, "predict_failed", message) from None
    finally:
        metrics.count(metrics.PREDICTIONS, outcome, amount=len(inputs))
    return results


def _log_prediction(request: Request, inputs: list[Input], outputs: list) -> None:
    settings = request.app.ctx.settings
    fields = {
        "request_id": request.ctx.request_id,
        "model_version": request.app.ctx.runtime.version,
        "latency_ms": round((perf_counter() - request.ctx.started) * 1000, 3),
        "inputs": [i.model_dump(mode="json") for i in inputs],
        "outputs": [o.model_dump(mode="json") for o in outputs],
    }
    logs.log_prediction(fields, settings.prediction_log_redact)
