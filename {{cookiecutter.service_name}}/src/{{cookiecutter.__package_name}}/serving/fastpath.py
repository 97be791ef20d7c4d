"""The fast path: when a lone request may run predict() inline on the event loop.

Handing a call to the predict thread and back costs a lone caller more than a
fast model's whole predict(). So when a one-instance request reaches the batcher
with nothing else waiting or running, after a batch of one too (under load batches
are larger), it runs predict() on the event loop if predict() is measured fast:
the slowest of the recent calls (the warm-up first) is under INLINE_PREDICT_MAX_MS.
It lets the loop turn once first and stays alone only if no other request arrived
meanwhile: without that turn a busy worker would take its requests one by one (the
loop, busy with one, has not yet run the others it has read), and they would never
batch. A slower call switches back to the thread at once, and only WINDOW fast
calls in a row bring the fast path back, so a slow model never holds up the loop
(and /healthz) for more than one call.

A call's time is its wall-clock time, except when its thread never waited (no
voluntary context switch: no sleep, I/O, lock or helper thread): then its CPU
time, so that a busy machine taking the CPU away now and then does not make a
fast model look slow.
"""

import resource
import time
from collections import deque
from collections.abc import Callable
from typing import Any


class Estimate:
    """The recent predict() times that decide the fast path, kept in O(1)."""

    WINDOW = 32  # calls: the maximum over them is about their 97th percentile

    def __init__(self, limit_ms: float) -> None:
        self.limit = limit_ms / 1000
        self._recent: deque[float] = deque(maxlen=self.WINDOW)
        self._slow = 0  # calls in _recent over the limit

    def fast(self) -> bool:
        """Whether a lone single-instance call may run inline now."""
        return self._slow == 0 and bool(self._recent) and self.limit > 0

    def run(self, predict: Callable[[list[Any]], list[Any]], inputs: list[Any]) -> Any:
        """predict(inputs), its time recorded (in whichever thread runs it)."""
        wall, cpu, waits = _clock()
        try:
            return predict(inputs)
        finally:
            wall_end, cpu_end, waits_end = _clock()
            waited = waits_end != waits
            self.record(wall_end - wall if waited else cpu_end - cpu, len(inputs))

    def record(self, seconds: float, size: int = 1) -> None:
        """One predict() call of `size` instances took `seconds` (the warm-up
        too). Single-instance calls, and any call over the limit, count."""
        if size != 1 and seconds <= self.limit:
            return
        if len(self._recent) == self.WINDOW and self._recent[0] > self.limit:
            self._slow -= 1
        self._recent.append(seconds)
        self._slow += seconds > self.limit


def _clock() -> tuple[float, float, int]:
    """Wall time, this thread's CPU time, and how often this thread has waited
    (one system call: about a microsecond)."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime, usage.ru_nvcsw
