"""The judge verifier's pieces: reading a verdict, choosing who judges, what it is shown."""

from __future__ import annotations

import pytest

from app.routing.catalog import load_catalog
from app.routing.judge import (
    JUDGE_RUBRIC,
    judge_cost,
    judge_messages,
    judge_model,
    parse_judgement,
    valid_judge,
)

CATALOG = load_catalog()


@pytest.mark.parametrize(
    "reply",
    [
        '{"verdict": "accept", "reason": "a haiku of 5-7-5 syllables about rain"}',
        '```json\n{"verdict": "ACCEPT", "reason": "fine"}\n```',
        'Here is my verdict: {"Verdict": " accepted ", "reason": "complete"} Thanks.',
        '{"verdict": true, "reason": "correct"}',
        "Accept. The answer covers both parts.",
    ],
)
def test_a_verdict_that_accepts_is_read_as_accept_wherever_it_sits(reply: str) -> None:
    verdict = parse_judgement(reply)
    assert verdict.accepted, verdict.reason
    assert verdict.reason.startswith("judge accepts")


@pytest.mark.parametrize(
    "reply",
    [
        '{"verdict": "reject", "reason": "it is four lines, not a haiku"}',
        '```\n{"verdict": "fail"}\n```',
        "REJECT - the second part of the question is not answered.",
    ],
)
def test_a_verdict_that_rejects_is_read_as_reject(reply: str) -> None:
    verdict = parse_judgement(reply)
    assert not verdict.accepted and verdict.reason.startswith("judge rejects")


@pytest.mark.parametrize(
    "reply",
    [
        None,
        "",
        "Looks fine to me, I suppose.",
        "I would not accept this.",
        "Yes, but the second part is missing.",
        '{"verdict": "maybe", "reason": "hard to say"}',
        '{"reason": "no verdict field"}',
        '["accept"]',
        '{"verdict": "accept", "reason": ',  # cut mid-object
    ],
)
def test_an_unparseable_verdict_counts_as_reject(reply: str | None) -> None:
    verdict = parse_judgement(reply)
    assert not verdict.accepted
    assert verdict.reason.startswith("unparseable verdict (counts as reject)")


def test_the_reason_of_a_verdict_is_kept_and_shortened() -> None:
    verdict = parse_judgement('{"verdict": "reject", "reason": "' + "x" * 500 + '"}')
    assert "…" in verdict.reason and len(verdict.reason) < 200
    assert parse_judgement('{"verdict": "accept"}').reason == "judge accepts: no reason given"


def test_the_default_judge_is_the_mid_tiers_first_model_other_than_the_answerer() -> None:
    edge_a, mid_a = CATALOG.model("edge-a"), CATALOG.model("mid-a")
    assert judge_model(CATALOG, edge_a).name == "mid-a"  # type: ignore[union-attr]
    assert judge_model(CATALOG, mid_a).name == "mid-b"  # type: ignore[union-attr]
    # The provider rules allow no mid model: the tier above judges.
    allowed = judge_model(CATALOG, edge_a, allowed=lambda m: m.tier != "mid")
    assert allowed is not None and allowed.name == "frontier-a"
    assert judge_model(CATALOG, edge_a, allowed=lambda m: False) is None


def test_a_named_judge_model_or_tier_is_kept() -> None:
    edge_a, frontier_a = CATALOG.model("edge-a"), CATALOG.model("frontier-a")
    assert judge_model(CATALOG, edge_a, "frontier-b").name == "frontier-b"  # type: ignore[union-attr]
    assert judge_model(CATALOG, frontier_a, "frontier").name == "frontier-b"  # type: ignore[union-attr]
    assert judge_model(CATALOG, edge_a, "edge").name == "edge-b"  # type: ignore[union-attr]
    assert valid_judge(CATALOG, "mid") and valid_judge(CATALOG, "mid-b")
    assert not valid_judge(CATALOG, "gpt-5") and not valid_judge(CATALOG, "self")


def test_the_judge_reads_the_instructions_the_question_and_the_draft_under_its_rubric() -> None:
    messages = [
        {"role": "system", "content": "Answer in English."},
        {"role": "user", "content": "Write a haiku about rain."},
    ]
    rubric, body = judge_messages(messages, "Rain taps the window")
    assert rubric == {"role": "system", "content": JUDGE_RUBRIC}
    assert rubric["content"].startswith("ROLE: verifier")
    assert body["content"] == (
        "## Instructions\nAnswer in English.\n\n## Question\nWrite a haiku about rain.\n\n"
        "## Draft answer\nRain taps the window"
    )
    assert "## Draft answer\n(empty)" in judge_messages(messages[1:], None)[1]["content"]


def test_a_judge_call_costs_its_prompt_with_the_answer_and_a_short_verdict() -> None:
    mid_a = CATALOG.model("mid-a")
    # (200 prompt + 400 answer + 150 rubric) x $3/M + 60 x $15/M
    assert judge_cost(mid_a, 200, 400) == pytest.approx(750 * 3e-6 + 60 * 15e-6)
