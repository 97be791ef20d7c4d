"""Every reach into a dependency's internals, in one place, each with its reason.

A minor release may rename what is used here. `check()` lists what is gone: the
service runs it at start (one clear line, no misbehaving), tests/test_compat.py
without a server. TESTED holds the ranges of pyproject.toml, whose upper bounds
are the newest versions checked, so pip installs nothing else.

Nothing here imports prometheus_client at module level: the metrics folder must be
set before its first import (see server.py).
"""

import contextlib
import inspect
import re
import time
from importlib import metadata
from typing import Any

from sanic.exceptions import RequestTimeout
from sanic.http import Http, Stage
from sanic.server.protocols.http_protocol import HttpProtocol

TESTED = {  # distribution: (lowest, first version not tested), as in pyproject.toml
    "sanic": ("25.3", "26"),
    "prometheus-client": ("0.20", "0.27"),
    "pydantic": ("2.7", "2.15"),
    "rule-engine": ("4.5", "5.2"),
}


def _version(text: str) -> tuple[int, ...]:
    """(2, 0) for "2.0rc1": the leading numbers of a release."""
    return tuple(int(re.match(r"\d*", part)[0] or 0) for part in text.split(".")[:3])


def untested_versions() -> list[str]:
    """The installed dependencies outside TESTED, one line each."""
    problems = []
    for name, (low, high) in TESTED.items():
        installed = metadata.version(name)
        if not _version(low) <= _version(installed) < _version(high):
            problems.append(
                f"{name} {installed} is outside the tested range >={low},<{high}"
            )
    return problems


# --- Sanic's worker manager (sanic.worker.manager; checked with sanic 25.12.1) --------
# 1. Its SIGTERM handler stops the workers inside the signal handler, which can
#    interrupt the manager while it talks to its shared state and exit 1; posting
#    "__TERMINATE__" to its own monitor loop is the same shutdown, outside it.
# 2. It does not replace a dead worker (OOM kill, segfault in a native library):
#    there is no public hook for "a worker died" (sanic-org/sanic#2753 asks for
#    restart policies), so _sync_states, which notices it, is wrapped.
MANAGER_NAMES = (
    "shutdown_signal",
    "_sync_states",
    "_shutting_down",
    "transient",
    "monitor_publisher",
    "restart",
    "transient_processes",  # public, not documented: the workers SIGHUP reaches
)


def harden_worker_manager() -> None:
    """Shut down outside the signal handler; restart workers that die."""
    from prometheus_client.multiprocess import mark_process_dead
    from sanic.log import error_logger
    from sanic.worker.manager import WorkerManager
    from sanic.worker.process import ProcessState

    original_signal = WorkerManager.shutdown_signal
    original_sync = WorkerManager._sync_states

    def shutdown_signal(self: WorkerManager, signum: int, frame: object) -> None:
        if self._shutting_down:  # a second signal: let Sanic kill the workers
            return original_signal(self, signum, frame)
        self.monitor_publisher.send("__TERMINATE__")

    def sync_states(self: WorkerManager) -> None:
        original_sync(self)
        for worker in self.transient.values():
            for process in worker.processes:
                if process.state is ProcessState.FAILED and not self._shutting_down:
                    error_logger.error(
                        f"worker {process.pid} died ({process.exitcode}); restarting"
                    )
                    mark_process_dead(process.pid)  # its live gauges
                    self.restart(process_names=[process.name])

    WorkerManager.shutdown_signal = shutdown_signal
    WorkerManager._sync_states = sync_states


# --- Sanic's HTTP protocol (sanic.server.protocols; checked with sanic 25.12.1) -------
# REQUEST_TIMEOUT covers a pause in the headers only: a client that stalls mid-body
# holds its connection until RESPONSE_TIMEOUT. No setting covers it, so the
# protocol's timeout check also looks at the body it is reading.
PROTOCOL_NAMES = ("check_timeouts", "http", "_time", "_task", "request_timeout")
HTTP_NAMES = ("stage", "request_body", "exception")


class Protocol(HttpProtocol):
    """Sanic's HttpProtocol, answering 408 to a body that stalls too."""

    def check_timeouts(self) -> None:
        http = self.http
        if (
            http is not None
            and http.stage is Stage.HANDLER
            and http.request_body  # the body is still arriving
            and time.monotonic() - self._time > self.request_timeout
        ):
            http.exception = RequestTimeout("the request body stalled")
            http.request_body = None  # answer 408 and close, not wait for the rest
            self._task.cancel()
            return
        super().check_timeouts()


# --- prometheus_client (checked with 0.26.0) ------------------------------------------
# The request path gathers counts in plain dicts and adds them in bulk (a
# multiprocess write takes a lock and an mmap write each, several per request).
# Histogram has no public "add n observations", so the bucket bounds and values
# are reached directly; a live gauge's files are named by its multiprocess mode.
HISTOGRAM_NAMES = ("_upper_bounds", "_sum", "_buckets")
LIVE_MIN_FILES = "gauge_livemin_*.db"


