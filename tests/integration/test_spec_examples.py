"""Each shipped example spec runs against the simulator: output, decision events, ledger."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from app.db.models import ModelCall
from tests.conftest import SimulatorAdmin
from tests.support.spec_rig import SpecRig, spec_rig

TRIP = "Flights cost 2 * 340, the hotel 5 * 120 and food 5 * 45. What is the total?"
SIMPLE = "What is 17 * 23?"
INVOICE = "Invoice from vendor: Acme GmbH; invoice number: INV-2041; total: 1,250.50; currency EUR."


@pytest.fixture
async def rig(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[SpecRig]:
    async with spec_rig(database_url, simulator.base_url) as built:
        yield built


def content_json(call: ModelCall) -> dict[str, object]:
    response = call.response or {}
    parsed: dict[str, object] = json.loads(response["message"]["content"])
    return parsed


async def test_debate_judge_picks_the_right_debater_and_says_why(rig: SpecRig) -> None:
    run = await rig.run(rig.example("debate_judge.yaml"), {"question": TRIP})
    verdict = run.output["verdict"]
    assert verdict["winner"] == "mid_2" and verdict["winner_tier"] == "mid"
    assert verdict["answer"].endswith("#### 1505") and verdict["rounds"] == 2
    assert "edge_1 answered 1280, leaving out 5 * 45" in verdict["reason"]
    # Events: one per round with both debaters' answers, then the judge's pick.
    rounds = [e for e in run.events if e["kind"] == "debate_round"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert [a["tier"] for a in rounds[0]["answers"]] == ["edge", "mid"]
    (pick,) = run.decisions("judge_pick")
    assert (
        pick["node"] == "debate" and pick["winner"] == "mid_2" and pick["judge_tier"] == "frontier"
    )
    assert pick["reason"] == verdict["reason"]
    # Ledger: two rounds of an edge and a mid debater, then the frontier judge.
    tiers = sorted(c.tier for c in run.calls_of("debate"))
    assert tiers == ["edge", "edge", "frontier", "mid", "mid"]
    judge = next(c for c in run.calls if c.tier == "frontier")
    assert (
        "judge of 2 debaters (edge_1 on edge tier, mid_2 on mid tier) after 2 round(s)"
        in judge.routing_reason
    )
    assert content_json(judge)["winner"] == "mid_2"  # the pick and its reason are in the ledger
    assert "debate round 2/2: debater edge_1" in " ".join(c.routing_reason for c in run.calls)


async def test_cascade_escalates_only_while_the_verifier_rejects(rig: SpecRig) -> None:
    spec = rig.example("cascade.yaml")
    run = await rig.run(spec, {"question": TRIP})
    result = run.output["result"]
    assert (result["tier"], result["accepted"], result["escalations"]) == ("mid", True, 1)
    assert result["answer"].endswith("#### 1505")
    assert [c.tier for c in run.calls] == ["edge", "mid"]
    assert (
        "arithmetic check rejected edge-a's answer (1 given quantities unused)"
        in run.calls[1].routing_reason
    )
    (escalation,) = run.decisions("cascade_escalation")
    assert (escalation["from_tier"], escalation["to_tier"]) == ("edge", "mid")
    assert run.decisions("cascade_accept")[0]["tier"] == "mid"

    cheap = await rig.run(spec, {"question": SIMPLE})
    assert cheap.output["result"]["tier"] == "edge" and cheap.output["result"]["escalations"] == 0
    assert [c.tier for c in cheap.calls] == ["edge"]
    assert cheap.decisions("cascade_escalation") == []


async def test_speculative_keeps_a_right_draft_and_fixes_a_wrong_one(rig: SpecRig) -> None:
    spec = rig.example("speculative.yaml")
    kept = await rig.run(spec, {"question": SIMPLE})
    assert kept.output["result"]["accepted"] is True
    assert kept.output["result"]["answer"] == "17 * 23 = 391\n#### 391"
    assert [c.tier for c in kept.calls] == ["edge", "frontier"]  # no fix call
    (accept,) = kept.decisions("speculative_accept")
    assert accept["reason"] == "the draft's final answer 391 checks out"
    assert "speculative verify of edge-a's draft on frontier tier" in kept.calls[1].routing_reason

    fixed = await rig.run(spec, {"question": TRIP})
    result = fixed.output["result"]
    assert result["accepted"] is False and result["draft"].endswith("#### 1280")
    assert result["answer"].endswith("#### 1505") and result["fixer_model"] == "frontier-a"
    assert [c.tier for c in fixed.calls] == ["edge", "frontier", "frontier"]
    fix_reason = fixed.calls[2].routing_reason
    assert "speculative fix: frontier-a rejected edge-a's draft" in fix_reason
    assert "should be 1505" in fix_reason
    (reject,) = fixed.decisions("speculative_reject")
    assert reject["accepted"] is False and "leaving out 5 * 45" in reject["reason"]


async def test_structured_extraction_retries_invalid_json_then_routes(rig: SpecRig) -> None:
    run = await rig.run(rig.example("structured_extraction.yaml"), {"document": INVOICE})
    assert run.output["invoice"] == {
        "vendor": "Acme GmbH",
        "invoice_number": "INV-2041",
        "total": 1250.5,
        "currency": "EUR",
    }
    extract = run.calls_of("extract")
    assert [(c.model, c.status) for c in extract] == [
        ("edge-a", "invalid_output"),
        ("edge-a", "ok"),
    ]
    assert "total: '1250.5' is not of type 'number'" in (extract[0].error or "")
    (retry,) = run.decisions("output_retry")
    assert retry["attempts"] == 2 and retry["model"] == "edge-a"
    (route,) = run.decisions("route")
    assert route["to"] == "approval_note" and route["when"] == "state.invoice.total > 1000"
    assert [c.tier for c in run.calls_of("approval_note")] == ["mid"]
    assert "INV-2041" in run.output["note"]


async def test_structured_extraction_falls_back_to_the_next_model(
    rig: SpecRig, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("edge-a", "malformed_json", times=3)
    run = await rig.run(rig.example("structured_extraction.yaml"), {"document": INVOICE})
    assert run.output["invoice"]["total"] == 1250.5
    extract = run.calls_of("extract")
    assert [(c.model, c.status) for c in extract] == [("edge-a", "invalid_output")] * 3 + [
        ("edge-b", "ok")
    ]
    assert extract[-1].routing_reason.startswith("fallback after edge-a: invalid output")
    (fallback,) = run.decisions("output_fallback")
    assert fallback["model"] == "edge-b" and fallback["attempts"] == 4
    assert len(fallback["invalid"]) == 3
