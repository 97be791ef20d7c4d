"""Business rules from rules.yaml: checked at start, applied after every predict().

Conditions are rule-engine expressions, parsed and type-checked against Input and
Output once (conditions.py); nothing is eval'd. `make rules-check`
(tools/rules_check.py) checks a file without starting the service. A file with no
rules is an empty RuleSet: the same code path, which hands each Output back as is.
reload() reads the file again for a running service (SIGHUP, see reload.py).
"""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rule_engine
import yaml
from pydantic import Field, TypeAdapter, ValidationError

from ..model import Input, Output
from . import compat, conditions

MODES = ("first", "all")  # first matching rule only, or every matching rule in order
RULE_KEYS = ("name", "when", "set", "reason")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
Fired = tuple[str, ...]  # names of the rules that fired on one instance
NONE: Fired = ()


class RulesError(ValueError):
    """The rules file cannot be used; the message names the rule and the problem."""


class RuleFailed(Exception):
    """A rule (its name is the argument) raised on one instance."""


class Answer(Output):
    __doc__ = Output.__doc__  # an Output, plus the reasons of the rules that fired

    reasons: list[str] = Field(
        description="Reason codes of the rules (rules.yaml) that fired, in order."
    )
    model_config = {"title": "Output"}


@dataclass(frozen=True)
class Rule:
    name: str
    when: str
    matches: Callable[[conditions.Instance], Any]  # true or false for Python
    fast: bool  # False: run by rule-engine's (slower) interpreter
    updates: dict[str, Any]
    reason: str


class RuleSet:
    """The rules of one file, ready to apply to batches of predictions."""

    def __init__(
        self,
        rules: list[Rule],
        mode: str = "first",
        digest: str = "",
        reasons: bool | None = None,  # answers have `reasons`; default: with rules
    ) -> None:
        self.rules, self.mode, self.first_only = rules, mode, mode == "first"
        self.digest = digest  # sha256 of the file: which decisions answers come from
        self.names = [rule.name for rule in rules]
        with_reasons = bool(rules) if reasons is None else reasons
        self.answer: type[Output] = Answer if with_reasons else Output  # callers get
        self.adapter = TypeAdapter(list[self.answer])
        self.warnings = [w for rule in rules for w in _warnings(rule)]

    def apply(
        self, inputs: list[Input], outputs: list[Output]
    ) -> list[tuple[Output, Fired]]:
        """Each instance's answer and the names of the rules that fired on it."""
        if self.answer is Output:
            return [(output, NONE) for output in outputs]
        return [self.apply_one(i, o) for i, o in zip(inputs, outputs, strict=True)]

    def apply_one(self, item: Input, output: Output) -> tuple[Answer, Fired]:
        """One instance's answer, and the names of the rules that fired on it."""
        reasons, fired, instance = [], [], (item, output)
        for rule in self.rules:
            try:
                matched = rule.matches(instance)
            except Exception as error:
                raise RuleFailed(rule.name) from error
            if matched:
                if rule.updates:  # later rules see the new values
                    output = output.model_copy(update=rule.updates)
                    instance = (item, output)
                reasons.append(rule.reason)
                fired.append(rule.name)
                if self.first_only:
                    break
        answer = compat.construct(
            Answer, {**vars(output), "reasons": reasons}, _ANSWER_FIELDS
        )
        return answer, tuple(fired)


_ANSWER_FIELDS = set(Answer.model_fields)


def load(path: Path) -> RuleSet:
    """Read and check a rules file (RulesError names the rule and the problem)."""
    if not path.is_file():
        if path == Path("rules.yaml"):  # the default, which a service may leave out
            return RuleSet([])
        raise RulesError(f"RULES_FILE={str(path)!r}: no such file")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or _one_line(error)
        raise RulesError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict) or not set(data) <= {"mode", "rules"}:
        raise RulesError(f"{path}: expected a mapping with 'mode' and 'rules'")
    mode = data.get("mode", "first")
    if mode not in MODES:
        raise RulesError(f"{path}: mode {mode!r} must be one of {', '.join(MODES)}")
    entries = data.get("rules") or []
    if not isinstance(entries, list):
        raise RulesError(f"{path}: 'rules' must be a list")
    rules: list[Rule] = []
    for number, entry in enumerate(entries, 1):
        label = f"rule {number}"
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            label = f"rule {entry['name']!r}"
        try:
            rules.append(_rule(entry, [rule.name for rule in rules]))
        except RulesError as error:
            raise RulesError(f"{path}: {label}: {error}") from None
    if rules and "reasons" in Output.model_fields:
        raise RulesError(f"{path}: Output has a field 'reasons', which rules add")
    return RuleSet(rules, mode, hashlib.sha256(text.encode()).hexdigest())


