"""Golden cases from validation/cases.yaml: read them, check outputs against them."""

import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..serving.parity import differences

CASES_FILE = Path("validation/cases.yaml")
# Expectation type -> the other keys it takes (besides `field` and `instance`).
KINDS: dict[str, tuple[str, ...]] = {
    "equals": (),
    "one_of": (),
    "approx": ("tolerance",),
    "top_k": ("label",),
    "rank_of": ("at_most", "by"),
    "matches": (),
}
REQUIRED = {"top_k": ("label",), "rank_of": ("at_most",)}
CASE_KEYS = ("name", "input", "expect", "latency_ms", "example")
PREDICATES = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "ne": operator.ne,
    "regex": lambda got, pattern: re.search(pattern, str(got)) is not None,
    "contains": lambda got, item: item in got,
    "length": lambda got, n: len(got) == n,
}
MISSING = "<missing>"
NAME = re.compile(r"^\s*-?\s*name:\s*['\"]?([^'\"#\n]*?)['\"]?\s*(?:#.*)?$", re.M)


class Loader(yaml.SafeLoader):
    """YAML as people write it: `1e-6` is a number (plain PyYAML reads text)."""


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?([0-9][0-9_]*(\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


class CaseError(ValueError):
    """The cases file cannot be used; the message names the file, line and case."""


@dataclass(frozen=True)
class Expectation:
    """One check of one output field, e.g. `{field: label, equals: cat}`."""

    kind: str
    value: Any
    field: str = ""  # dotted path into the output ("" is the whole output)
    instance: int | None = None  # which instance of the case; None: each of them
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)

    def describe(self) -> str:
        where = self.field or "output"
        if self.instance is not None:
            where += f"[{self.instance}]"
        if self.kind == "approx":
            return f"{where} ~ {self.value!r} ±{self.option('tolerance', 1e-6)}"
        if self.kind == "top_k":
            return f"{self.option('label')!r} in top {self.value} of {where}"
        if self.kind == "rank_of":
            return f"rank of {self.value!r} in {where} <= {self.option('at_most')}"
        return f"{where} {self.kind.replace('_', ' ')} {self.value!r}"

    def check(self, output: Any) -> tuple[bool, Any]:
        """(passed, what the output holds) for one output as JSON data."""
        try:
            got = lookup(output, self.field)
        except (KeyError, IndexError, ValueError, TypeError):
            return False, MISSING
        if self.kind == "equals":
            return same(got, self.value), got
        if self.kind == "one_of":
            return any(same(got, v) for v in self.value), got
        if self.kind == "approx":
            tolerance = self.option("tolerance", 1e-6)
            return not differences(self.value, got, tolerance), got
        if self.kind == "matches":
            try:
                return all(PREDICATES[op](got, v) for op, v in self.value.items()), got
            except TypeError:
                return False, got
        item, limit = (
            (self.option("label"), self.value)
            if self.kind == "top_k"
            else (self.value, self.option("at_most"))
        )
        position, size = rank(got, item, self.option("by"))
        shown = f"rank {position} of {size}" if position else f"absent ({size} items)"
        return position is not None and position <= limit, shown


@dataclass(frozen=True)
class Case:
    """For these inputs, expect that; `line` is where the case starts in the file."""

    name: str
    line: int
    instances: list[dict[str, Any]]
    batched: bool  # sent as {"instances": [...]}
    expectations: list[Expectation]
    latency_ms: float | None = None
    example: bool = False  # the template's example: skipped once model.py changes


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path: `probabilities.cat`, `items.0.id`."""
    for part in path.split(".") if path else []:
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def same(got: Any, want: Any) -> bool:
    """Equal; a number also equals its text (JSON keys are text: 1 == "1")."""
    if got == want:
        return True
    texts = isinstance(got, str | int) and isinstance(want, str | int)
    return texts and str(got) == str(want)


def rank(ranked: Any, item: Any, by: str | None = None) -> tuple[int | None, int]:
    """(1-based rank of item or None, size) in scores {label: score}, [score, ...]
    (items are indexes) or a list already in rank order (of items, or of objects
    whose `by` field names them)."""
    if isinstance(ranked, dict) and all(number(v) for v in ranked.values()):
        order = sorted(ranked, key=lambda k: ranked[k], reverse=True)
    elif isinstance(ranked, list) and all(number(x) for x in ranked):
        order = sorted(range(len(ranked)), key=lambda i: ranked[i], reverse=True)
    elif isinstance(ranked, list):
        order = [x.get(by) if by and isinstance(x, dict) else x for x in ranked]
    else:
        return None, 0
    position = next((i for i, x in enumerate(order, 1) if same(x, item)), None)
    return position, len(order)


def number(value: Any) -> bool:
    """A real number (True and False are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def load(path: Path = CASES_FILE) -> list[Case]:
    """Read a cases file; CaseError names the file, line and case of a problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CaseError(f"{path}: cannot read: {error.strerror}") from None
    return parse(text, str(path))


def parse(text: str, source: str = str(CASES_FILE)) -> list[Case]:
    """Cases from YAML text (a mapping with a `cases:` list)."""
    loader = Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        above = "\n".join(text.splitlines()[: mark.line + 1] if mark else [])
        names = NAME.findall(above)  # the case being written where it broke
        where += f": case {names[-1]!r}" if names else ""
        problem = getattr(error, "problem", None) or error
        raise CaseError(f"{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if root is None:
        return []
    listing = _child(root, "cases") if isinstance(root, yaml.MappingNode) else None
    if isinstance(listing, yaml.ScalarNode) and listing.tag.endswith(":null"):
        return []  # `cases:` with nothing under it yet
    if not isinstance(listing, yaml.SequenceNode):
        line = (listing or root).start_mark.line + 1
        raise CaseError(f"{source}:{line}: expected `cases:` followed by a list")
    cases = [_case(loader, node, source) for node in listing.value]
    seen: set[str] = set()
    for case in cases:
        if case.name in seen:
            raise CaseError(f"{source}:{case.line}: case {case.name!r} appears twice")
        seen.add(case.name)
    return cases


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    return next((v for k, v in node.value if k.value == key), None)


def _case(loader: Loader, node: yaml.Node, source: str) -> Case:
    line = node.start_mark.line + 1
    try:
        data = loader.construct_document(node)
    except (yaml.YAMLError, ValueError) as error:
        raise CaseError(f"{source}:{line}: cannot read this case: {error}") from None
    name = data.get("name") if isinstance(data, dict) else None

    def fail(message: str, at: int = line) -> CaseError:
        return CaseError(f"{source}:{at}: case {name or '(unnamed)'!r}: {message}")

    if not isinstance(data, dict):
        raise fail("expected a mapping with name, input and expect")
    if not isinstance(name, str) or not name:
        raise fail("needs a `name`")
    unknown = set(data) - set(CASE_KEYS)
    if unknown:
        raise fail(f"unknown key {sorted(unknown)[0]!r}; use {', '.join(CASE_KEYS)}")
    given = data.get("input")
    batched = isinstance(given, list)
    instances = given if batched else [given]
    if not instances or not all(isinstance(x, dict) for x in instances):
        raise fail("`input` must be one input (a mapping) or a list of them")
    budget = data.get("latency_ms")
    if budget is not None and (not isinstance(budget, int | float) or budget <= 0):
        raise fail("`latency_ms` must be a positive number")
    example = data.get("example", False)
    if not isinstance(example, bool):
        raise fail("`example` must be true or false")
    expect_node = _child(node, "expect")
    items = data.get("expect") or []
    if not isinstance(items, list):
        raise fail("`expect` must be a list", expect_node.start_mark.line + 1)
    lines = [n.start_mark.line + 1 for n in getattr(expect_node, "value", [])]
    expectations = []
    for item, at in zip(items, lines, strict=True):
        try:
            expectations.append(_expectation(item, len(instances)))
        except ValueError as error:
            raise fail(str(error), at) from None
    return Case(name, line, instances, batched, expectations, budget, example)


def _expectation(item: Any, count: int) -> Expectation:
    if not isinstance(item, dict):
        raise ValueError("an expectation is a mapping: {field: label, equals: x}")
    options = {"field", "instance", *(o for opts in KINDS.values() for o in opts)}
    kinds = [k for k in item if k not in options]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or len(kinds) != 1:
        problem = (
            f"unknown expectation type {unknown[0]!r}"
            if unknown
            else f"one expectation type per item, not {len(kinds)}"
        )
        raise ValueError(f"{problem}; use one of {', '.join(KINDS)}")
    kind = kinds[0]
    extra = set(item) - {"field", "instance", kind, *KINDS[kind]}
    if extra:
        raise ValueError(f"{kind} takes no {sorted(extra)[0]!r}")
    missing = [k for k in REQUIRED.get(kind, ()) if k not in item]
    if missing:
        raise ValueError(f"{kind} needs {missing[0]!r}")
    value, instance = item[kind], item.get("instance")
    if instance is not None and instance not in range(count):
        raise ValueError(f"instance must be an index from 0 to {count - 1}")
    tolerance = item.get("tolerance", 0)
    if not number(tolerance) or tolerance < 0:
        raise ValueError("tolerance must be a number, 0 or more")
    if kind == "one_of" and not isinstance(value, list):
        raise ValueError("one_of needs a list")
    if kind == "matches" and (
        not isinstance(value, dict) or not value or set(value) - set(PREDICATES)
    ):
        raise ValueError(f"matches needs a mapping of {', '.join(PREDICATES)}")
    if kind == "matches" and "regex" in value:
        try:
            re.compile(str(value["regex"]))
        except re.error as error:
            raise ValueError(f"regex {value['regex']!r}: {error}") from None
    limit = value if kind == "top_k" else item.get("at_most", 1)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"{kind} needs a whole number of 1 or more")
    field = item.get("field", "")
    options = tuple((k, item[k]) for k in KINDS[kind] if k in item)
    return Expectation(kind, value, str(field), instance, options)
