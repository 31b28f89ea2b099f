"""Checks a worked math answer before a cascade accepts it (also used by the GSM8K benchmark).

The check is what a live cascade could run on a weak answer before accepting it: is there
a final number, is it a whole number (GSM8K answers are), do the worked "a op b = c" steps
add up, does the answer hedge, and does it use every quantity the question gives (a skipped
quantity usually means a skipped step). Nothing is fitted: the rules were written after
reading recorded Mixtral answers, so they can run on every GSM8K row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+"
_OP = "[-+*/x\u00d7\u00f7]"  # incl. multiplication and division signs
_EXPR_RE = re.compile(
    rf"((?:\(\s*)*-?(?:{_NUM})(?:\s*\)*\s*{_OP}\s*\(*\s*-?(?:{_NUM}))+\s*\)*)"
    rf"\s*=\s*\$?\s*(-?(?:{_NUM}))"
)
_ANNOTATION_RE = re.compile(r"<<([^<>=]+)=([^<>]+)>>")
_FINAL_RE = re.compile(r"####\s*\$?\s*(-?(?:" + _NUM + r"))")
_OPERATOR_TABLE = str.maketrans({",": "", "x": "*", "\u00d7": "*", "\u00f7": "/"})
_SAFE_EXPR_RE = re.compile(r"[\d.+\-*/() ]+")
_HEDGE_RE = re.compile(
    r"\bhowever\b|approximately|≈|\bround(?:ed|ing)?\b|\bassum|can't have|cannot have|"
    r"not possible|whole number|doesn't make sense|\bbut since\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AnswerCheck:
    """Outcome of checking one recorded weak answer."""

    final_answer: float | None
    equations_checked: int
    equations_wrong: int
    hedged: bool
    unused_quantities: int = 0  # numbers in the question the answer never mentions

    @property
    def non_integer(self) -> bool:
        return self.final_answer is not None and not float(self.final_answer).is_integer()

    @property
    def passed(self) -> bool:
        """Accept the weak answer only if every check is clean."""
        return (
            self.final_answer is not None
            and not self.non_integer
            and self.equations_wrong == 0
            and not self.hedged
            and self.unused_quantities == 0
        )


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").replace("$", "").strip())
    except ValueError:
        return None


def _evaluate(expr: str) -> float | None:
    """Evaluate plain arithmetic only (digits, + - * / and parentheses), else None."""
    cleaned = expr.translate(_OPERATOR_TABLE)
    if not _SAFE_EXPR_RE.fullmatch(cleaned) or len(cleaned) > 200:
        return None
    try:
        return float(_eval_tokens(re.findall(r"\d*\.\d+|\d+|[-+*/()]", cleaned)))
    except (ValueError, ZeroDivisionError, IndexError):
        return None


def _eval_tokens(tokens: list[str]) -> float:
    """Recursive-descent arithmetic (no eval): expr := term (± term)*, term := unary (*/ unary)*."""
    pos = 0

    def expr() -> float:
        nonlocal pos
        value = term()
        while pos < len(tokens) and tokens[pos] in "+-":
            op = tokens[pos]
            pos += 1
            value = value + term() if op == "+" else value - term()
        return value

    def term() -> float:
        nonlocal pos
        value = unary()
        while pos < len(tokens) and tokens[pos] in "*/":
            op = tokens[pos]
            pos += 1
            value = value * unary() if op == "*" else value / unary()
        return value

    def unary() -> float:
        nonlocal pos
        token = tokens[pos]
        pos += 1
        if token == "-":
            return -unary()
        if token == "(":
            value = expr()
            if tokens[pos] != ")":
                raise ValueError("unbalanced parentheses")
            pos += 1
            return value
        return float(token)

    result = expr()
    if pos != len(tokens):
        raise ValueError("trailing tokens")
    return result


def _close(computed: float, stated: float) -> bool:
    """Equal up to the rounding people write down (2 decimals or 0.6%)."""
    return abs(computed - stated) <= max(0.011, 0.006 * abs(stated))


def _quantities(text: str) -> set[float]:
    found = set()
    for raw in re.findall(_NUM, text):
        value = _number(raw)
        if value is not None:
            found.add(round(value, 6))
    return found


def unused_quantities(prompt: str, response: str) -> int:
    """Numbers given in the question that never appear in the answer (x% may appear as x/100)."""
    used = _quantities(response)
    return sum(1 for q in _quantities(prompt) if q not in used and round(q / 100, 6) not in used)


def check_answer(response: str, prompt: str | None = None) -> AnswerCheck:
    """Check a worked GSM8K-style answer: final number, arithmetic, hedging, coverage."""
    text = response.replace("\\*", "*").replace("\\", "")
    checked = wrong = 0
    for match in _ANNOTATION_RE.finditer(text):
        computed = _evaluate(match.group(1))
        stated = _evaluate(match.group(2))
        if computed is None or stated is None:
            continue
        checked += 1
        wrong += not _close(computed, stated)
    for match in _EXPR_RE.finditer(_ANNOTATION_RE.sub(" ", text)):
        computed = _evaluate(match.group(1))
        stated = _number(match.group(2))
        if computed is None or stated is None:
            continue
        checked += 1
        wrong += not _close(computed, stated)
    finals = _FINAL_RE.findall(text)
    return AnswerCheck(
        final_answer=_number(finals[-1]) if finals else None,
        equations_checked=checked,
        equations_wrong=wrong,
        hedged=bool(_HEDGE_RE.search(text)),
        unused_quantities=0 if prompt is None else unused_quantities(prompt, text),
    )
