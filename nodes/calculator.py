"""A safe arithmetic calculator tool: parses with `ast`, never `eval`."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import cast

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 1e300

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}

CALCULATOR_TOOL = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression with + - * / // % ** and parentheses.",
        "parameters": {
            "type": "object",
            "properties": {
                "expression": {"type": "string", "description": "e.g. (2 * 340) + 5 * 120"}
            },
            "required": ["expression"],
        },
    },
}


class CalculatorError(ValueError):
    """The expression is not plain arithmetic or cannot be evaluated."""


def evaluate(expression: str) -> float | int:
    """Evaluate plain arithmetic; anything else (names, calls, attributes) is refused."""
    value = _eval(_parse(expression).body)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise CalculatorError("result is not a finite number")
    return value


def check_syntax(expression: str) -> None:
    """Raise CalculatorError unless `expression` is plain arithmetic (nothing evaluated)."""
    tree = _parse(expression)
    for node in ast.walk(tree.body):
        allowed = (
            (isinstance(node, ast.Constant) and type(node.value) in (int, float))
            or isinstance(node, ast.BinOp | ast.UnaryOp)
            or type(node) in _BINARY
            or type(node) in _UNARY
        )
        if not allowed:
            raise CalculatorError(f"unsupported element: {ast.dump(node)[:60]}")


def _parse(expression: str) -> ast.Expression:
    text = _normalise(expression)
    if not text:
        raise CalculatorError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CalculatorError(f"not an arithmetic expression: {expression!r}") from exc


def _normalise(expression: str) -> str:
    return expression.strip().replace("\u00d7", "*").replace("\u00f7", "/").replace("^", "**")


def format_number(value: float | int) -> str:
    """Integers without a decimal point, other values rounded to 6 significant decimals."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def _eval(node: ast.expr) -> float | int:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return cast(float | int, node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise CalculatorError(f"exponent larger than {MAX_EXPONENT}")
        try:
            result = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError as exc:
            raise CalculatorError("division by zero") from exc
        except OverflowError as exc:
            raise CalculatorError("result too large") from exc
        if isinstance(result, complex) or abs(result) > MAX_MAGNITUDE:
            raise CalculatorError("result too large or not real")
        return result
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    raise CalculatorError(f"unsupported element: {ast.dump(node)[:60]}")
