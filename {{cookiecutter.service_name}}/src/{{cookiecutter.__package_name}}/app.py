"""create_app(): the Sanic application and its routes."""

import asyncio
import gc
import hmac
import itertools
import os
import re
from collections.abc import Callable
from importlib import metadata
from time import perf_counter
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from sanic import HTTPResponse, Request, Sanic
from sanic.response import raw

from . import cors, errors, logs, metrics, monitoring, openapi, rules
from .batching import Batcher, QueueFull
from .config import ML_LIBRARY, SERVICE_NAME, TEMPLATE_VERSION
from .deferred import Deferred
from .errors import ServiceError
from .model import Input, Output
from .openapi import Batch
from .runtime import Runtime
from .serving import docs
from .settings import Settings

OUTPUTS = TypeAdapter(list[Output])
REQUEST_ID = re.compile(r"[\w.:-]{1,128}")
JSON = "application/json"


def _description() -> str:
    try:
        return metadata.metadata(SERVICE_NAME)["Summary"] or ""
    except metadata.PackageNotFoundError:
        return ""


def create_app(*, settings: Settings | None = None) -> Sanic:
    """Build the app; Sanic calls this in every worker process."""
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    app = Sanic(SERVICE_NAME, configure_logging=False)
    app.config.update(
        REQUEST_MAX_SIZE=settings.max_body_bytes,
        REQUEST_TIMEOUT=settings.request_timeout,
        RESPONSE_TIMEOUT=settings.predict_timeout + 5,
        KEEP_ALIVE_TIMEOUT=settings.keep_alive_timeout,
        GRACEFUL_SHUTDOWN_TIMEOUT=settings.graceful_shutdown_timeout,
        NOISY_EXCEPTIONS=False,
        FALLBACK_ERROR_FORMAT="json",
    )
    app.error_handler.add(Exception, errors.handle)
    runtime = Runtime(settings)
    app.ctx.runtime = runtime
    ruleset = rules.load(settings.rules_file)  # None: no rules, no work per request
    answer = rules.Answer if ruleset else Output
    answers = ruleset.adapter if ruleset else OUTPUTS
    description = _description()
    guarded = _guarded_routes(settings)
    openapi_doc = orjson.dumps(openapi.document(description, answer, guarded))

    deferred = Deferred()
    id_prefix, id_counter = os.urandom(8).hex(), itertools.count()

    def new_id() -> str:
        """32 hex digits like uuid4().hex: random per worker, then a counter."""
        return f"{id_prefix}{next(id_counter):016x}"

    @app.before_server_start
    async def start(app: Sanic) -> None:
        app.ctx.batcher = Batcher(
            _with_rules(runtime.predict, ruleset) if ruleset else runtime.predict,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_batch_wait_ms,
            max_queue=settings.max_queue,
            timeout=settings.predict_timeout,
        )
        app.ctx.batcher.start()
        for name in ruleset.names if ruleset else ():
            metrics.RULE_FIRINGS.labels(name)  # exported as 0 before it first fires
        app.add_task(_load(runtime, app.ctx.batcher))

    @app.after_server_stop
    async def stop(app: Sanic) -> None:
        await app.ctx.batcher.stop()
        deferred.flush()
        metrics.worker_stopped(os.getpid())

    @app.on_request
    async def begin(request: Request) -> None:
        given = request.headers.get("x-request-id", "")
        request.ctx.request_id = given if REQUEST_ID.fullmatch(given) else new_id()
        request.ctx.started = perf_counter()
        request.ctx.instances = 0
        deferred.started()
        if guarded and request.path.startswith(guarded) and request.method != "OPTIONS":
            _check_token(request, settings.api_token)  # (a CORS preflight has none)

    @app.on_response
    async def finish(request: Request, response: HTTPResponse) -> None:
        request_id = getattr(request.ctx, "request_id", None) or new_id()
        response.headers["X-Request-ID"] = request_id
        started = getattr(request.ctx, "started", None)
        if started is None:  # failed before on_request ran (e.g. body too large)
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

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return raw(b'{"status":"ok"}', content_type=JSON)

    @app.get("/readyz")
    async def readyz(request: Request) -> HTTPResponse:
        if not runtime.ready:
            raise _not_ready(runtime, status=503)
        if not metrics.every_worker_ready(settings.workers):  # not on one of them
            raise ServiceError(503, "not_ready", "other workers are still loading")
        return raw(
            orjson.dumps({"status": "ready", "model_version": runtime.version}),
            content_type=JSON,
        )

    @app.get("/metrics")
    async def metrics_route(request: Request) -> HTTPResponse:
        deferred.flush()
        body, content_type = metrics.render()
        return raw(body, content_type=content_type)

    @app.get("/openapi.json")
    async def openapi_route(request: Request) -> HTTPResponse:
        return raw(openapi_doc, content_type=JSON)

    @app.get("/v1/model")
    async def model_info(request: Request) -> HTTPResponse:
        body = {
            "service": SERVICE_NAME,
            "description": description,
            "model_version": runtime.version,
            "library": ML_LIBRARY,
            "artifact_digest": runtime.digest,
            "template_version": TEMPLATE_VERSION,
            "ready": runtime.ready,
            "limits": {
                "max_batch_size": settings.max_batch_size,
                "max_instances": settings.max_instances,
                "max_body_bytes": settings.max_body_bytes,
            },
            "input_schema": Input.model_json_schema(),
            "output_schema": answer.model_json_schema(),
        }
        return raw(orjson.dumps(body), content_type=JSON)

    @app.post("/v1/predict")
    async def predict(request: Request) -> HTTPResponse:
        inputs, batched = _parse(request.body, settings.max_instances)
        request.ctx.instances = len(inputs)
        if not runtime.ready:
            raise _not_ready(runtime, status=501 if runtime.stub else 503)
        batcher, request_id = request.app.ctx.batcher, request.ctx.request_id
        outputs = await _predict(batcher, inputs, settings, request_id)
        if ruleset:
            outputs = _count_fired(outputs, request)
        body = answers.dump_json(outputs)
        body = b'{"predictions":' + body + b"}" if batched else body[1:-1]
        monitoring.observe(outputs)
        if logs.sampled(settings.prediction_log_rate):
            logs.log_prediction(
                {
                    "request_id": request.ctx.request_id,
                    "model_version": runtime.version,
                    "latency_ms": round(
                        (perf_counter() - request.ctx.started) * 1000, 3
                    ),
                    "inputs": [i.model_dump(mode="json") for i in inputs],
                    "outputs": [o.model_dump(mode="json") for o in outputs],
                },
                settings.prediction_log_redact,
            )
        return raw(body, content_type=JSON)

    app.blueprint(docs.blueprint)
    cors.add(app, settings.origins)
    return app


