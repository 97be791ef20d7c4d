"""Conditions of rules.yaml: parsed and type-checked by rule-engine, run as closures.

rule-engine (https://zerosteiner.github.io/rule-engine/) parses each condition and
checks its fields and types against Input and Output at start. Its interpreter
costs tens of microseconds a condition, too slow to run on every instance, so the
common forms (fields, literals, item access, comparisons, `in`, regex matches,
and/or/not on known scalar types) become small Python closures with the same
results; anything else (arithmetic, functions, attributes, untyped fields) is left
to rule-engine's own interpreter. Nothing is eval'd.
"""

import decimal
import operator
import re
import typing
from collections.abc import Callable
from typing import Any

import rule_engine
from pydantic import BaseModel

from ..model import Input, Output

D = rule_engine.DataType
Instance = tuple[Input, Output]
Check = Callable[[Instance], Any]
SCALARS = (D.FLOAT, D.STRING, D.BOOLEAN)
COMPARE = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def data_type(annotation: object) -> rule_engine.DataType:
    """The rule-engine type of a pydantic field, for checks at start (or UNDEFINED)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:  # Annotated[float, Field(ge=0)]: the float
        return data_type(args[0])
    simple = {bool: D.BOOLEAN, int: D.FLOAT, float: D.FLOAT, str: D.STRING}
    if annotation in simple:
        return simple[annotation]
    if origin in (list, set, frozenset) and args:
        return D.ARRAY(data_type(args[0]))
    if origin is dict and len(args) == 2:
        return D.MAPPING(data_type(args[0]), data_type(args[1]))
    if origin is typing.Literal and all(isinstance(a, str) for a in args):
        return D.STRING
    return D.UNDEFINED  # Optional, unions, nested models: checked at run time only


def _resolve(thing: Instance, name: str) -> object:
    """A field of the prediction, else of the input (an Output field wins)."""
    value = getattr(thing[1] if name in Output.model_fields else thing[0], name)
    return value.model_dump() if isinstance(value, BaseModel) else value


FIELDS = {
    name: data_type(f.annotation)
    for model in (Input, Output)
    for name, f in model.model_fields.items()
}
CONTEXT = rule_engine.Context(
    resolver=_resolve,
    type_resolver=rule_engine.type_resolver_from_dict(FIELDS),
    mapping_attribute_lookup=False,
)


class Slow(Exception):
    """This form is left to rule-engine's interpreter."""


def parse(text: str) -> tuple[rule_engine.Rule, Callable[[Instance], Any], bool]:
    """Parse and check a condition: (the rule, its test, whether the test is fast).

    The test's result is true or false as Python sees it (not always a bool).
    """
    rule = rule_engine.Rule(text, context=CONTEXT)
    try:
        return rule, _function(compile_(rule.statement.expression)), True
    except Slow:
        return rule, rule.matches, False


def unanchored(text: str) -> list[tuple[str, str]]:
    """(operator, pattern) of each `=~` or `!~` whose pattern does not start with ^
    (or .*): they match at the start of the text only, unlike `=~~` and `!~~`."""
    found, nodes = [], [rule_engine.Rule(text, context=CONTEXT).statement.expression]
    for node in nodes:  # the list grows while it is walked
        if type(node).__name__ == "FuzzyComparisonExpression" and node.type in (
            "eq_fzm",
            "ne_fzm",
        ):
            pattern = getattr(node.right, "value", None)
            if isinstance(pattern, str) and not pattern.startswith(("^", ".*")):
                found.append(("=~" if node.type == "eq_fzm" else "!~", pattern))
        children = ("left", "right", "container", "member", "item")
        nodes += [getattr(node, c) for c in children if hasattr(node, c)]
    return found


class Const(typing.NamedTuple):
    """A value known at start (rule-engine folds constant parts of a condition)."""

    value: Any


