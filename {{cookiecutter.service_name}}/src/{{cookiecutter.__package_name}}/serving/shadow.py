"""Shadow traffic: a copy of a share of requests to a candidate (SHADOW_URL), compared.

After a request has been answered, offer() puts its body and answer on this worker's
bounded queue (when full, the copy is dropped and counted). One task sends the copies
to the candidate over one keep-alive connection, each within SHADOW_TIMEOUT_MS,
compares the answers field by field and counts the outcome. Nothing here can delay,
change or fail the caller's answer.
"""

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from time import perf_counter
from typing import Any
from urllib.parse import urlsplit

import orjson

from . import logs, metrics
from .settings import Settings

log = logging.getLogger(__name__)
OUTCOMES = ("agree", "disagree", "error", "timeout", "dropped")
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def compare(
    primary: dict[str, Any], candidate: dict[str, Any], tolerance: float, top: int
) -> tuple[list[str], dict[str, float]]:
    """The fields on which two answers disagree, and the largest absolute difference
    of each field holding numbers. Numbers agree within `tolerance`; scores (a
    mapping or list of numbers) and ranked lists when their `top` best items are the
    same, in the same order; anything else (labels, strings) when equal."""
    differ, differences = [], {}
    for name in sorted(primary.keys() | candidate.keys()):
        a, b = primary.get(name), candidate.get(name)
        difference = _difference(a, b)
        if difference is not None:
            differences[name] = difference
        if _number(a) and _number(b):
            agree = abs(a - b) <= tolerance
        elif isinstance(a, dict | list) and isinstance(b, dict | list):
            agree = _ranked(a)[:top] == _ranked(b)[:top]
        else:
            agree = a == b
        if not agree:
            differ.append(name)
    return differ, differences


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scores(value: object) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return isinstance(value, dict | list) and bool(value) and all(map(_number, items))


def _ranked(value: dict | list) -> list:
    """A mapping's keys or a list's indexes, best score first; other lists as is."""
    if not _scores(value):
        return list(value) if isinstance(value, list) else sorted(value.items())
    if isinstance(value, dict):
        return sorted(value, key=value.__getitem__, reverse=True)
    return sorted(range(len(value)), key=value.__getitem__, reverse=True)


def _difference(a: object, b: object) -> float | None:
    if _number(a) and _number(b):
        return abs(a - b)  # type: ignore[operator]
    if not (_scores(a) and _scores(b)) or type(a) is not type(b):
        return None
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return max(abs(a[k] - b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return max(abs(x - y) for x, y in zip(a, b, strict=True))
    return None


@dataclass
class Copy:
    """A request as this service answered it, waiting to go to the candidate."""

    request_id: str
    body: bytes  # the request's body, as the caller sent it
    answer: bytes  # this service's answer to it
    batched: bool
    instances: int


class Shadow:
    """This worker's queue of copies and the task that sends them."""

    def __init__(self, settings: Settings) -> None:
        self.settings, url = settings, urlsplit(settings.shadow_url)
        self.tls = url.scheme == "https"
        self.host, self.port = url.hostname or "", url.port or (443 if self.tls else 80)
        head = f"POST {url.path.rstrip('/')}/v1/predict HTTP/1.1\r\nHost: {url.netloc}"
        head += "\r\nContent-Type: application/json\r\n"
        if settings.api_token:  # the same code: the same token, if it has one
            head += f"Authorization: Bearer {settings.api_token}\r\n"
        self.head = head
        self.queue: asyncio.Queue[Copy] = asyncio.Queue(settings.shadow_queue)
        self._streams: Streams | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        for outcome in OUTCOMES:
            metrics.SHADOW.labels(outcome)  # exported as 0 before the first one
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close()

    def offer(self, copy: Copy) -> None:
        """Queue a copy of a share SHADOW_RATE of requests; never waits."""
        if random.random() >= self.settings.shadow_rate:
            return
        try:
            self.queue.put_nowait(copy)
        except asyncio.QueueFull:
            metrics.count(metrics.SHADOW, "dropped", amount=copy.instances)

    async def _run(self) -> None:
        while True:
            copy = await self.queue.get()
            try:
                outcomes = await self._send(copy)
            except Exception as error:  # a bug here must not stop the shadowing
                log.error("shadow comparison failed", exc_info=error)
                outcomes = ["error"] * copy.instances
            for outcome in outcomes:
                metrics.SHADOW.labels(outcome).inc()

    async def _send(self, copy: Copy) -> list[str]:
        """Send one copy and compare; one outcome per instance."""
        started = perf_counter()
        try:
            async with asyncio.timeout(self.settings.shadow_timeout_ms / 1000):
                status, body = await self._post(copy)
        except TimeoutError:
            self._close()  # its answer may still come: not on this connection
            return ["timeout"] * copy.instances
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            self._close()
            return ["error"] * copy.instances
        metrics.SHADOW_LATENCY.observe(perf_counter() - started)
        ours, theirs = _answers(copy.answer, copy.batched), _answers(body, copy.batched)
        if status != 200 or len(ours) != len(theirs):
            return ["error"] * copy.instances
        settings, outcomes = self.settings, []
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            differ, differences = compare(
                a, b, settings.shadow_tolerance, settings.shadow_rank_top
            )
            for name, difference in differences.items():
                metrics.SHADOW_DIFFERENCE.labels(name).observe(difference)
            outcomes.append("disagree" if differ else "agree")
            if differ and logs.sampled(settings.shadow_log_rate):
                fields = {
                    "request_id": copy.request_id,
                    "instance": i,
                    "fields": differ,
                    "input": _inputs(copy.body, copy.batched)[i],
                    "primary": a,
                    "candidate": b,
                }
                redact = settings.prediction_log_redact
                logs.log_prediction(fields, redact, "shadow disagreement")
        return outcomes

    async def _post(self, copy: Copy) -> tuple[int, bytes]:
        """POST the copy on the kept-alive connection (a new one if it went away)."""
        reused = self._streams is not None
        if self._streams is None:
            ssl = True if self.tls else None
            self._streams = await asyncio.open_connection(self.host, self.port, ssl=ssl)
        reader, writer = self._streams
        head = f"{self.head}Content-Length: {len(copy.body)}\r\n"
        head += f"X-Request-ID: {copy.request_id}\r\n\r\n"
        writer.write(head.encode() + copy.body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line and reused:  # the candidate closed an idle connection
            self._close()
            return await self._post(copy)
        status, length, close = int(status_line.split()[1]), -1, False
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            close = close or (name == "connection" and value == "close")
        if length < 0:
            raise ValueError("the candidate's answer has no Content-Length")
        body = await reader.readexactly(length)
        if close:
            self._close()
        return status, body

    def _close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


def _answers(body: bytes, batched: bool) -> list[Any]:
    data = orjson.loads(body)
    return data["predictions"] if batched else [data]


def _inputs(body: bytes, batched: bool) -> list[Any]:
    data = orjson.loads(body)
    return data["instances"] if batched else [data]


def start(settings: Settings) -> Shadow | None:
    """This worker's shadow, running; None without SHADOW_URL."""
    if not settings.shadow_url:
        return None
    shadow = Shadow(settings)
    shadow.start()
    return shadow
