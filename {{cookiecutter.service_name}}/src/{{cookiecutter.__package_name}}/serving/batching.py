"""Gather concurrent requests into batches and run predict() off the event loop."""

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import SimpleQueue
from time import perf_counter
from typing import Any

from . import metrics
from .fastpath import Estimate


class QueueFull(Exception):
    """The queue holds as many requests as it may: answer 503 instead of growing."""


@dataclass
class _Job:
    inputs: list[Any]
    future: asyncio.Future
    queued_at: float = field(default_factory=perf_counter)


class Batcher:
    """One worker's queue: one task takes all waiting jobs into one predict() call.

    A lone request runs at once; while a batch is running, new requests queue up and
    form the next batch, so batches grow with load and never wait for company unless
    MAX_BATCH_WAIT_MS asks for it. A lone one-instance request, after a batch of one
    and with nothing else waiting or running, runs on the event loop instead when
    predict() is measured fast (fastpath.py).
    """

    def __init__(
        self,
        predict: Callable[[list[Any]], list[Any]],
        *,
        max_batch_size: int,
        max_wait_ms: float,
        max_queue: int,
        timeout: float | None = None,
        inline_max_ms: float = 0,
    ) -> None:
        self.predict, self.max_batch_size = predict, max_batch_size
        self.max_wait, self.max_queue = max_wait_ms / 1000, max_queue
        self.timeout = timeout
        self._jobs: deque[_Job] = deque()
        self._running: list[_Job] = []
        self._wakeup = asyncio.Event()
        self._calls: SimpleQueue = SimpleQueue()  # to the predict thread
        self._task: asyncio.Task | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._last_size = 0
        self._claimed = False  # a lone request is deciding whether to run inline
        self.estimate = Estimate(inline_max_ms)

    def start(self) -> None:
        threading.Thread(target=_serve, args=(self._calls,), daemon=True).start()
        self._task = asyncio.get_running_loop().create_task(self._run())
        if self.timeout:
            self._expire()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        if self._sweeper:
            self._sweeper.cancel()
        self._calls.put(None)

    async def in_thread(self, function: Callable[[], Any]) -> Any:
        """Run function in the predict thread, e.g. load(): per-thread settings
        of a library (such as thread pools) then hold for predict() too."""
        future = asyncio.get_running_loop().create_future()
        self._calls.put((function, (), future))
        return await future

    async def submit(self, inputs: list[Any]) -> list[Any]:
        """Queue inputs for the next batch; return their outputs, in order."""
        if len(self._jobs) >= self.max_queue:
            raise QueueFull
        if len(inputs) == 1 and self._alone() and self.estimate.fast():
            queued_at, self._claimed = perf_counter(), True
            try:  # one turn of the loop: requests it has read already queue meanwhile
                await asyncio.sleep(0)
            finally:
                self._claimed = False
            if self._alone():
                metrics.observe(metrics.QUEUE_WAIT, perf_counter() - queued_at)
                return self._inline(inputs)
        job = _Job(inputs, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._wakeup.set()
        return await job.future

    def _alone(self) -> bool:
        """Nothing else waiting, running or deciding, and the last batch was one."""
        busy = self._jobs or self._running or self._claimed
        return not busy and self._last_size <= 1

    def _inline(self, inputs: list[Any]) -> list[Any]:
        """predict() on the event loop: no hop to the thread and back (fastpath.py)."""
        started, self._last_size = perf_counter(), 1
        try:
            return self.estimate.run(self.predict, inputs)
        finally:
            self._timed(started, inputs, "inline")

    def _expire(self) -> None:
        """Fail jobs older than the timeout with TimeoutError (a few times a second).

        One timer for the whole queue costs less than one per request.
        """
        oldest = perf_counter() - self.timeout
        for job in self._running:
            if job.queued_at < oldest and not job.future.done():
                job.future.set_exception(TimeoutError())
        while self._jobs and self._jobs[0].queued_at < oldest:
            job = self._jobs.popleft()
            if not job.future.done():
                job.future.set_exception(TimeoutError())
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(min(0.1, self.timeout / 10), self._expire)

    async def _run(self) -> None:
        while True:
            if not self._jobs:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = self._take()
            if (
                self.max_wait
                and self._last_size > 1  # under load only: let the batch fill
                and self._size(batch) < self.max_batch_size
            ):
                await asyncio.sleep(self.max_wait)
                batch += self._take(self.max_batch_size - self._size(batch))
            if batch:
                await self._execute(batch)  # (reads the last batch's size)
            self._last_size = self._size(batch)

    def _take(self, room: int | None = None) -> list[_Job]:
        """Pop waiting jobs while they fit (a job larger than a batch runs alone)."""
        room = self.max_batch_size if room is None else room
        batch: list[_Job] = []
        while self._jobs and (not batch or len(self._jobs[0].inputs) <= room):
            job = self._jobs.popleft()
            if job.future.done():  # the caller gave up (timeout, disconnect)
                continue
            batch.append(job)
            room -= len(job.inputs)
        return batch

    @staticmethod
    def _size(batch: list[_Job]) -> int:
        return sum(len(job.inputs) for job in batch)

    async def _execute(self, batch: list[_Job]) -> None:
        now = perf_counter()
        for job in batch:
            metrics.observe(metrics.QUEUE_WAIT, now - job.queued_at)
        self._running = batch
        try:
            outputs = await self._call([x for job in batch for x in job.inputs])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0], error=error)
                return
            for job in batch:  # one bad instance must not fail its neighbours
                try:
                    _settle(job, await self._call(job.inputs))
                except Exception as single_error:
                    _settle(job, error=single_error)
            return
        finally:
            self._running = []
        start = 0
        for job in batch:
            _settle(job, outputs[start : start + len(job.inputs)])
            start += len(job.inputs)

    async def _call(self, inputs: list[Any]) -> list[Any]:
        started = perf_counter()
        future = asyncio.get_running_loop().create_future()
        self._calls.put((self.estimate.run, (self.predict, inputs), future))
        try:
            return await future
        finally:
            self._timed(started, inputs, "batched")

    @staticmethod
    def _timed(started: float, inputs: list[Any], path: str) -> None:
        metrics.observe(metrics.PREDICT_LATENCY, perf_counter() - started)
        metrics.observe(metrics.BATCH_SIZE, len(inputs))
        metrics.count(metrics.PREDICT_CALLS, path)


def _settle(
    job: _Job, result: list[Any] | None = None, error: Exception | None = None
) -> None:
    if job.future.done():
        return
    if error is None:
        job.future.set_result(result)
    else:
        job.future.set_exception(error)


def _serve(calls: SimpleQueue) -> None:
    """The predict thread: run each call, hand its result back to the event loop.

    Lighter than loop.run_in_executor (no concurrent.futures.Future to chain), which
    matters for a lone request: it pays this hop twice.
    """
    while (call := calls.get()) is not None:
        function, args, future = call
        try:
            outcome = (function(*args), None)
        except BaseException as error:  # handed to the caller, as an executor does
            outcome = (None, error)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            future.get_loop().call_soon_threadsafe(_resolve, future, *outcome)


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