def compile_(node: Any) -> Check | Const:
    """A closure with rule-engine's result for this (type-checked) node, or Slow."""
    kind = type(node).__name__
    if kind == "SymbolExpression" and node.result_type != D.UNDEFINED:
        get, side = (
            operator.attrgetter(node.name),
            int(node.name in Output.model_fields),
        )
        return lambda t: get(t[side])
    if kind in ("StringExpression", "BooleanExpression", "FloatExpression"):
        return Const(_native(node.value))
    if kind in ("ArrayExpression", "SetExpression"):  # of constants, for `in`
        members = [compile_(member) for member in node.value]
        if not all(
            isinstance(m, Const) and type(m.value) in (str, float) for m in members
        ):
            raise Slow
        return Const(frozenset(m.value for m in members))
    if kind == "LogicExpression":
        left, right = _function(compile_(node.left)), _function(compile_(node.right))
        if node.type == "and":
            return lambda t: bool(left(t) and right(t))
        return lambda t: bool(left(t) or right(t))
    if kind == "UnaryExpression" and node.type == "not":
        right = _function(compile_(node.right))
        return lambda t: not right(t)
    if kind in ("ComparisonExpression", "ArithmeticComparisonExpression"):
        if {node.left.result_type, node.right.result_type} - set(SCALARS):
            raise Slow
        return _binary(COMPARE[node.type], node.left, node.right)
    if kind == "FuzzyComparisonExpression":  # =~ match, =~~ search, !~ and !~~ not
        pattern = compile_(node.right)
        if node.left.result_type != D.STRING or not isinstance(pattern, Const):
            raise Slow
        regex = re.compile(pattern.value, flags=CONTEXT.regex_flags)
        find = regex.match if node.type.endswith("fzm") else regex.search
        left, negate = _function(compile_(node.left)), node.type.startswith("ne")
        return lambda t: (find(left(t)) is None) is negate
    if kind == "ContainsExpression":
        kind_ = node.container.result_type
        if node.member.result_type not in SCALARS or not (
            kind_ == D.STRING or _collection(kind_)
        ):
            raise Slow
        return _binary(_contains, node.member, node.container)
    if kind == "GetItemExpression" and not node.safe:
        if not _collection(node.container.result_type):
            raise Slow
        item = compile_(node.item)
        if D.is_type(node.container.result_type, D.ARRAY):
            item = Const(_index(item.value)) if isinstance(item, Const) else item
            if not isinstance(item, Const):
                get_item = item
                item = lambda t: _index(get_item(t))  # noqa: E731
        return _binary(operator.getitem, node.container, item)
    raise Slow


def _binary(op: Callable[[Any, Any], Any], left_node: Any, right: Any) -> Check:
    """op(left, right), with the usual shapes (field op constant) unrolled."""
    left = compile_(left_node)
    right = right if callable(right) or isinstance(right, Const) else compile_(right)
    if isinstance(left, Const):
        left_value, right_f = left.value, _function(right)
        return lambda t: op(left_value, right_f(t))
    if isinstance(right, Const):
        value = right.value
        if type(left_node).__name__ == "SymbolExpression":  # one call fewer
            get = operator.attrgetter(left_node.name)
            side = int(left_node.name in Output.model_fields)
            return lambda t: op(get(t[side]), value)
        return lambda t: op(left(t), value)
    return lambda t: op(left(t), right(t))


def _function(compiled: Check | Const) -> Check:
    if isinstance(compiled, Const):
        value = compiled.value
        return lambda t: value
    return compiled


def _contains(member: Any, container: Any) -> bool:
    return member in container


def _collection(kind: Any) -> bool:
    return any(D.is_type(kind, c) for c in (D.ARRAY, D.MAPPING, D.SET))


def _native(value: Any) -> Any:
    """rule-engine keeps numbers as Decimal; the fields hold floats and ints."""
    return float(value) if isinstance(value, decimal.Decimal) else value


def _index(value: float) -> int:
    if value != int(value):
        raise rule_engine.EvaluationError("data type mismatch (not an integer number)")
    return int(value)
