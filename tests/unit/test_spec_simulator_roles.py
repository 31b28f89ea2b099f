"""The simulator's answers to the pattern prompts: meaningful and deterministic."""

from __future__ import annotations

import json
from typing import Any

from app.routing.catalog import load_catalog
from app.routing.verifiers import verify_arithmetic
from devtools.simulator.responder import respond
from devtools.simulator.schemas import ChatCompletionRequest
from nodes.patterns.prompts import (
    DEBATER_PROMPT,
    FIXER_PROMPT,
    SOLVER_PROMPT,
    VERIFIER_PROMPT,
    extractor_prompt,
    judge_prompt,
    sections,
)

CATALOG = load_catalog()
EDGE_A, EDGE_B, MID, FRONTIER = (
    CATALOG.model(n) for n in ("edge-a", "edge-b", "mid-a", "frontier-a")
)
TRIP = "Flights cost 2 * 340, the hotel 5 * 120 and food 5 * 45. What is the total?"


def chat(system: str, *turns: dict[str, Any]) -> ChatCompletionRequest:
    messages = [{"role": "system", "content": system}, *turns]
    return ChatCompletionRequest.model_validate({"model": "m", "messages": messages})


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def text_of(request: ChatCompletionRequest, model: Any) -> str:
    content = respond(request, model).content
    assert content is not None
    return content


def test_solvers_show_worked_steps_and_edge_models_skip_the_last_item() -> None:
    request = chat(SOLVER_PROMPT, user(TRIP))
    strong = text_of(request, MID)
    assert strong.endswith("#### 1505") and "680 + 600 + 225 = 1505" in strong
    assert verify_arithmetic([user(TRIP)], strong).accepted
    weak = text_of(request, EDGE_A)
    assert weak.endswith("#### 1280") and "5 * 45" not in weak
    assert not verify_arithmetic([user(TRIP)], weak).accepted
    single = chat(SOLVER_PROMPT, user("What is 17 * 23?"))
    assert text_of(single, EDGE_A) == "17 * 23 = 391\n#### 391"  # one step: edge is right


def test_debaters_answer_then_read_the_others() -> None:
    system = DEBATER_PROMPT.format(name="edge_1", count=2)
    first = text_of(chat(system, user(TRIP)), EDGE_A)
    second_turn = sections(
        ("Question", TRIP), ("Answer of mid_2", "...\n#### 1505"), ("Your turn", "again")
    )
    second = text_of(
        chat(system, user(TRIP), {"role": "assistant", "content": first}, user(second_turn)), EDGE_A
    )
    assert first.endswith("#### 1280")
    assert second.startswith("Round 2: I read the others (mid_2 says 1505)") and second.endswith(
        "#### 1280"
    )


def test_the_judge_names_the_right_debater_and_says_why() -> None:
    body = sections(
        ("Question", TRIP),
        (
            "Answer of edge_1 (edge tier)",
            "2 * 340 = 680\n5 * 120 = 600\n680 + 600 = 1280\n#### 1280",
        ),
        ("Answer of mid_2 (mid tier)", "...\n#### 1505"),
    )
    verdict = json.loads(text_of(chat(judge_prompt(["edge_1", "mid_2"]), user(body)), FRONTIER))
    assert verdict["winner"] == "mid_2"
    assert verdict["reason"] == (
        "mid_2's final answer 1505 checks out step by step; "
        "edge_1 answered 1280, leaving out 5 * 45"
    )
    agree = sections(
        ("Question", "What is 17 * 23?"), ("Answer of a", "#### 391"), ("Answer of b", "#### 391")
    )
    assert (
        json.loads(text_of(chat(judge_prompt(["a", "b"]), user(agree)), FRONTIER))["winner"] == "a"
    )
    wrong = sections(
        ("Question", "What is 17 * 23?"), ("Answer of a", "#### 1"), ("Answer of b", "#### 2")
    )
    merged = json.loads(text_of(chat(judge_prompt(["a", "b"]), user(wrong)), FRONTIER))
    assert merged["winner"] == "merge" and merged["answer"].endswith("#### 391")


def test_the_verifier_accepts_a_right_draft_and_rejects_a_wrong_one() -> None:
    right = sections(("Question", TRIP), ("Draft answer", "...\n#### 1505"))
    wrong = sections(("Question", TRIP), ("Draft answer", "680 + 600 = 1280\n#### 1280"))
    assert json.loads(text_of(chat(VERIFIER_PROMPT, user(right)), FRONTIER)) == {
        "verdict": "accept",
        "reason": "the draft's final answer 1505 checks out",
    }
    rejected = json.loads(text_of(chat(VERIFIER_PROMPT, user(wrong)), FRONTIER))
    assert rejected["verdict"] == "reject"
    assert (
        rejected["reason"]
        == "the draft's final answer is 1280 but it should be 1505, leaving out 5 * 45"
    )


def test_the_fixer_writes_the_corrected_answer() -> None:
    body = sections(("Question", TRIP), ("Draft answer", "#### 1280"), ("Objection", "wrong"))
    fixed = text_of(chat(FIXER_PROMPT, user(body)), FRONTIER)
    assert fixed.startswith("Corrected answer:") and fixed.endswith("#### 1505")


SCHEMA = {
    "type": "object",
    "required": ["vendor", "total", "currency", "paid"],
    "properties": {
        "vendor": {"type": "string"},
        "total": {"type": "number"},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
        "paid": {"type": "boolean"},
        "lines": {"type": "array", "items": {"type": "string"}},
    },
}
INVOICE = "vendor: Acme GmbH; total: 1,250.50 EUR; paid: no; lines: bolts, nuts and screws"


def test_the_extractor_fills_the_schema_from_the_text() -> None:
    request = chat(extractor_prompt(SCHEMA), user(INVOICE))
    assert json.loads(text_of(request, EDGE_B)) == {
        "vendor": "Acme GmbH",
        "total": 1250.5,
        "currency": "EUR",
        "paid": False,
        "lines": ["bolts", "nuts", "screws"],
    }


def test_edge_a_quotes_numbers_until_the_error_is_fed_back() -> None:
    first = json.loads(text_of(chat(extractor_prompt(SCHEMA), user(INVOICE)), EDGE_A))
    assert first["total"] == "1250.5"
    retry = chat(
        extractor_prompt(SCHEMA),
        user(INVOICE),
        {"role": "assistant", "content": json.dumps(first)},
        user("Your previous answer could not be used (total: not a number). Reply again."),
    )
    assert json.loads(text_of(retry, EDGE_A))["total"] == 1250.5
