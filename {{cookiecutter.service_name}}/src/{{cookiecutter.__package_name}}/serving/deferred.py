"""Write request logs and metrics once per burst of requests, not once each."""

import asyncio
from collections.abc import Callable

from . import logs, metrics


class Deferred:
    """Counts requests in flight and flushes their logs and metrics in bulk.

    Each request leaves a log line and a few metric updates in memory. They are
    written IDLE seconds after the last response in flight has been sent (so the log
    and /metrics are exact whenever the worker has been idle that long; /metrics
    writes its own worker's first), and at least every EVERY seconds while requests
    keep coming. A lone caller's next request usually comes sooner than IDLE: its
    requests share one write too, which was a tenth of a lone request's time.
    """

    EVERY = 0.1
    IDLE = 0.005

    def __init__(self, collect: Callable[[], None] = lambda: None) -> None:
        self.collect = collect  # hands over counts made off the loop, if any
        self.in_flight = 0
        self._handle: asyncio.Handle | None = None
        self._soon = False

    def started(self) -> None:
        self.in_flight += 1

    def finished(self) -> None:
        self.in_flight -= 1
        idle = self.in_flight == 0
        if self._handle is not None:
            if self._soon or not idle:
                return
            self._handle.cancel()
        loop = asyncio.get_running_loop()
        self._soon = idle
        self._handle = loop.call_later(self.IDLE if idle else self.EVERY, self.flush)

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.collect()
        metrics.flush(self.in_flight)
        logs.flush()
