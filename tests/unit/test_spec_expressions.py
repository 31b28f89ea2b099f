"""The router expression language: values over plain JSON, errors with columns, no code."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.spec.expressions import (
    MAX_EXPRESSION_CHARS,
    ExpressionEvalError,
    ExpressionSyntaxError,
    parse_expression,
)

STATE: dict[str, Any] = {
    "score": 0.9,
    "kind": "math",
    "items": [1, 2, 3],
    "tags": ["x", "y"],
    "verdict": {"winner": "mid_2", "answers": [{"n": 4}]},
    "flag": True,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('state.score >= 0.8 and state.kind == "math"', True),
        ("len(state.items) > 0", True),
        ('"x" in state.tags', True),
        ('"z" not in state.tags', True),
        ("state.verdict.answers[0].n * 2 + 1", 9),
        ('state["kind"] != "prose"', True),
        ("not state.missing", True),
        ("state.missing == null", True),
        ("state.items[-1]", 3),
        ("state.items[10]", None),
        ("1 == true", False),
        ("1 == 1.0", True),
        ("max(1, state.score, 0.5)", 1),
        ('lower("ABC") + upper("d")', "abcD"),
        ("round(2.567, 1)", 2.6),
        ("(1 + 2) * 3 % 4", 1),
        ("-state.score < 0 or false", True),
        ("[1, 2][1]", 2),
        ('state.flag and state.kind == "math"', True),
    ],
)
def test_expressions_evaluate_over_json_state(source: str, expected: Any) -> None:
    assert parse_expression(source).evaluate(STATE) == expected


def test_references_name_the_state_fields_read() -> None:
    parsed = parse_expression('state.score > 1 and len(state["items"]) > 0')
    assert parsed.references == (("score", 1), ("items", 25))


@pytest.mark.parametrize(
    ("source", "message", "column"),
    [
        ("state.score >=", "unexpected", 15),
        ("score > 1", "unknown name 'score': read state fields as state.score", 1),
        ('eval("1")', "unknown function 'eval'", 1),
        ('__import__("os")', "unknown function '__import__'", 1),
        ("1 < 2 < 3", "chained comparisons", 7),
        ("state.x @ 2", "unexpected character '@'", 9),
        ("len(1, 2)", "len() takes 1 argument(s), got 2", 1),
        ("(1 + 2", "expected ')'", 7),
        ('"open', "unexpected character", 1),
        ("", "empty expression", 1),
    ],
)
def test_syntax_errors_name_the_column(source: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression(source)
    assert message in caught.value.message
    assert caught.value.column == column


def test_length_and_depth_are_bounded() -> None:
    with pytest.raises(ExpressionSyntaxError, match="longer than"):
        parse_expression("1" + " + 1" * MAX_EXPRESSION_CHARS)
    with pytest.raises(ExpressionSyntaxError, match="nested deeper"):
        parse_expression("(" * 40 + "1" + ")" * 40)
    with pytest.raises(ExpressionSyntaxError, match="nested deeper"):
        parse_expression("not " * 40 + "true")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("1 / 0", "division by zero"),
        ('"a" < 1', "cannot compare a string with a number"),
        ("state.kind * 3", "cannot apply '*'"),
        ("len(state.score)", r"len\(\) of a number"),
        ('1 in "abc"', "needs a string"),
    ],
)
def test_evaluation_errors_are_clear(source: str, message: str) -> None:
    with pytest.raises(ExpressionEvalError, match=message):
        parse_expression(source).evaluate(STATE)


def test_python_attributes_are_not_reachable() -> None:
    # Member access reads dict keys only: dunder names are just missing keys.
    assert parse_expression("state.__class__").evaluate(STATE) is None
    assert parse_expression("state.kind.upper").evaluate(STATE) is None


@settings(max_examples=300, deadline=500)
@given(st.text(max_size=120))
def test_any_text_parses_or_fails_with_a_syntax_error(source: str) -> None:
    try:
        parsed = parse_expression(source)
    except ExpressionSyntaxError:
        return
    with contextlib.suppress(ExpressionEvalError):
        parsed.evaluate(STATE)
