"""The router expression language: a tokenizer and recursive-descent parser over JSON values.

`state.score >= 0.8 and state.kind == "math"`, `len(state.items) > 0`, `"x" in state.tags`.
Nothing is ever handed to Python's `eval`: the parser builds a small AST whose evaluator
knows JSON values only (no attributes of Python objects), and length and depth are bounded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from graphs.spec.expression_ast import (
    FUNCTIONS,
    Binary,
    Call,
    ExpressionEvalError,
    ListOf,
    Literal,
    Logical,
    Member,
    StateRoot,
    Unary,
)

__all__ = ["Expression", "ExpressionEvalError", "ExpressionSyntaxError", "parse_expression"]

MAX_EXPRESSION_CHARS = 500
MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 20

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<string>\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|[<>+\-*/%()\[\],.])"
)
_KEYWORDS = {"and", "or", "not", "in"}
_CONSTANTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


class ExpressionSyntaxError(ValueError):
    """The expression cannot be parsed; `column` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.message = message
        self.column = column


@dataclass(frozen=True)
class _Tok:
    kind: str  # number, string, name, keyword, op, end
    text: str
    column: int


def _tokenize(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise ExpressionSyntaxError(f"unexpected character {source[position]!r}", position + 1)
        kind = match.lastgroup or "op"
        if kind != "space":
            text = match.group()
            if kind == "name" and text in _KEYWORDS:
                kind = "keyword"
            tokens.append(_Tok(kind, text, position + 1))
        position = match.end()
    tokens.append(_Tok("end", "", len(source) + 1))
    return tokens


class _Parser:
    """or := and ('or' and)*; and := not ('and' not)*; not := 'not' not | comparison;
    comparison := sum (op sum)?; sum := product (('+'|'-') product)*;
    product := unary (('*'|'/'|'%') unary)*; unary := '-' unary | postfix;
    postfix := atom ('.' name | '[' or ']')*; atom := literal | state | call | '(' or ')' | list"""

    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.position = 0
        self.depth = 0
        self.references: list[tuple[str, int]] = []  # (state field, column)

    @property
    def current(self) -> _Tok:
        return self.tokens[self.position]

    def advance(self) -> _Tok:
        token = self.current
        self.position += 1
        return token

    def accept(self, kind: str, text: str) -> bool:
        if self.current.kind == kind and self.current.text == text:
            self.position += 1
            return True
        return False

    def expect(self, kind: str, text: str) -> None:
        if not self.accept(kind, text):
            found = self.current.text or "the end"
            raise ExpressionSyntaxError(f"expected {text!r}, found {found!r}", self.current.column)

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionSyntaxError(f"nested deeper than {MAX_DEPTH}", self.current.column)

    def parse(self) -> Any:
        if self.current.kind == "end":
            raise ExpressionSyntaxError("empty expression", 1)
        tree = self.disjunction()
        if self.current.kind != "end":
            raise ExpressionSyntaxError(
                f"unexpected {self.current.text!r} after the expression", self.current.column
            )
        return tree

    def disjunction(self) -> Any:
        left = self.conjunction()
        while self.accept("keyword", "or"):
            left = Logical("or", left, self.conjunction())
        return left

    def conjunction(self) -> Any:
        left = self.negation()
        while self.accept("keyword", "and"):
            left = Logical("and", left, self.negation())
        return left

    def negation(self) -> Any:
        if self.accept("keyword", "not"):
            self.nested()
            operand = self.negation()
            self.depth -= 1
            return Unary("not", operand)
        return self.comparison()

    def comparison(self) -> Any:
        left = self.sum()
        op = self._comparison_operator()
        if op is None:
            return left
        tree = Binary(op, left, self.sum())
        if self._comparison_operator() is not None:
            raise ExpressionSyntaxError(
                "chained comparisons are not supported; join them with 'and'",
                self.tokens[self.position - 1].column,
            )
        return tree

    def _comparison_operator(self) -> str | None:
        token = self.current
        if token.kind == "op" and token.text in ("==", "!=", "<", "<=", ">", ">="):
            self.position += 1
            return token.text
        if self.accept("keyword", "in"):
            return "in"
        if token.kind == "keyword" and token.text == "not":
            following = self.tokens[self.position + 1]
            if following.kind == "keyword" and following.text == "in":
                self.position += 2
                return "not in"
        return None

    def sum(self) -> Any:
        left = self.product()
        while self.current.kind == "op" and self.current.text in ("+", "-"):
            left = Binary(self.advance().text, left, self.product())
        return left

    def product(self) -> Any:
        left = self.unary()
        while self.current.kind == "op" and self.current.text in ("*", "/", "%"):
            left = Binary(self.advance().text, left, self.unary())
        return left

    def unary(self) -> Any:
        if self.accept("op", "-"):
            self.nested()
            operand = self.unary()
            self.depth -= 1
            return Unary("-", operand)
        return self.postfix()

    def postfix(self) -> Any:
        start = self.current
        tree = self.atom()
        chain: list[Any] = []
        while True:
            if self.accept("op", "."):
                name = self.advance()
                if name.kind not in ("name", "keyword"):
                    raise ExpressionSyntaxError("expected a field name after '.'", name.column)
                key: Any = Literal(name.text)
            elif self.accept("op", "["):
                self.nested()
                key = self.disjunction()
                self.depth -= 1
                self.expect("op", "]")
            else:
                break
            chain.append(key)
            tree = Member(tree, key)
        first = chain[0].value if chain and isinstance(chain[0], Literal) else None
        if start.kind == "name" and start.text == "state" and isinstance(first, str):
            self.references.append((first, start.column))
        return tree

    def atom(self) -> Any:
        token = self.advance()
        if token.kind == "number":
            if len(token.text) > MAX_NUMBER_DIGITS:
                raise ExpressionSyntaxError("number too long", token.column)
            value = float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
            if isinstance(value, float) and not math.isfinite(value):
                raise ExpressionSyntaxError("number out of range", token.column)
            return Literal(value)
        if token.kind == "string":
            return Literal(_unquote(token))
        if token.kind == "op" and token.text == "(":
            self.nested()
            inner = self.disjunction()
            self.depth -= 1
            self.expect("op", ")")
            return inner
        if token.kind == "op" and token.text == "[":
            return self.list_literal()
        if token.kind == "name":
            if token.text in _CONSTANTS:
                return Literal(_CONSTANTS[token.text])
            if token.text == "state":
                return StateRoot()
            if self.current.kind == "op" and self.current.text == "(":
                return self.call(token)
            raise ExpressionSyntaxError(
                f"unknown name {token.text!r}: read state fields as state.{token.text}",
                token.column,
            )
        found = token.text or "the end of the expression"
        raise ExpressionSyntaxError(f"unexpected {found!r}", token.column)

    def list_literal(self) -> Any:
        items: list[Any] = []
        self.nested()
        if not self.accept("op", "]"):
            items.append(self.disjunction())
            while self.accept("op", ","):
                items.append(self.disjunction())
            self.expect("op", "]")
        self.depth -= 1
        return ListOf(tuple(items))

    def call(self, name: _Tok) -> Any:
        if name.text not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExpressionSyntaxError(
                f"unknown function {name.text!r} (known: {known})", name.column
            )
        self.expect("op", "(")
        self.nested()
        args: list[Any] = []
        if not self.accept("op", ")"):
            args.append(self.disjunction())
            while self.accept("op", ","):
                args.append(self.disjunction())
            self.expect("op", ")")
        self.depth -= 1
        _, least, most = FUNCTIONS[name.text]
        if not least <= len(args) <= most:
            count = str(least) if least == most else f"{least} to {most}"
            raise ExpressionSyntaxError(
                f"{name.text}() takes {count} argument(s), got {len(args)}", name.column
            )
        return Call(name.text, tuple(args))


def _unquote(token: _Tok) -> str:
    body = token.text[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1]
            if escaped not in _ESCAPES:
                raise ExpressionSyntaxError(f"unknown escape \\{escaped}", token.column + index + 1)
            out.append(_ESCAPES[escaped])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its source, AST and the state fields it reads."""

    source: str
    tree: Any
    references: tuple[tuple[str, int], ...]

    def evaluate(self, state: dict[str, Any]) -> Any:
        """The value over a state of plain JSON values; ExpressionEvalError when undefined."""
        try:
            return self.tree.evaluate(state)
        except RecursionError as exc:  # cannot happen within MAX_DEPTH; kept explicit
            raise ExpressionEvalError("expression too deep") from exc
        except (OverflowError, TypeError) as exc:
            raise ExpressionEvalError(str(exc)) from exc


def parse_expression(source: str) -> Expression:
    """Parse and bound-check an expression; ExpressionSyntaxError names the column."""
    if not isinstance(source, str):
        raise ExpressionSyntaxError("an expression is a string", 1)
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionSyntaxError(
            f"expression longer than {MAX_EXPRESSION_CHARS} characters", MAX_EXPRESSION_CHARS
        )
    parser = _Parser(_tokenize(source))
    tree = parser.parse()
    return Expression(source, tree, tuple(parser.references))
