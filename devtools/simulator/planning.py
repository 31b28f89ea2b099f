"""Scripted planner: finds the arithmetic written in a question and plans calculator steps.

A small tokenizer and recursive-descent parser (no `eval`) pull out expressions such as
"2 * 340" or "(3 + 4) x 12.5"; the words just before each one name its step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_PAREN_DEPTH = 16
MAX_DESCRIPTION_WORDS = 4

_TOKEN = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{1,2}-[0-9]{1,2})"
    r"|(?P<num>(?:[$€£]\s?)?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?)"
    r"|(?P<op>[+\-*/\u00d7\u00f7^\u2212])"
    r"|(?P<xop>(?<![^\W\d_])[xX](?![^\W\d_]))"
    r"|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<word>[^\W\d_]+(?:'[^\W\d_]+)?)"
    r"|(?P<other>\S)"
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_BOUNDARY = re.compile(r"[,;:.?!\n]")
_OPERATORS = {"+": "+", "-": "-", "\u2212": "-", "*": "*", "\u00d7": "*", "x": "*", "X": "*"}
_OPERATORS |= {"/": "/", "\u00f7": "/", "^": "**"}
_SPLITS = (
    re.compile(r"\bper (?:person|head)\b.*?\b(?:for|among|between) ([0-9]+)\b", re.I),
    re.compile(
        r"\b(?:for|among|between) ([0-9]+) (?:people|persons|travell?ers|friends|guests)\b"
        r".*?\bper (?:person|head)\b",
        re.I,
    ),
    re.compile(r"\bsplit (?:\w+ )?(?:between|among|across|by|into) ([0-9]+)\b", re.I),
    re.compile(r"\bdivided (?:\w+ )?(?:by|between|among|into) ([0-9]+)\b", re.I),
    re.compile(r"\bshared (?:\w+ )?(?:between|among|by) ([0-9]+)\b", re.I),
)
_FILLER_WORDS = """a an the is are was were be been cost costs costing what what's whats how
    much many
    and or plus then for of at to in on by with my our your their his her its it this that
    these those we i you they will would do does did total totals usd eur gbp dollars dollar
    euros euro pounds per each come comes came spend spent pay paid times equals equal get
    gets if also about around roughly approximately please compute calculate tell me us so
    there here which where when who why can could should"""
_FILLERS = frozenset(_FILLER_WORDS.split())


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Expression:
    """One arithmetic expression found in the text, normalised for the calculator."""

    text: str
    start: int
    end: int


def _tokenize(text: str) -> list[_Token]:
    return [
        _Token(match.lastgroup or "other", match.group(), match.start(), match.end())
        for match in _TOKEN.finditer(text)
    ]


def _number(text: str) -> str:
    digits = text.lstrip("$€£").strip().replace(",", "")
    whole, dot, fraction = digits.partition(".")
    return (whole.lstrip("0") or "0") + dot + fraction


class _Parser:
    """expression := term (operator term)*; term := number | -number | ( expression )."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens

    def _is(self, index: int, *kinds: str) -> bool:
        return index < len(self.tokens) and self.tokens[index].kind in kinds

    def expression(self, index: int, depth: int = 0) -> tuple[int, list[str], int] | None:
        """(index after, normalised parts, operator count) or None when no term starts here."""
        term = self.term(index, depth)
        if term is None:
            return None
        end, parts, operators = term
        while self._is(end, "op", "xop"):
            operator = _OPERATORS[self.tokens[end].text]
            following = self.term(end + 1, depth)
            if following is None:
                break
            end, more, inner = following
            parts = [*parts, operator, *more]
            operators += 1 + inner
        return end, parts, operators

    def term(self, index: int, depth: int) -> tuple[int, list[str], int] | None:
        if self._is(index, "num"):
            return index + 1, [_number(self.tokens[index].text)], 0
        if (
            self._is(index, "op")
            and self.tokens[index].text in ("-", "\u2212")
            and self._is(index + 1, "num")
            and self.tokens[index].end == self.tokens[index + 1].start
        ):
            return index + 2, ["-" + _number(self.tokens[index + 1].text)], 0
        if self._is(index, "lp") and depth < MAX_PAREN_DEPTH:
            inner = self.expression(index + 1, depth + 1)
            if inner is not None and self._is(inner[0], "rp"):
                end, parts, operators = inner
                return end + 1, ["(", *parts, ")"], operators
        return None