async def _load(runtime: Runtime, batcher: Batcher) -> None:
    await batcher.in_thread(runtime.load)
    # The model lives as long as the worker: keep the garbage collector from walking
    # its objects again and again (pauses while serving, seconds at exit).
    gc.freeze()
    metrics.MODEL_INFO.labels(runtime.version, ML_LIBRARY, runtime.digest[:12]).set(1)
    metrics.MODEL_READY.set(1 if runtime.ready else 0)


def _with_rules(
    predict: Callable[[list[Input]], list[Output]], ruleset: rules.RuleSet
) -> Callable[[list[Input]], list[tuple[rules.Answer, list[str]]]]:
    """predict(), then rules.yaml on each instance: both in the predict thread, off
    the event loop. Each instance gets (its answer, the names of the rules fired)."""

    def predict_with_rules(inputs: list[Input]) -> list[tuple[rules.Answer, list[str]]]:
        outputs = predict(inputs)
        return [ruleset.apply_one(i, o) for i, o in zip(inputs, outputs, strict=True)]

    return predict_with_rules


def _count_fired(
    results: list[tuple[rules.Answer, list[str]]], request: Request
) -> list[rules.Answer]:
    """Count the rules that fired on this request in /metrics and name them in its log
    line; return the answers."""
    fired = [name for _, names in results for name in names]
    for name in fired:
        metrics.count(metrics.RULE_FIRINGS, name)
    request.ctx.rules = sorted(set(fired))
    return [answer for answer, _ in results]


