"""Worked arithmetic answers for the pattern roles (debaters, solvers, judge, verifier).

Edge-tier models are the sloppy ones, deterministically: on a question with several
priced items they leave the last one out, so cascades escalate, verifiers reject their
drafts and judges prefer another debater, as with real cheap models on multi-step sums.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devtools.simulator.planning import find_expressions, split_count
from nodes.calculator import CalculatorError, evaluate, format_number

_FINAL = re.compile(r"####\s*\$?\s*(-?[\d,]*\.?\d+)")


@dataclass(frozen=True)
class Solution:
    text: str  # worked "a op b = c" lines, then "#### <value>"
    value: float
    skipped: str | None = None  # the expression a sloppy solver left out


def _values(question: str) -> list[tuple[str, float]] | None:
    found = []
    for expression in find_expressions(question):
        try:
            found.append((expression.text, float(evaluate(expression.text))))
        except CalculatorError:
            return None
    return found or None


def solve(question: str, *, sloppy: bool = False) -> Solution | None:
    """A worked answer (None when the question holds no arithmetic)."""
    values = _values(question)
    if values is None:
        return None
    skipped = None
    if sloppy and len(values) > 1:
        skipped = values[-1][0]
        values = values[:-1]
    lines = [f"{text} = {format_number(value)}" for text, value in values]
    total = sum(value for _, value in values)
    if len(values) > 1:
        parts = " + ".join(format_number(value) for _, value in values)
        lines.append(f"{parts} = {format_number(total)}")
    people = split_count(question)
    if people:
        lines.append(f"{format_number(total)} / {people} = {format_number(total / people)}")
        total /= people
    lines.append(f"#### {format_number(total)}")
    return Solution("\n".join(lines), total, skipped)


def final_number(text: str) -> float | None:
    """The value after the last `####`, if any."""
    found = _FINAL.findall(text or "")
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def same(left: float | None, right: float | None) -> bool:
    return left is not None and right is not None and abs(left - right) < 1e-6
