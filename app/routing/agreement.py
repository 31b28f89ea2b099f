"""Agreement as a verifier that needs no training data: two answers, compared by their form.

Where an answer can be reduced to something comparable - a choice among options, a final
number, a JSON document's fields, a short label or span - two cheap models giving the same
one (or one model giving it twice) is evidence it is right, and a disagreement is a reason
to escalate. Where it cannot (free prose, explanations), agreement says nothing: the
verdict is "not comparable" and the cascade escalates. Code is compared after stripping
comments, blank lines and spacing; two correct programs rarely match that closely, so for
code agreement mostly escalates - it does not help there, and the reports say so.
Where two comparable answers disagree, a third model's vote may settle it (`majority_vote`):
the answer two of three share is accepted, the outvoted one counts as wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.routing.features import messages_text

Form = Literal["choice", "number", "json", "short", "code"]
COMPARABLE_FORMS: tuple[Form, ...] = ("choice", "number", "json", "short")
SHORT_WORDS = 6  # answers up to this many words compare as a label or span

_OPTION_RE = re.compile(r"(?:^|\n)\s*\(?([A-E])[\).:]\s+\S", re.MULTILINE)
_CHOICE_PATTERNS = (
    re.compile(r"^\W*\(?([A-E])\)?(?:[\s.):,]|$)"),  # "B", "(B)", "B) ...", "B."
    re.compile(r"answer(?: is)?\s*[:\-]?\s*\(?([A-E])\b\)?", re.IGNORECASE),
    re.compile(r"\boption\s+\(?([A-E])\b", re.IGNORECASE),
)
_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
_FINAL_NUMBER_RES = (
    re.compile(r"####\s*\$?\s*(" + _NUMBER + ")"),
    re.compile(r"answer(?: is)?\s*[:\-]?\s*\$?\s*(" + _NUMBER + ")", re.IGNORECASE),
)
_ANY_NUMBER_RE = re.compile(_NUMBER)
_CODE_BLOCK_RE = re.compile(r"```[a-zA-Z0-9_+-]*\n(.*?)```", re.DOTALL)
_ARTICLES = frozenset({"a", "an", "the"})


@dataclass(frozen=True)
class AgreementVerdict:
    """Whether two answers agree, in which form, and why (what the cascade records)."""

    accepted: bool
    comparable: bool
    form: Form | None
    first: str | None
    second: str | None
    reason: str


def expected_form(
    messages: Sequence[Mapping[str, Any]], response_format: Mapping[str, Any] | None = None
) -> Form | None:
    """The comparable form a request's answer should take, judged from the request alone."""
    if response_format and response_format.get("type") in ("json_object", "json_schema"):
        return "json"
    user, _ = messages_text(messages)
    tail = user[-1500:]
    if len(set(_OPTION_RE.findall(tail))) >= 3:
        return "choice"
    if len(_ANY_NUMBER_RE.findall(tail)) >= 2 and "?" in tail[-300:] and "```" not in tail:
        return "number"
    return None


def _choice(answer: str) -> str | None:
    text = answer.strip().strip("[]'\"").strip()
    for pattern in _CHOICE_PATTERNS:
        found = pattern.search(text)
        if found:
            return found.group(1).upper()
    return None


def _number(answer: str) -> str | None:
    for pattern in _FINAL_NUMBER_RES:
        found = pattern.findall(answer)
        if found:
            return _canonical_number(found[-1])
    numbers = _ANY_NUMBER_RE.findall(answer)
    return _canonical_number(numbers[-1]) if numbers else None


def _canonical_number(raw: str) -> str | None:
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        return None
    return f"{value:.6g}"


def _json(answer: str) -> str | None:
    text = answer.strip()
    if text.startswith("```"):
        block = _CODE_BLOCK_RE.search(text + "\n")
        text = block.group(1) if block else text.strip("`")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return None
    return json.dumps(_normalise_json(parsed), sort_keys=True)


def _normalise_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).strip().lower(): _normalise_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_json(v) for v in value]
    if isinstance(value, str):
        return " ".join(value.lower().split())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _short(answer: str) -> str | None:
    words = [w.strip(".,;:!?'\"()[]").lower() for w in answer.split()]
    words = [w for w in words if w and w not in _ARTICLES]
    if not words or len(words) > SHORT_WORDS:
        return None
    return " ".join(words)


def _code(answer: str) -> str | None:
    blocks = _CODE_BLOCK_RE.findall(answer)
    if not blocks:
        return None
    lines = []
    for line in "\n".join(blocks).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(" ".join(line.replace("'", '"').split()))
    return "\n".join(lines) or None


_EXTRACTORS = {
    "choice": _choice,
    "number": _number,
    "json": _json,
    "short": _short,
    "code": _code,
}


def canonical_answer(answer: str | None, form: Form) -> str | None:
    """The answer reduced to its comparable core in `form` (None when it has none)."""
    if not answer:
        return None
    return _EXTRACTORS[form](answer)


def answer_form(answer: str, expected: Form | None) -> Form | None:
    """The form two answers are compared in: the request's, else what the answer looks like."""
    if expected is not None:
        return expected
    if "```" in answer:
        return "code"
    if _short(answer) is not None:
        return "short"
    return None


def compare_answers(
    first: str | None,
    second: str | None,
    messages: Sequence[Mapping[str, Any]] = (),
    response_format: Mapping[str, Any] | None = None,
) -> AgreementVerdict:
    """Do two answers to one request agree? Accepted only when both reduce to the same core."""
    form = answer_form(first or "", expected_form(messages, response_format))
    if form is None:
        return AgreementVerdict(
            False, False, None, None, None, "answers are free text: agreement cannot be checked"
        )
    a, b = canonical_answer(first, form), canonical_answer(second, form)
    if a is None or b is None:
        missing = "first" if a is None else "second"
        return AgreementVerdict(False, False, form, a, b, f"the {missing} answer has no {form}")
    if a == b:
        return AgreementVerdict(True, True, form, a, b, f"both answers give {form} {_show(a)}")
    return AgreementVerdict(
        False, True, form, a, b, f"answers disagree: {form} {_show(a)} vs {_show(b)}"
    )


@dataclass(frozen=True)
class Vote:
    """A majority of three comparable answers: which answer is served (its index), which
    answers share it (they count as right, the others as wrong), and why."""

    accepted: bool
    served: int | None
    agreeing: tuple[int, ...]
    reason: str


def majority_vote(
    pair: AgreementVerdict,
    third: str | None,
    form: Form | None = None,
) -> Vote:
    """Settle a disagreement of `pair` with a third answer: the answer two of the three share
    is accepted (the first's when it is in the majority), else nobody is (all differ, or the
    third has no answer in the pair's form)."""
    form = form or pair.form
    if form is None or not pair.comparable or pair.first is None or pair.second is None:
        return Vote(False, None, (), "the pair's answers are not comparable: no vote")
    if pair.accepted:
        return Vote(True, 0, (0, 1), pair.reason)
    c = canonical_answer(third, form)
    if c is None:
        return Vote(False, None, (), f"{pair.reason}; the third answer has no {form}")
    for i, theirs in enumerate((pair.first, pair.second)):
        if c == theirs:
            return Vote(
                True,
                i,
                (i, 2),
                f"{pair.reason}; the third answer gives {form} {_show(c)} too: majority",
            )
    return Vote(False, None, (), f"{pair.reason}; the third gives {form} {_show(c)}: all differ")


def _show(value: str, limit: int = 40) -> str:
    flat = " ".join(value.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")