def bucket_bounds(histogram: Any) -> list[float]:
    """The upper bounds of a histogram's buckets (the last one is +Inf)."""
    return histogram._upper_bounds


def add_observations(child: Any, total: float, per_bucket: list[float]) -> None:
    """Add `total` to a histogram's sum and each count to its bucket."""
    child._sum.inc(total)
    for value, times in zip(child._buckets, per_bucket, strict=True):
        if times:
            value.inc(times)


# --- pydantic (checked with 2.14.4) ---------------------------------------------------
# An answer with rule reasons is built from an Output that is valid already, 3 to 4
# times faster than model_construct() (a few microseconds an instance).
PYDANTIC_NAMES = ("__pydantic_fields_set__", "__pydantic_extra__")


def construct(cls: type, values: dict[str, Any], fields: set[str]) -> Any:
    """cls.model_construct(**values), without its per-field work."""
    item = object.__new__(cls)
    object.__setattr__(item, "__dict__", values)
    object.__setattr__(item, "__pydantic_fields_set__", fields)
    object.__setattr__(item, "__pydantic_extra__", None)
    object.__setattr__(item, "__pydantic_private__", None)
    return item


# --- rule-engine (checked with 5.1.0) -------------------------------------------------
# Conditions become Python closures by walking rule-engine's syntax tree
# (rule_engine.ast, documented but not promised stable): its classes and the
# attributes conditions.py reads.
AST_NAMES = {
    "SymbolExpression": ("name", "result_type"),
    "StringExpression": ("value",),
    "BooleanExpression": ("value",),
    "FloatExpression": ("value",),
    "ArrayExpression": ("value",),
    "SetExpression": ("value",),
    "LogicExpression": ("type", "left", "right"),
    "UnaryExpression": ("type", "right"),
    "ComparisonExpression": ("type", "left", "right"),
    "ArithmeticComparisonExpression": ("type", "left", "right"),
    "FuzzyComparisonExpression": ("type", "left", "right"),
    "ContainsExpression": ("container", "member"),
    "GetItemExpression": ("container", "item", "safe"),
}


def check() -> list[str]:
    """Each reach above whose target is gone, one line each (empty: all there)."""
    from pydantic import BaseModel
    from rule_engine import ast
    from sanic.worker.manager import WorkerManager

    problems = untested_versions()
    wanted = [
        ("sanic WorkerManager", WorkerManager, MANAGER_NAMES),
        ("sanic HttpProtocol", HttpProtocol, PROTOCOL_NAMES),
        ("sanic Http", Http, HTTP_NAMES),
        ("pydantic BaseModel", BaseModel, PYDANTIC_NAMES),
    ]
    for label, owner, names in wanted:
        for name in names:
            if not _has(owner, name):
                problems.append(f"{label} has no {name!r} any more")
    problems += _histogram_problems()
    for name in AST_NAMES:
        if not hasattr(ast, name):
            problems.append(f"rule_engine.ast has no {name} any more")
    rule = _sample_rule()
    for node, attributes in rule:
        missing = [a for a in attributes if not hasattr(node, a)]
        if missing:
            kind = type(node).__name__
            problems.append(f"rule_engine.ast.{kind} has no {missing[0]!r} any more")
    return problems


def _has(owner: type, name: str) -> bool:
    """An attribute of the class, or one that its code sets on its instances."""
    if hasattr(owner, name):
        return True
    sources = []
    for cls in owner.__mro__[:-1]:
        with contextlib.suppress(OSError, TypeError):
            sources.append(inspect.getsource(cls))
    marks = (f"self.{name} =", f"self.{name}:", f"self.{name}, ")  # a, b = ...
    return any(mark in source for source in sources for mark in marks)


def _histogram_problems() -> list[str]:
    from prometheus_client import CollectorRegistry, Histogram

    histogram = Histogram("compat_check", "", registry=CollectorRegistry())
    missing = [name for name in HISTOGRAM_NAMES if not hasattr(histogram, name)]
    return [f"prometheus_client Histogram has no {name!r} any more" for name in missing]


def _sample_rule() -> list[tuple[Any, tuple[str, ...]]]:
    """Nodes of a condition with every form conditions.py compiles."""
    import rule_engine

    D = rule_engine.DataType
    types = {"s": D.STRING, "n": D.FLOAT, "a": D.ARRAY(D.FLOAT)}
    context = rule_engine.Context(
        type_resolver=rule_engine.type_resolver_from_dict(types)
    )
    text = 's =~ "x" and not (n < 1.0 or true) and 1.0 in a and a[0] == n'
    found, nodes = [], [rule_engine.Rule(text, context=context).statement.expression]
    for node in nodes:  # the list grows while it is walked
        if attributes := AST_NAMES.get(type(node).__name__):
            found.append((node, attributes))
        children = ("left", "right", "container", "member", "item")
        nodes += [getattr(node, c) for c in children if hasattr(node, c)]
    return found
