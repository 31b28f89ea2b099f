"""Verifiers a cascade runs on a cheap model's answer before accepting it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.routing.answer_check import check_answer


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str


Verifier = Callable[[Sequence[Mapping[str, Any]], str | None], Verdict]


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def verify_arithmetic(messages: Sequence[Mapping[str, Any]], answer: str | None) -> Verdict:
    """Worked math: a final number, every "a op b = c" step right, no hedging, all givens used."""
    if not answer:
        return Verdict(False, "empty answer")
    check = check_answer(answer, _last_user_text(messages))
    if check.passed:
        return Verdict(True, f"{check.equations_checked} worked steps check out")
    problems = []
    if check.final_answer is None:
        problems.append("no final number")
    if check.non_integer:
        problems.append("non-integer final answer")
    if check.equations_wrong:
        problems.append(f"{check.equations_wrong}/{check.equations_checked} steps wrong")
    if check.hedged:
        problems.append("hedged")
    if check.unused_quantities:
        problems.append(f"{check.unused_quantities} given quantities unused")
    return Verdict(False, ", ".join(problems))


def verify_json(_messages: Sequence[Mapping[str, Any]], answer: str | None) -> Verdict:
    """Structured output: the answer must be a JSON object."""
    try:
        parsed = json.loads(answer or "")
    except json.JSONDecodeError as exc:
        return Verdict(False, f"not JSON: {exc.msg}")
    if not isinstance(parsed, dict):
        return Verdict(False, "JSON but not an object")
    return Verdict(True, "valid JSON object")


def verify_nonempty(_messages: Sequence[Mapping[str, Any]], answer: str | None) -> Verdict:
    text = (answer or "").strip()
    if len(text) < 2:
        return Verdict(False, "empty answer")
    return Verdict(True, "non-empty answer")


VERIFIERS: dict[str, Verifier] = {
    "arithmetic": verify_arithmetic,
    "json": verify_json,
    "nonempty": verify_nonempty,
}


def get_verifier(name: str) -> Verifier:
    try:
        return VERIFIERS[name]
    except KeyError:
        raise ValueError(f"unknown verifier {name!r}; known: {sorted(VERIFIERS)}") from None
