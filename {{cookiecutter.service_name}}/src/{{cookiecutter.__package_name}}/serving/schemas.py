"""The request and answer models around Input and Output, for parsing and the docs."""

from typing import Any

from pydantic import BaseModel, Field

from ..model import Input, Output


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
