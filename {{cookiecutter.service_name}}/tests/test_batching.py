"""The batcher gathers concurrent requests and keeps each caller's answers apart."""

import asyncio
import threading
import time

import pytest

from {{ cookiecutter.__package_name }}.serving.batching import Batcher, QueueFull
from {{ cookiecutter.__package_name }}.serving.fastpath import Estimate


def test_concurrent_callers_get_their_own_answers_in_batches() -> None:
    """Callers sent together share predict() calls, and each gets its own outputs."""
    sizes: list[int] = []

    def predict(inputs: list[int]) -> list[int]:
        sizes.append(len(inputs))
        time.sleep(0.01)
        return [x * 10 for x in inputs]

    async def scenario() -> list[list[int]]:
        batcher = Batcher(predict, max_batch_size=8, max_wait_ms=0, max_queue=100)
        batcher.start()
        answers = await asyncio.gather(*(batcher.submit([i, i + 1]) for i in range(20)))
        await batcher.stop()
        return answers

    answers = asyncio.run(scenario())
    assert answers == [[i * 10, (i + 1) * 10] for i in range(20)]
    assert max(sizes) > 2 and max(sizes) <= 8


def test_one_bad_instance_fails_alone() -> None:
    """When a batch fails, its jobs are retried one by one: only the bad one fails."""

    def predict(inputs: list[int]) -> list[int]:
        if 13 in inputs:
            raise ValueError("unlucky")
        time.sleep(0.005)
        return inputs

    async def scenario() -> list[object]:
        batcher = Batcher(predict, max_batch_size=8, max_wait_ms=0, max_queue=100)
        batcher.start()
        jobs = [batcher.submit([i]) for i in range(10, 16)]
        answers = await asyncio.gather(*jobs, return_exceptions=True)
        await batcher.stop()
        return answers

    answers = asyncio.run(scenario())
    assert isinstance(answers[3], ValueError)
    assert [a for i, a in enumerate(answers) if i != 3] == [
        [10],
        [11],
        [12],
        [14],
        [15],
    ]


def test_full_queue_is_refused_at_once() -> None:
    """Past MAX_QUEUE waiting jobs, submit raises QueueFull instead of waiting."""

    async def scenario() -> None:
        batcher = Batcher(lambda x: x, max_batch_size=1, max_wait_ms=0, max_queue=2)
        first, second = batcher.submit([1]), batcher.submit([2])
        pending = [asyncio.ensure_future(first), asyncio.ensure_future(second)]
        await asyncio.sleep(0)  # both queued; nothing runs them yet
        with pytest.raises(QueueFull):
            await batcher.submit([3])
        batcher.start()
        assert await asyncio.gather(*pending) == [[1], [2]]
        await batcher.stop()

    asyncio.run(scenario())


def test_a_job_past_the_timeout_fails_and_the_batcher_goes_on() -> None:
    """A job still waiting after `timeout` seconds gets TimeoutError; later jobs run."""

    def predict(inputs: list[float]) -> list[float]:
        time.sleep(max(inputs))
        return inputs

    async def scenario() -> list[float]:
        batcher = Batcher(
            predict, max_batch_size=8, max_wait_ms=0, max_queue=10, timeout=0.1
        )
        batcher.start()
        with pytest.raises(TimeoutError):
            await batcher.submit([0.3])
        await asyncio.sleep(0.3)  # the slow predict() has finished by now
        answer = await batcher.submit([0.0])
        await batcher.stop()
        return answer

    assert asyncio.run(scenario()) == [0.0]


def test_fast_lone_request_runs_inline_and_slow_one_in_the_thread() -> None:
    """A lone single-instance call runs on the event loop's thread while predict()
    is measured fast; once a call is slow, calls go to the predict thread."""
    threads: list[int] = []

    def predict(inputs: list[float]) -> list[float]:
        threads.append(threading.get_ident())
        time.sleep(inputs[0])
        return inputs

    async def scenario() -> None:
        batcher = Batcher(
            predict, max_batch_size=8, max_wait_ms=0, max_queue=10, inline_max_ms=20
        )
        batcher.start()
        batcher.estimate.record(0.0001)  # the warm-up: fast
        for seconds in (0, 0, 0.05, 0, 0):  # the third call is slow
            assert await batcher.submit([seconds]) == [seconds]
        await batcher.stop()

    asyncio.run(scenario())
    loop = threading.get_ident()
    assert [thread == loop for thread in threads] == [True, True, True, False, False]


def test_a_call_busy_on_the_cpu_past_the_limit_counts_as_slow() -> None:
    """A call that never waits is timed by its CPU time: over the limit, it is slow."""

    def busy(inputs: list[float]) -> list[float]:
        deadline = time.thread_time() + inputs[0]
        while time.thread_time() < deadline:
            pass
        return inputs

    estimate = Estimate(limit_ms=5)
    estimate.run(busy, [0.0])
    assert estimate.fast()
    estimate.run(busy, [0.02])
    assert not estimate.fast()
