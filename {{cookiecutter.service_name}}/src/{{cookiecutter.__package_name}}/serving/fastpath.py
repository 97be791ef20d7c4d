"""The fast path: when a lone request may run predict() inline on the event loop.

Handing a call to the predict thread and back costs a lone caller more than a
fast model's whole predict(). So a request on an idle worker runs inline when
predict() is measured fast: the slowest of the recent calls (the warm-up first)
is under INLINE_PREDICT_MAX_MS. A slower call switches back to the thread at once,
and only WINDOW fast calls in a row bring the fast path back, so a slow model never
holds up the loop (and /healthz) for more than one call.
"""

from collections import deque


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

    def record(self, seconds: float, size: int = 1) -> None:
        """One predict() call of `size` instances took `seconds` (the warm-up
        too). Single-instance calls, and any call over the limit, count."""
        if size != 1 and seconds <= self.limit:
            return
        if len(self._recent) == self.WINDOW and self._recent[0] > self.limit:
            self._slow -= 1
        self._recent.append(seconds)
        self._slow += seconds > self.limit