def reload(path: Path, serving: RuleSet) -> RuleSet:
    """The rules of `path` for a running service that serves `serving`.

    Once answers have `reasons`, they keep it: a file without rules then gives
    `"reasons": []`, so a client never sees the field come and go. (The first rules
    of a service add it; each worker then rebuilds its OpenAPI document.)
    """
    new = load(path)
    if serving.answer is not Output and not new.rules:
        return RuleSet([], new.mode, new.digest, reasons=True)
    return new


def _warnings(rule: Rule) -> list[str]:
    """What in a valid rule is probably not what its author meant."""
    return [
        f"rule {rule.name!r}: {operator} /{pattern}/ matches at the start of the text"
        f" only; to find it anywhere use {operator}~ (or start the pattern with ^"
        " to say you mean the start)"
        for operator, pattern in conditions.unanchored(rule.when)
    ]


def _rule(entry: object, taken: list[str]) -> Rule:
    if not isinstance(entry, dict):
        raise RulesError("expected a mapping with name, when, set, reason")
    unknown = sorted(set(entry) - set(RULE_KEYS))
    if unknown:
        raise RulesError(f"unknown key {unknown[0]!r} (use {', '.join(RULE_KEYS)})")
    name, when = entry.get("name"), entry.get("when")
    if not isinstance(name, str):
        raise RulesError("'name' must be text (quote it: YAML reads yes, 1 as others)")
    if not NAME.fullmatch(name):
        raise RulesError("'name' must be letters, digits, '_', '.', '-' (max 63)")
    if name in taken:
        raise RulesError("duplicate name")
    reason = entry.get("reason", name)
    if not isinstance(reason, str) or not reason:
        raise RulesError("'reason' must be a non-empty string")
    if not isinstance(when, str) or not when.strip():
        raise RulesError("'when' must be a condition, e.g. label == \"spam\"")
    matches, fast = _condition(when)
    return Rule(name, when, matches, fast, _updates(entry.get("set") or {}), reason)


def _condition(text: str) -> tuple[Callable[[conditions.Instance], Any], bool]:
    try:
        rule, matches, fast = conditions.parse(text)
    except rule_engine.RuleSyntaxError as error:
        token = error.token
        where = f"at {token.value!r}" if token is not None else "at the end"
        raise RulesError(f"syntax error in 'when' {where}") from None
    except rule_engine.SymbolResolutionError as error:
        hint = f", did you mean {error.suggestion!r}?" if error.suggestion else ""
        raise RulesError(
            f"'when' uses {error.symbol_name!r}, which is in neither Input nor "
            f"Output (fields: {', '.join(sorted(conditions.FIELDS))}){hint}"
        ) from None
    except rule_engine.EngineError as error:
        hint = " (e.g. text compared with a number)" if "type" in str(error) else ""
        raise RulesError(f"'when' is not valid: {_one_line(error)}{hint}") from None
    result = rule.statement.expression.result_type
    if result not in (rule_engine.DataType.BOOLEAN, rule_engine.DataType.UNDEFINED):
        raise RulesError(f"'when' must be true or false, not of type {result.name}")
    return matches, fast


def _updates(values: object) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise RulesError("'set' must map Output fields to values")
    updates = {}
    for field, value in values.items():
        if field not in Output.model_fields:
            fields = ", ".join(Output.model_fields)
            raise RulesError(f"'set' names {field!r}, not a field of Output ({fields})")
        annotation = Output.model_fields[field].annotation
        try:
            updates[field] = TypeAdapter(annotation).validate_python(value)
        except ValidationError as error:
            problem = error.errors(include_url=False)[0]["msg"]
            raise RulesError(f"'set' {field}: {value!r} is wrong: {problem}") from None
    return updates


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
