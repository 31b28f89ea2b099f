"""Scripted answers for the spec patterns' roles, recognised by their `ROLE: x` line.

debater -> a worked answer (edge models sloppy), restated after reading the others;
judge -> JSON naming the debater whose final number is right, and why; solver -> a worked
answer; verifier -> JSON accept/reject of a draft; fixer -> the corrected answer;
extractor -> a JSON object for the schema in its prompt, filled from the user's text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.routing.catalog import ModelSpec
from devtools.simulator.answers import (
    Answer,
    conversation_role,
    first_user_text,
    last_user_text,
    summarize,
)
from devtools.simulator.extraction import extract_for_schema, schema_in
from devtools.simulator.schemas import ChatCompletionRequest
from devtools.simulator.solving import final_number, same, solve
from devtools.simulator.tokens import content_text
from nodes.calculator import format_number

_SECTION = re.compile(r"^## (.+?)\s*$", re.MULTILINE)
_ANSWER_OF = re.compile(r"^Answer of (\S+)")
FEEDBACK_MARK = "could not be used"  # the gateway's feedback turn after an invalid answer


def sections(text: str) -> dict[str, str]:
    """`## Heading` blocks of a message, by heading."""
    found: dict[str, str] = {}
    matches = list(_SECTION.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        found[match.group(1)] = text[match.end() : end].strip()
    return found


def _sloppy(model: ModelSpec) -> bool:
    return model.tier == "edge"


class PatternRoles:
    """Answers the pattern roles; None for anything else."""

    def answer(self, request: ChatCompletionRequest, model: ModelSpec) -> Answer | None:
        role = conversation_role(request)
        handlers = {
            "debater": debater_answer,
            "judge": judge_answer,
            "solver": solver_answer,
            "verifier": verifier_answer,
            "fixer": fixer_answer,
            "extractor": extractor_answer,
        }
        handler = handlers.get(role or "")
        return handler(request, model) if handler else None


def _worked(question: str, model: ModelSpec, *, sloppy: bool) -> str:
    solution = solve(question, sloppy=sloppy)
    if solution is None:
        return f"[{model.name}] {summarize(question, 30)}"
    return solution.text


def solver_answer(request: ChatCompletionRequest, model: ModelSpec) -> Answer:
    question = last_user_text(request)
    return Answer(content=_worked(question, model, sloppy=_sloppy(model)), source="solver")


def debater_answer(request: ChatCompletionRequest, model: ModelSpec) -> Answer:
    question = first_user_text(request)
    own = _worked(question, model, sloppy=_sloppy(model))
    round_number = 1 + sum(1 for m in request.messages if m.get("role") == "assistant")
    if round_number == 1:
        return Answer(content=own, source="debater")
    others = [
        f"{_ANSWER_OF.match(heading).group(1)} says {_final_text(body)}"  # type: ignore[union-attr]
        for heading, body in sections(last_user_text(request)).items()
        if _ANSWER_OF.match(heading)
    ]
    preface = f"Round {round_number}: I read the others ({'; '.join(others)}) and keep my answer."
    return Answer(content=f"{preface}\n{own}", source="debater")


def _final_text(text: str) -> str:
    value = final_number(text)
    return format_number(value) if value is not None else summarize(text, 8)


def judge_answer(request: ChatCompletionRequest, model: ModelSpec) -> Answer:
    parts = sections(last_user_text(request))
    question = parts.get("Question", "")
    answers = {
        match.group(1): body
        for heading, body in parts.items()
        if (match := _ANSWER_OF.match(heading)) is not None
    }
    verdict = _verdict(question, answers)
    return Answer(content=json.dumps(verdict), source="judge")


def _verdict(question: str, answers: dict[str, str]) -> dict[str, Any]:
    if not answers:
        return {"winner": "merge", "answer": "", "reason": "no debater answered"}
    right = solve(question)
    if right is None:  # no arithmetic: the most complete answer wins
        winner = max(answers, key=lambda name: len(answers[name]))
        reason = f"{winner} gives the most complete answer of {len(answers)} debaters"
        return {"winner": winner, "answer": answers[winner], "reason": reason}
    finals = {name: final_number(text) for name, text in answers.items()}
    correct = [name for name, value in finals.items() if same(value, right.value)]
    wrong = [name for name in answers if name not in correct]
    expected = format_number(right.value)
    if not correct:
        reason = f"no debater reached {expected}; merged into a corrected answer"
        return {"winner": "merge", "answer": right.text, "reason": reason}
    winner = correct[0]
    if not wrong:
        reason = f"all {len(answers)} debaters agree on {expected}; {winner}'s work is checked"
    else:
        slips = "; ".join(
            f"{name} answered {_shown(finals[name])}{_missing(question, name, answers)}"
            for name in wrong
        )
        reason = f"{winner}'s final answer {expected} checks out step by step; {slips}"
    return {"winner": winner, "answer": answers[winner], "reason": reason}


def _shown(value: float | None) -> str:
    return format_number(value) if value is not None else "no final number"


def _missing(question: str, name: str, answers: dict[str, str]) -> str:
    sloppy = solve(question, sloppy=True)
    if sloppy is not None and sloppy.skipped and sloppy.skipped not in answers[name]:
        return f", leaving out {sloppy.skipped}"
    return ""


def verifier_answer(request: ChatCompletionRequest, model: ModelSpec) -> Answer:
    parts = sections(last_user_text(request))
    question, draft = parts.get("Question", ""), parts.get("Draft answer", "")
    right = solve(question)
    if right is None:
        accepted = len(draft.strip()) > 1
        reason = "the draft answers the question" if accepted else "the draft is empty"
    else:
        stated = final_number(draft)
        accepted = same(stated, right.value)
        expected = format_number(right.value)
        if accepted:
            reason = f"the draft's final answer {expected} checks out"
        else:
            reason = f"the draft's final answer is {_shown(stated)} but it should be {expected}"
            reason += _missing(question, "draft", {"draft": draft})
    verdict = {"verdict": "accept" if accepted else "reject", "reason": reason}
    return Answer(content=json.dumps(verdict), source="verifier")


def fixer_answer(request: ChatCompletionRequest, model: ModelSpec) -> Answer:
    question = sections(last_user_text(request)).get("Question", last_user_text(request))
    fixed = _worked(question, model, sloppy=False)
    return Answer(content=f"Corrected answer:\n{fixed}", source="fixer")


def extractor_answer(request: ChatCompletionRequest, model: ModelSpec) -> Answer:
    """edge-a quotes numbers on a first attempt (invalid against a numeric schema) and
    corrects itself once the gateway feeds the error back."""
    system = next(
        (content_text(m.get("content")) for m in request.messages if m.get("role") == "system"),
        "",
    )
    schema = schema_in(system)
    text = first_user_text(request)
    value = extract_for_schema(schema, text) if schema is not None else {}
    retried = FEEDBACK_MARK in last_user_text(request)
    if model.name == "edge-a" and not retried:
        value = {
            k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in value.items()
        }
    return Answer(content=json.dumps(value), source="extractor")
