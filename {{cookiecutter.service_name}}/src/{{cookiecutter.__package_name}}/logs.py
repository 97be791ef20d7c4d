"""JSON log lines on stdout: one per request, plus sampled predictions."""

import logging
import logging.config
import random
from datetime import UTC, datetime
from typing import Any

import orjson

requests = logging.getLogger("service.request")
predictions = logging.getLogger("service.prediction")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object; fields come from extra={"fields": {...}}."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(level: str) -> None:
    """Send our loggers and Sanic's through the JSON formatter."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stdout",
    }
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {"stdout": handler},
            "root": {"level": level, "handlers": ["stdout"]},
            "loggers": {
                name: {"level": level, "handlers": [], "propagate": True}
                for name in (
                    "sanic.root",
                    "sanic.error",
                    "sanic.server",
                    "sanic.access",
                )
            },
        }
    )


def log_prediction(rate: float, fields: dict[str, Any], redact: str = "") -> None:
    """Log inputs and outputs for a sampled share of requests, to check them later;
    the fields named in `redact` (comma-separated) show as "[redacted]"."""
    if rate and random.random() < rate:
        names = {name.strip() for name in redact.split(",")} - {""}
        predictions.info("prediction", extra={"fields": _redacted(fields, names)})


def _redacted(data: Any, names: set[str]) -> Any:
    if isinstance(data, dict):
        return {
            k: "[redacted]" if k in names else _redacted(v, names)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_redacted(item, names) for item in data]
    return data
