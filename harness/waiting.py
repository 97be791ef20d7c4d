"""Wait for a condition, not for a fixed time."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    message: str | Callable[[], str] = "",
    every: float = 0.05,
) -> T:
    """Call `condition` until it returns something true, and return that; after
    `timeout` seconds, TimeoutError with `message` (a callable: called then)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            why = message() if callable(message) else message
            raise TimeoutError(f"not within {timeout} s: {why}")
        time.sleep(every)
    return value
