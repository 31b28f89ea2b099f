"""The router expression AST and its evaluation over plain JSON values (no Python objects)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ExpressionEvalError(ValueError):
    """The expression parsed but cannot be evaluated on this state (e.g. 1 / 0)."""


@dataclass(frozen=True)
class Literal:
    value: Any

    def evaluate(self, state: dict[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True)
class StateRoot:
    def evaluate(self, state: dict[str, Any]) -> Any:
        return state


@dataclass(frozen=True)
class ListOf:
    items: tuple[Any, ...]

    def evaluate(self, state: dict[str, Any]) -> Any:
        return [item.evaluate(state) for item in self.items]


@dataclass(frozen=True)
class Member:
    """`x.name` or `x[key]`: dict keys and list indices only; a missing one is null."""

    target: Any
    key: Any  # an AST node

    def evaluate(self, state: dict[str, Any]) -> Any:
        container = self.target.evaluate(state)
        key = self.key.evaluate(state)
        if isinstance(container, dict) and isinstance(key, str):
            return container.get(key)
        if isinstance(container, list) and isinstance(key, int) and not isinstance(key, bool):
            return container[key] if -len(container) <= key < len(container) else None
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _length(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    if value is None:
        return 0
    raise ExpressionEvalError(f"len() of a {_kind(value)}")


def _text(function: Callable[[str], str]) -> Callable[[Any], str]:
    def apply(value: Any) -> str:
        if not isinstance(value, str):
            raise ExpressionEvalError(f"expected a string, got a {_kind(value)}")
        return function(value)

    return apply


def _numeric(function: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*values: Any) -> Any:
        if not values or not all(_is_number(value) for value in values):
            raise ExpressionEvalError("expected numbers")
        return function(*values)

    return apply


FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    # name: (function, min args, max args)
    "len": (_length, 1, 1),
    "lower": (_text(str.lower), 1, 1),
    "upper": (_text(str.upper), 1, 1),
    "abs": (_numeric(abs), 1, 1),
    "min": (_numeric(min), 1, 8),
    "max": (_numeric(max), 1, 8),
    "round": (_numeric(lambda value, digits=0: round(value, int(digits))), 1, 2),
}


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]

    def evaluate(self, state: dict[str, Any]) -> Any:
        function = FUNCTIONS[self.name][0]
        return function(*(arg.evaluate(state) for arg in self.args))


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Any

    def evaluate(self, state: dict[str, Any]) -> Any:
        value = self.operand.evaluate(state)
        if self.op == "not":
            return not value
        if not _is_number(value):
            raise ExpressionEvalError(f"cannot negate a {_kind(value)}")
        return -value


@dataclass(frozen=True)
class Logical:
    op: str  # and | or
    left: Any
    right: Any

    def evaluate(self, state: dict[str, Any]) -> Any:
        left = self.left.evaluate(state)
        if self.op == "and":
            return self.right.evaluate(state) if left else left
        return left if left else self.right.evaluate(state)


@dataclass(frozen=True)
class Binary:
    op: str
    left: Any
    right: Any

    def evaluate(self, state: dict[str, Any]) -> Any:
        left, right = self.left.evaluate(state), self.right.evaluate(state)
        if self.op in ("==", "!="):
            equal = _equal(left, right)
            return equal if self.op == "==" else not equal
        if self.op in ("in", "not in"):
            found = _contains(right, left)
            return found if self.op == "in" else not found
        if self.op in ("<", "<=", ">", ">="):
            return _order(self.op, left, right)
        return _arithmetic(self.op, left, right)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    names: dict[type, str] = {str: "string", list: "list", dict: "object"}
    return names.get(type(value), "value")


def _equal(left: Any, right: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1."""
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        if not isinstance(item, str):
            raise ExpressionEvalError(f"'in' a string needs a string, got a {_kind(item)}")
        return item in container
    if isinstance(container, list):
        return any(_equal(item, element) for element in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    if container is None:
        return False
    raise ExpressionEvalError(f"'in' needs a string, list or object, got a {_kind(container)}")


def _order(op: str, left: Any, right: Any) -> bool:
    comparable = (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    if not comparable:
        raise ExpressionEvalError(f"cannot compare a {_kind(left)} with a {_kind(right)}")
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if not (_is_number(left) and _is_number(right)):
        raise ExpressionEvalError(f"cannot apply {op!r} to a {_kind(left)} and a {_kind(right)}")
    if op in ("/", "%") and right == 0:
        raise ExpressionEvalError("division by zero")
    result = {
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "/": lambda: left / right,
        "%": lambda: left % right,
    }[op]()
    if isinstance(result, float) and not math.isfinite(result):
        raise ExpressionEvalError("result is not a finite number")
    return result
