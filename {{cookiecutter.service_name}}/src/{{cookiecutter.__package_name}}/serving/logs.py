"""JSON log lines on stdout: one per request, plus sampled predictions."""

import logging
import logging.config
import random
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson

requests = logging.getLogger("service.request")
predictions = logging.getLogger("service.prediction")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object; fields come from extra={"fields": {...}}."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class _Clock:
    """ISO 8601 timestamps in UTC with milliseconds; the date part made once a
    second (formatting it is most of the cost of a log line)."""

    def __init__(self) -> None:
        self.second, self.prefix = 0, ""

    def __call__(self, seconds: float) -> str:
        whole = int(seconds)
        if whole != self.second:
            self.second = whole
            moment = datetime.fromtimestamp(whole, UTC)
            self.prefix = moment.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self.prefix}.{int((seconds - whole) * 1000):03d}+00:00"


timestamp = _Clock()
_lines: list[bytes] = []  # request lines of this worker, written by flush()


def request(fields: dict[str, Any]) -> None:
    """Queue the request's line (JsonFormatter's shape); flush() writes the queue."""
    if requests.isEnabledFor(logging.INFO):
        line = {  # one dict literal: half the cost of a dict, then update(**fields)
            "ts": timestamp(time.time()),
            "level": "INFO",
            "logger": requests.name,
            "msg": "request",
            **fields,
        }
        _lines.append(orjson.dumps(line, default=str))


def flush() -> None:
    """Write the queued request lines to stdout in one go."""
    if not _lines:
        return
    data = b"\n".join(_lines) + b"\n"
    _lines.clear()
    stream = sys.stdout
    if hasattr(stream, "buffer"):
        stream.buffer.write(data)
    else:
        stream.write(data.decode())
    stream.flush()


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


def sampled(rate: float) -> bool:
    """Whether to log this request's prediction (a share `rate` of requests)."""
    return bool(rate) and random.random() < rate


def log_prediction(
    fields: dict[str, Any], redact: str = "", message: str = "prediction"
) -> None:
    """Log inputs and outputs of a sampled request, to check them later; the
    fields named in `redact` (comma-separated) show as "[redacted]"."""
    names = {name.strip() for name in redact.split(",")} - {""}
    predictions.info(message, extra={"fields": _redacted(fields, names)})


def _redacted(data: Any, names: set[str]) -> Any:
    if not names:
        return data
    if isinstance(data, dict):
        return {
            k: "[redacted]" if k in names else _redacted(v, names)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_redacted(item, names) for item in data]
    return data