def _guarded_routes(settings: Settings) -> tuple[str, ...]:
    """The path prefixes that need API_TOKEN (none when it is not set)."""
    if not settings.api_token:
        return ()
    guarded = ("/v1/", "/openapi.json")
    if settings.api_token_metrics:
        guarded += ("/metrics",)
    if settings.api_token_health:
        guarded += ("/healthz", "/readyz")
    return guarded


def _check_token(request: Request, token: str) -> None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), token.encode()
    ):
        raise ServiceError(
            401, "unauthorized", "a valid 'Authorization: Bearer <token>' is required"
        )


def _not_ready(runtime: Runtime, status: int) -> ServiceError:
    code = "not_implemented" if runtime.stub else "not_ready"
    return ServiceError(status, code, runtime.reason)


def _parse(body: bytes, max_instances: int) -> tuple[list[Input], bool]:
    """Body -> (inputs, is it a batch); 400 for bad JSON, 422 for bad fields."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ServiceError(
            400, "malformed_json", f"the body is not valid JSON: {error}"
        ) from None
    batched = isinstance(payload, dict) and list(payload) == ["instances"]
    instances = payload["instances"] if batched else None
    if isinstance(instances, list) and not 1 <= len(instances) <= max_instances:
        message = f"send 1 to {max_instances} instances"
        details = [{"field": "instances", "message": message}]
        raise ServiceError(
            422, "invalid_input", "the body does not fit the schema", details
        )
    try:  # strict JSON validation: "1.5" is no float, true is no number
        return _validate(body, batched), batched
    except ValidationError as error:
        if _integral_floats_to_ints(payload, error):  # 2.0 for an int field
            try:
                return _validate(orjson.dumps(payload), batched), batched
            except ValidationError as second:
                error = second
        details = [
            {
                "field": ".".join(str(part) for part in e["loc"]) or "(body)",
                "message": e["msg"],
                "type": e["type"],
            }
            for e in error.errors(include_url=False, include_input=False)
        ]
        monitoring.invalid(details)
        raise ServiceError(
            422, "invalid_input", "the body does not fit the schema", details
        ) from None


def _validate(body: bytes, batched: bool) -> list[Input]:
    if batched:
        return Batch.model_validate_json(body, strict=True).instances
    return [Input.model_validate_json(body, strict=True)]


def _integral_floats_to_ints(payload: Any, error: ValidationError) -> bool:
    """JSON Schema counts 2.0 as an integer, strict pydantic does not: turn the
    floats it refused for int fields into ints in payload; True if any changed."""
    changed = False
    for problem in error.errors(include_url=False):
        value = problem.get("input")
        if problem["type"] != "int_type" or not isinstance(value, float):
            continue
        *path, last = problem["loc"]
        try:
            parent = payload
            for key in path:
                parent = parent[key]
            if value.is_integer() and parent[last] == value:
                parent[last], changed = int(value), True
        except (KeyError, IndexError, TypeError):  # loc names a union member, say
            continue
    return changed


async def _predict(
    batcher: Batcher, inputs: list[Input], settings: Settings, request_id: str
) -> list[Any]:
    """Run inputs through the batcher in chunks of at most MAX_BATCH_SIZE."""
    size = settings.max_batch_size
    outcome = "error"
    try:
        if len(inputs) <= size:
            outputs = await batcher.submit(inputs)
        else:
            chunks = [inputs[i : i + size] for i in range(0, len(inputs), size)]
            results = await asyncio.gather(*(batcher.submit(c) for c in chunks))
            outputs = [output for chunk in results for output in chunk]
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
        fields = {"request_id": request_id, "rule": error.args[0]}
        errors.log.error(
            "rule failed", exc_info=error.__cause__, extra={"fields": fields}
        )
        message = f"rule {error.args[0]!r} failed on this input"
        raise ServiceError(500, "rule_failed", message) from None
    except Exception as error:
        fields = {"request_id": request_id}
        errors.log.error("predict failed", exc_info=error, extra={"fields": fields})
        message = "the model failed on this input"
        raise ServiceError(500, "predict_failed", message) from None
    finally:
        metrics.count(metrics.PREDICTIONS, outcome, amount=len(inputs))
    return outputs
