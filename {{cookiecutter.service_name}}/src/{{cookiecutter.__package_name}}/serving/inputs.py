"""A request body -> the Input instances it holds (400 bad JSON, 422 bad fields)."""

from typing import Any

import orjson
from pydantic import ValidationError

from ..model import Input
from . import monitoring
from .errors import ServiceError
from .schemas import Batch


def parse(body: bytes, max_instances: int) -> tuple[list[Input], bool]:
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
    inputs = _from_payload(payload, batched)
    if inputs is None:
        try:  # strict JSON validation: "1.5" is no float, true is no number
            inputs = _validate(body, batched)
        except ValidationError as error:
            inputs = _retry_ints(payload, batched, error)
        else:  # valid JSON that Python validation refused: always JSON from now on
            _Payload.enabled = False
    monitoring.unknown(instances if batched else [payload])  # ignored, but counted
    return inputs, batched


class _Payload:
    """Whether to validate the payload orjson decoded rather than the body again:
    a fraction of the cost (W2: 3 us against 16 us for 256 floats). From JSON's types
    strict Python validation accepts what strict JSON validation does, with the
    same values; where it refuses, parse() validates the body as JSON, as before,
    so 422 messages stay JSON's ("a valid array", not "a valid list"). An Input with
    a type Python validation takes only as itself (datetime, Enum...) turns it off.
    """

    enabled = True


def _from_payload(payload: Any, batched: bool) -> list[Input] | None:
    """The inputs validated from the decoded payload, or None: validate the body."""
    if not _Payload.enabled:
        return None
    try:
        if batched:
            return Batch.model_validate(payload, strict=True).instances
        return [Input.model_validate(payload, strict=True)]
    except ValidationError:
        return None


def _retry_ints(payload: Any, batched: bool, error: ValidationError) -> list[Input]:
    """Validate again with 2.0 as 2 for int fields; else 422 naming each field."""
    if _integral_floats_to_ints(payload, error):
        try:
            return _validate(orjson.dumps(payload), batched)
        except ValidationError as second:
            error = second
    raise rejected(error) from None


def rejected(error: ValidationError, *within: str) -> ServiceError:
    """422 naming each field at fault (its path under `within`), counted."""
    details = [
        {
            "field": ".".join(str(part) for part in (*within, *e["loc"])) or "(body)",
            "message": e["msg"],
            "type": e["type"],
        }
        for e in error.errors(include_url=False, include_input=False)
    ]
    monitoring.invalid(details)
    return ServiceError(
        422, "invalid_input", "the body does not fit the schema", details
    )


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
