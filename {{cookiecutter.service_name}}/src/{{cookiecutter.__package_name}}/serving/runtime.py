"""One worker's model: load, warm up, readiness, and the one predict path.

Runtime.predict() is what every answer comes from: Model.predict(), its outputs
checked against Output, then rules.yaml; it runs in the predict thread (or inline
on the event loop for a fast model's lone request: fastpath.py).
"""

import contextlib
import hashlib
import logging
import math
from pathlib import Path
from time import perf_counter

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..config import MODEL_FILE
from ..model import Input, Model, Output
from . import parity, reference, rules, storage
from .settings import Settings

log = logging.getLogger(__name__)
OUTPUTS = TypeAdapter(list[Output])


class PredictError(Exception):
    """predict() broke its contract (wrong count or shape of outputs)."""


def example_input() -> Input:
    """The first example in Input's schema: used for warm-up and in the docs."""
    examples = Input.model_json_schema().get("examples") or [{}]
    return Input.model_validate(examples[0])


def artifact_digest(folder: Path) -> str:
    """sha256 over every file in the artifacts folder (names and contents), or ''."""
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
    )
    unhashed = ("README.md", parity.PARITY_FILE, reference.REFERENCE_FILE)
    files = [p for p in files if p.name not in unhashed]
    if not files:
        return ""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _safe(error: BaseException) -> str:
    """An error as callers may see it: its type only (messages can hold paths or
    library versions); the log has the whole error. A missing package is named,
    with what to do."""
    if isinstance(error, ModuleNotFoundError) and error.name:
        package = error.name.partition(".")[0]
        return (
            f"ModuleNotFoundError: no module named {package!r}; add its package to"
            " dependencies in pyproject.toml, then `make install`"
        )
    return f"{type(error).__name__} (the service log has the details)"


class Runtime:
    """Holds the Model of this worker process and its readiness."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rules = rules.load(settings.rules_file)  # RulesError: a bad file
        self.model = Model()
        self.ready = False
        self.stub = False  # predict() still raises NotImplementedError
        self.reason = "the model is loading"
        self.digest = ""
        self.version = settings.model_version or "unversioned"
        self.watch: reference.Watch | None = None  # with artifacts/reference.json
        self.warm_up = math.inf  # seconds the warm-up prediction took

    def load(self) -> None:
        """Load and warm up (blocking: run it in a thread); record why not ready."""
        folder, uri = self.settings.artifacts_dir, self.settings.artifacts_uri
        if uri:
            try:
                pin = self.settings.artifacts_sha256
                storage.fetch(uri, folder, pin, self._waiting, artifact_digest)
            except storage.FetchFailed as error:
                self.reason = str(error)
                return
        load_error = None
        try:
            self.model.load(folder)
        except Exception as error:
            load_error = self.reason = f"load() failed: {_safe(error)}"
            log.error(f"model load failed: {load_error}", exc_info=error)
        self.digest = artifact_digest(folder) if folder.is_dir() else ""
        self.version = self.settings.model_version or self.digest[:12] or "unversioned"
        self._watch(folder)
        try:
            started = perf_counter()
            self.predict_model([example_input()])
            self.warm_up = perf_counter() - started
        except NotImplementedError as error:
            self.stub = True
            self.reason = f"predict() is not implemented yet in {MODEL_FILE}: {error}"
            if load_error:
                self.reason += f" (and {load_error})"
            return
        except Exception as error:
            self.reason = load_error or f"warm-up prediction failed: {_safe(error)}"
            log.error("warm-up prediction failed", exc_info=error)
            return
        if load_error:
            self.reason = load_error
            return
        if self.settings.require_parity:
            problem = parity.canary(folder, self.predict_model, self.digest)
            if problem:
                self.reason = f"parity canary failed: {problem}"
                return
        self.ready, self.reason = True, "ready"

    def _watch(self, folder: Path) -> None:
        """Count live values against artifacts/reference.json, when there is one;
        a reference that cannot be used is said in the log, and serving goes on."""
        try:
            self.watch, line = reference.load(folder, self.digest)
        except ValueError as error:
            log.error(f"reference: {error}; live values are not counted")
            return
        if line:
            (log.warning if "STALE" in line else log.info)(line)

    def flush_counts(self, now: bool = False) -> None:
        """Write the live values counted so far to the metrics (on the loop)."""
        if self.watch is not None:
            self.watch.flush(now)

    def _waiting(self, reason: str) -> None:
        self.reason = reason  # what /readyz answers meanwhile

    def predict(self, inputs: list[Input]) -> list[tuple[Output, rules.Fired]]:
        """Each input's answer (Output, plus `reasons` when there are rules) and the
        names of the rules that fired on it. RuleFailed names a rule that raised."""
        ruleset = self.rules  # once: a reload (SIGHUP) swaps it between batches
        answers = ruleset.apply(inputs, self.predict_model(inputs))
        if self.watch is not None:  # here, in the predict thread, off the loop
            self.watch.count(inputs, [answer for answer, _ in answers])
        return answers

    def predict_model(self, inputs: list[Input]) -> list[Output]:
        """Model.predict, with its answer checked against the Output schema."""
        outputs = self.model.predict(inputs)
        if not isinstance(outputs, list) or len(outputs) != len(inputs):
            count = (
                len(outputs) if isinstance(outputs, list) else type(outputs).__name__
            )
            raise PredictError(
                f"predict() returned {count} outputs for {len(inputs)} inputs"
            )
        if not all(type(item) is Output for item in outputs):
            try:  # dicts (or other models) are accepted when they fit Output
                outputs = OUTPUTS.validate_python(
                    [o.model_dump() if hasattr(o, "model_dump") else o for o in outputs]
                )
            except ValidationError as error:
                message = f"predict() returned outputs that do not fit Output: {error}"
                raise PredictError(message) from None
        for output in outputs:
            if bad := _not_finite(vars(output)):
                raise PredictError(f"predict() returned {bad} (NaN or infinity)")
        return outputs


def _not_finite(value: object, path: str = "") -> str:
    """The path of the first NaN or infinite number in an output, or ''.

    JSON has no NaN: it would be sent as null and break the documented schema.
    """
    if isinstance(value, float):
        return "" if math.isfinite(value) else path or "a number"
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            # a finite sum: all finite numbers, in one C call (10 floats: 0.25 us,
            # not 2 us one by one); else the walk below finds the one at fault
            if math.isfinite(math.fsum(value)):
                return ""
        items = enumerate(value)
    elif isinstance(value, BaseModel):
        items = vars(value).items()
    else:
        return ""
    for key, item in items:
        if bad := _not_finite(item, f"{path}.{key}" if path else str(key)):
            return bad
    return ""