def _render(parts: list[str]) -> str:
    text = ""
    for part in parts:
        if not text or text.endswith("(") or part == ")":
            text += part
        else:
            text += " " + part
    return text


def find_expressions(text: str) -> list[Expression]:
    """Every maximal arithmetic expression with at least one operator, left to right."""
    tokens = _tokenize(text)
    parser = _Parser(tokens)
    found: list[Expression] = []
    index = 0
    while index < len(tokens):
        parsed = parser.expression(index)
        if parsed is not None and parsed[2] > 0:
            end, parts, _ = parsed
            found.append(Expression(_render(parts), tokens[index].start, tokens[end - 1].end))
            index = end
        else:
            index += 1
    return found


def _content_words(segment: str) -> list[str]:
    return _WORD.findall(segment)


def _label_before(segment: str) -> str:
    """The last run of meaningful words before an expression ("flights cost" -> "flights")."""
    words = _content_words(segment)
    while words and words[-1].lower() in _FILLERS:
        words.pop()
    run: list[str] = []
    for word in reversed(words):
        if word.lower() in _FILLERS:
            break
        run.insert(0, word)
    return " ".join(run[-MAX_DESCRIPTION_WORDS:])


def _label_after(segment: str) -> str:
    """The first run of meaningful words after an expression ("USD for flights" -> "flights")."""
    words = _content_words(segment)
    while words and words[0].lower() in _FILLERS:
        words.pop(0)
    run: list[str] = []
    for word in words:
        if word.lower() in _FILLERS:
            break
        run.append(word)
    return " ".join(run[:MAX_DESCRIPTION_WORDS])


def _before(text: str, found: list[Expression], position: int) -> str:
    left = found[position - 1].end if position > 0 else 0
    segment = text[left : found[position].start].rstrip().removesuffix(":")  # "food: 5 * 45"
    boundaries = list(_BOUNDARY.finditer(segment))
    return _label_before(segment[boundaries[-1].end() :] if boundaries else segment)


def _after(text: str, found: list[Expression], position: int) -> str:
    right = found[position + 1].start if position + 1 < len(found) else len(text)
    segment = text[found[position].end : right]
    cut = _BOUNDARY.search(segment)
    return _label_after(segment[: cut.start()] if cut else segment)


def _descriptions(text: str, found: list[Expression]) -> list[str]:
    """Labels read before each expression ("flights cost 2 * 340"), unless the question
    names them after ("2 * 340 for flights"): the first expression decides the style."""
    readers = (_before, _after) if _before(text, found, 0) else (_after, _before)
    labels = []
    for position, expression in enumerate(found):
        label = readers[0](text, found, position) or readers[1](text, found, position)
        labels.append(label or f"calculate {expression.text}")
    return labels


def split_count(text: str) -> int | None:
    """N in "per person for N people", "split between N", "divided by N"; None if absent."""
    for pattern in _SPLITS:
        match = pattern.search(text)
        if match and int(match.group(1)) > 0:
            return int(match.group(1))
    return None


def build_plan(question: str) -> dict[str, Any]:
    """The planner's JSON answer for a question: calculator steps, a total, a split."""
    found = find_expressions(question)
    if not found:
        step = {"id": 1, "description": "answer the question", "tool": None, "expression": None}
        return {"steps": [step]}
    labels = _descriptions(question, found)
    steps: list[dict[str, Any]] = [
        {"id": position + 1, "description": label, "tool": "calculator", "expression": expr.text}
        for position, (expr, label) in enumerate(zip(found, labels, strict=True))
    ]
    if len(found) > 1:
        refs = " + ".join(f"#{step['id']}" for step in steps)
        steps.append(
            {"id": len(steps) + 1, "description": "total", "tool": "calculator", "expression": refs}
        )
    people = split_count(question)
    if people is not None:
        steps.append(
            {
                "id": len(steps) + 1,
                "description": "per person",
                "tool": "calculator",
                "expression": f"#{len(steps)} / {people}",
            }
        )
    return {"steps": steps}
