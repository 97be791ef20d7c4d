"""Open Inference Protocol (v2) tensors <-> Input and Output fields.

One tensor per field, named after it; the first dimension is the batch:

    bool -> BOOL [-1]    int -> INT64 [-1]    float -> FP64 [-1]    str -> BYTES [-1]
    a list of those -> [-1, k] (k: its fixed length, else -1; equal in one request)
    anything else (dicts, nested models, lists of text) -> BYTES [-1], JSON text
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

import orjson
from pydantic import BaseModel

from .errors import ServiceError

INTS = tuple(f"{kind}{bits}" for kind in ("INT", "UINT") for bits in (8, 16, 32, 64))
FLOATS = ("FP16", "FP32", "FP64")
SCALARS: dict[type, tuple[str, tuple[str, ...]]] = {  # datatype, datatypes accepted
    bool: ("BOOL", ("BOOL",)),
    int: ("INT64", INTS),
    float: ("FP64", FLOATS + INTS),
    str: ("BYTES", ("BYTES",)),
}
ELEMENT = {"BOOL": bool, "BYTES": str, **dict.fromkeys(INTS, int)}
ALLOWED = {  # the types of a datatype's elements, as JSON gives them (no bool as int)
    **{datatype: {kind} for datatype, kind in ELEMENT.items()},
    **dict.fromkeys(FLOATS, {int, float}),
}
RANGES = {  # of each integer datatype; FP elements that are JSON integers: INT64's
    **{f"INT{b}": (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for b in (8, 16, 32, 64)},
    **{f"UINT{b}": (0, 2**b - 1) for b in (8, 16, 32, 64)},
}


@dataclass(frozen=True)
class Tensor:
    """How one field travels as a tensor."""

    name: str
    datatype: str
    shape: tuple[int, ...]  # -1: any size; the first is the batch
    accepted: tuple[str, ...]  # datatypes a request may send for it
    as_json: bool = False  # each element is the field's value as JSON text

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


def _bare(annotation: Any) -> Any:
    """The type under Annotated[...] (and a Literal's value type)."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) is Literal and get_args(annotation):
        return type(get_args(annotation)[0])
    return annotation


def describe(model: type[BaseModel]) -> dict[str, Tensor]:
    """The tensors of a model's fields by name, in their order."""
    tensors = []
    for name, info in model.model_fields.items():
        kind = _bare(info.annotation)
        if kind in SCALARS:
            tensors.append(Tensor(name, *SCALARS[kind][:1], (-1,), SCALARS[kind][1]))
            continue
        item = _bare(get_args(kind)[0]) if get_origin(kind) is list else None
        if item in SCALARS and item is not str:
            low = [m.min_length for m in info.metadata if hasattr(m, "min_length")]
            high = [m.max_length for m in info.metadata if hasattr(m, "max_length")]
            size = low[0] if low and high and low[0] == high[0] else -1
            datatype, accepted = SCALARS[item]
            tensors.append(Tensor(name, datatype, (-1, size), accepted))
            continue
        tensors.append(Tensor(name, "BYTES", (-1,), ("BYTES",), as_json=True))
    return {tensor.name: tensor for tensor in tensors}


def bad(message: str) -> ServiceError:
    return ServiceError(400, "invalid_tensor", message)


def _flat(data: Any, name: str) -> tuple[list[Any], set[type]]:
    """Row-major data, flat or nested, as one flat list, and its elements' types
    (found in one pass in C: a Python loop per element costs more than the model)."""
    if not isinstance(data, list):
        raise bad(f"input {name!r}: 'data' must be a list")
    kinds = set(map(type, data))
    if list not in kinds:
        return data, kinds
    flat: list[Any] = []
    for item in data:
        flat.extend(_flat(item, name)[0] if isinstance(item, list) else [item])
    return flat, set(map(type, flat))


def _check_elements(
    values: list[Any], kinds: set[type], datatype: str, name: str
) -> None:
    if not kinds <= ALLOWED[datatype]:
        want = ELEMENT.get(datatype)
        kind = "numbers" if want is None else f"{want.__name__} values"
        raise bad(f"input {name!r}: data of datatype {datatype} must be {kind}")
    if int in kinds:
        low, high = RANGES.get(datatype, RANGES["INT64"])
        ints = values if len(kinds) == 1 else [v for v in values if type(v) is int]
        if min(ints) < low or max(ints) > high:
            value = next(v for v in ints if not low <= v <= high)
            raise bad(f"input {name!r}: {value} is out of range for {datatype}")


def rows(inputs: Any, known: dict[str, Tensor], max_instances: int) -> list[dict]:
    """The request's "inputs" -> one dict of field values per instance; 400 for a
    wrong name, datatype, shape or element."""
    if not isinstance(inputs, list) or not inputs:
        raise bad("'inputs' must be a non-empty list of tensors")
    columns: dict[str, list[Any]] = {}
    batch = None
    for given in inputs:
        if not isinstance(given, dict):
            raise bad("each input must be an object with name, datatype, shape, data")
        name, datatype = given.get("name"), given.get("datatype")
        tensor = known.get(name) if isinstance(name, str) else None
        if tensor is None:
            raise bad(f"unknown input {name!r}; the inputs are {', '.join(known)}")
        if name in columns:
            raise bad(f"input {name!r} is given twice")
        if datatype not in tensor.accepted:
            expected = ", ".join(tensor.accepted)
            raise bad(f"input {name!r} has datatype {datatype!r}; expected {expected}")
        shape = given.get("shape")
        if (  # [batch] or [batch, k]: tensor.shape is (-1,) or (-1, k or -1)
            not isinstance(shape, list)
            or len(shape) != len(tensor.shape)
            or set(map(type, shape)) != {int}
            or min(shape) < 1
            or tensor.shape[-1] not in (-1, shape[-1])
        ):
            expected = list(tensor.shape)
            raise bad(f"input {name!r} has shape {shape!r}; expected {expected}")
        if batch not in (None, shape[0]):
            raise bad(f"input {name!r} has {shape[0]} rows; other inputs have {batch}")
        batch = shape[0]
        if not 1 <= batch <= max_instances:
            raise bad(f"send 1 to {max_instances} instances; got {batch}")
        data, kinds = _flat(given.get("data"), name)
        size = batch * (shape[1] if len(shape) > 1 else 1)
        if len(data) != size:
            count = len(data)
            raise bad(f"input {name!r}: shape {shape} needs {size} values, not {count}")
        _check_elements(data, kinds, datatype, name)
        columns[name] = _column(tensor, data, batch)
    if len(columns) == 1:  # (the usual case, made quicker)
        ((name, column),) = columns.items()
        return [{name: value} for value in column]
    by_row = zip(*columns.values(), strict=True)
    return [dict(zip(columns, row, strict=True)) for row in by_row]


def _column(tensor: Tensor, data: list[Any], batch: int) -> list[Any]:
    if len(tensor.shape) > 1:
        if batch == 1:
            return [data]
        width = len(data) // batch
        return [data[i * width : (i + 1) * width] for i in range(batch)]
    if not tensor.as_json:
        return data
    try:
        return [orjson.loads(text) for text in data]
    except orjson.JSONDecodeError:
        raise bad(f"input {tensor.name!r}: each element must be JSON text") from None


def outputs(answers: list[dict], tensors: Iterable[Tensor]) -> list[dict[str, Any]]:
    """Answers (as JSON-ready dicts) -> one output tensor per field."""
    result = []
    for tensor in tensors:
        column = [answer[tensor.name] for answer in answers]
        shape = [len(column)]
        if tensor.as_json:
            column = [orjson.dumps(value).decode() for value in column]
        elif len(tensor.shape) > 1 and len(column) == 1:
            column = column[0]
            shape.append(len(column))
        elif len(tensor.shape) > 1:
            widths = {len(value) for value in column}
            if len(widths) > 1:
                message = f"output {tensor.name!r} has rows of different lengths"
                raise ServiceError(500, "ragged_output", message)
            shape.append(widths.pop())
            column = [item for value in column for item in value]
        result.append(
            {
                "name": tensor.name,
                "datatype": tensor.datatype,
                "shape": shape,
                "data": column,
            }
        )
    return result
