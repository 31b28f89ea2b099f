"""Verdicts recorded on the way as feedback: the cascade's verifier, structured-output
validation and a debate judge's pick; and the cascade's keep decision learning from them.

A real gateway with online learning on SQLite and Postgres; the cascade tests use the
simulator's recorded GSM8K answers, so the verifier judges real model output.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import Feedback, ModelCall
from app.gateway.agreement_check import SELF_TEMPERATURE
from app.gateway.learning import CallFacts
from app.gateway.types import CallContext, ModelRequest
from app.routing.agreement import compare_answers
from app.routing.policy import Cascade
from app.routing.verifiers import verify_arithmetic
from devtools.routing.datasets import Row
from tests.conftest import SimulatorAdmin
from tests.support.learning import learning_gateway
from tests.support.ledger_rig import LedgerRig
from tests.support.spec_rig import SpecRig, spec_rig

TRIP = "Flights cost 2 * 340, the hotel 5 * 120 and food 5 * 45. What is the total?"
INVOICE = "Invoice INV-2041 from Acme GmbH, total 1250.50 EUR, due in 30 days."


@dataclass
class Env(LedgerRig):
    async def feedback(self) -> list[Feedback]:
        async with self.sessions() as session:
            query = select(Feedback).order_by(Feedback.id)
            return list((await session.execute(query)).scalars())

    async def rate(self, call: ModelCall, score: float) -> None:
        """A user's score, built as the feedback endpoint builds it."""
        learning = self.gateway.learning
        assert learning is not None
        await learning.learner.record([learning.observation(CallFacts.of(call), "user", score)])


@pytest.fixture
async def env(database_url: str, recorded_simulator: str) -> AsyncIterator[Env]:
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    try:
        yield Env(learning_gateway(sessions, recorded_simulator), sessions)
    finally:
        await engine.dispose()


def _request(row: Row) -> ModelRequest:
    return ModelRequest(
        messages=[
            {"role": "system", "content": "Answer the user's question."},
            {"role": "user", "content": row.prompt},
        ],
        max_tokens=600,
    )


def _verified(gsm8k: list[Row], env: Env, *, accepted: bool, min_edge_p: float = 0.0) -> Row:
    """A row the verifier accepts (or rejects) whose prompt is familiar to the classifier."""
    learning = env.gateway.learning
    assert learning is not None
    for row in gsm8k:
        user = [{"role": "user", "content": row.prompt}]
        if verify_arithmetic(user, row.weak_response).accepted != accepted:
            continue
        c = learning.classifier.classify(_request(row).messages, node="answer")
        if (
            c.p_good["edge"] >= min_edge_p
            and learning.learner.clusters.match(row.prompt, c.dense).in_distribution
        ):
            return row
    raise AssertionError("no such row in the GSM8K data")


async def test_a_kept_cascade_answer_records_the_verdict_and_the_condition_it_was_kept_under(
    env: Env, gsm8k: list[Row]
) -> None:
    row = _verified(gsm8k, env, accepted=True)
    ctx = CallContext(call_key="k1", node="answer")
    result = await env.gateway.complete(_request(row), Cascade(), ctx)
    assert result.tier == "edge"
    (kept,) = await env.calls()
    assert kept.routing is not None and kept.routing["condition"] == "arithmetic:accepted"
    assert kept.routing_reason.endswith("; arithmetic verifier accepted edge-a's answer")
    (verdict,) = await env.feedback()
    assert (verdict.call_id, verdict.source, verdict.score) == (kept.id, "cascade_verifier", 1.0)
    assert verdict.condition == ""  # the verdict is about the raw answer
    assert verdict.cluster == kept.routing["cluster"] and verdict.task_class == "math"

    await env.rate(kept, 0.0)
    user = next(f for f in await env.feedback() if f.source == "user")
    assert (user.call_id, user.condition, user.score) == (kept.id, "arithmetic:accepted", 0.0)


async def test_a_rejected_cheap_answer_records_a_failed_verdict(env: Env, gsm8k: list[Row]) -> None:
    row = _verified(gsm8k, env, accepted=False)
    result = await env.gateway.complete(
        _request(row), Cascade(), CallContext(call_key="k2", node="answer")
    )
    assert result.tier == "frontier"
    cheap, strong = await env.calls()
    assert cheap.routing is not None and cheap.routing["condition"] == ""
    assert strong.routing is not None and strong.routing["prior_p"] > cheap.routing["prior_p"]
    (verdict,) = await env.feedback()
    assert (verdict.call_id, verdict.source, verdict.score) == (cheap.id, "cascade_verifier", 0.0)


async def test_user_feedback_on_kept_answers_teaches_the_cascade_to_escalate(
    env: Env, gsm8k: list[Row]
) -> None:
    row = _verified(gsm8k, env, accepted=True, min_edge_p=0.7)
    policy = Cascade(min_p_good=0.7)
    for attempt in range(2):
        ctx = CallContext(call_key=f"kept-{attempt}", node="answer")
        assert (await env.gateway.complete(_request(row), policy, ctx)).tier == "edge"
        kept = (await env.calls())[-1]
        assert "kept (online): cheapest option whose estimate clears 0.70" in kept.routing_reason
        await env.rate(kept, 0.0)  # the user says the verified cheap answer was wrong
    ctx = CallContext(call_key="after", node="answer")
    assert (await env.gateway.complete(_request(row), policy, ctx)).tier == "frontier"
    reason = (await env.calls())[-1].routing_reason
    assert reason.startswith(
        "cascade stage 2/2 on frontier: arithmetic verifier accepted edge-a's answer; "
        "escalated to frontier (online)"
    )
    assert "verified edge prior 0.7" in reason
    assert "from 2 feedback events in cluster, 2 in class, 2 overall" in reason


def _weak_and_strong_disagree(gsm8k: list[Row]) -> Row:
    """The first recorded question whose weak and strong final numbers both read and differ."""
    for row in gsm8k:
        verdict = compare_answers(row.weak_response, row.strong_response, _request(row).messages)
        if verdict.comparable and not verdict.accepted:
            return row
    raise AssertionError("no recorded GSM8K row where the two models' answers differ")


async def test_agreeing_cheap_answers_are_kept_and_a_disagreement_escalates(
    env: Env, gsm8k: list[Row]
) -> None:
    """edge-a and edge-b give Mixtral's recorded answer, mid-a GPT-4's: real final numbers."""
    row = _weak_and_strong_disagree(gsm8k)
    pair = Cascade(verifier="agreement")  # the second opinion: the tier's next model, edge-b
    result = await env.gateway.complete(_request(row), pair, CallContext(call_key="a1"))
    assert result.model == "edge-a" and result.content == row.weak_response
    first, second = await env.calls()
    assert (first.model, second.model) == ("edge-a", "edge-b")
    assert second.call_key == "a1/cascade-0/agree"
    assert "agreement check: edge-b answers too" in second.routing_reason
    assert "agreement verifier accepted edge-a's answer" in first.routing_reason
    verdicts = {f.call_id: (f.source, f.score) for f in await env.feedback()}
    assert verdicts == {first.id: ("cascade_verifier", 1.0), second.id: ("cascade_verifier", 1.0)}

    against_mid = Cascade(verifier="agreement", agree_with="mid-a")
    result = await env.gateway.complete(_request(row), against_mid, CallContext(call_key="a2"))
    assert result.tier == "frontier" and result.content == row.strong_response
    cheap, mid, strong = (await env.calls())[2:]
    assert (cheap.model, mid.model, strong.model) == ("edge-a", "mid-a", "frontier-a")
    assert "agreement verifier rejected edge-a's answer (answers disagree: number" in (
        strong.routing_reason
    )
    verdicts = {f.call_id: f.score for f in await env.feedback()}
    assert verdicts[cheap.id] == verdicts[mid.id] == 0.0


async def test_one_model_agreeing_with_its_own_second_sample_keeps_the_answer(
    env: Env, gsm8k: list[Row]
) -> None:
    """`agree_with: self`: the same model samples again (at a temperature) and the answer is
    kept only if both samples give the same final number; the verdict lands on both calls."""
    row = next(
        r
        for r in gsm8k
        if compare_answers(r.weak_response, r.weak_response, _request(r).messages).accepted
    )
    itself = Cascade(verifier="agreement", agree_with="self")
    result = await env.gateway.complete(_request(row), itself, CallContext(call_key="s1"))
    assert result.model == "edge-a" and result.content == row.weak_response
    first, again = await env.calls()
    assert (first.model, again.model) == ("edge-a", "edge-a")
    assert again.call_key == "s1/cascade-0/agree"
    assert again.request["temperature"] == SELF_TEMPERATURE
    assert "agreement check: a second sample of edge-a answers too" in again.routing_reason
    assert "agreement verifier accepted edge-a's answer" in first.routing_reason
    verdicts = {f.call_id: (f.source, f.score) for f in await env.feedback()}
    assert verdicts == {first.id: ("cascade_verifier", 1.0), again.id: ("cascade_verifier", 1.0)}


async def test_a_third_vote_settles_a_disagreement_and_the_outvoted_answer_counts_as_wrong(
    env: Env, gsm8k: list[Row]
) -> None:
    """edge models give Mixtral's recorded answer, mid models GPT-4's: edge-a and mid-a
    disagree, and the third vote decides which of them is kept without asking the frontier."""
    row = _weak_and_strong_disagree(gsm8k)
    # The default third: the cheapest other model below the frontier, edge-b (Mixtral again).
    votes = Cascade(verifier="agreement", agree_with="mid-a", votes=3)
    result = await env.gateway.complete(_request(row), votes, CallContext(call_key="v1"))
    assert (result.model, result.content) == ("edge-a", row.weak_response)
    first, second, third = await env.calls()
    assert (first.model, second.model, third.model) == ("edge-a", "mid-a", "edge-b")
    assert third.call_key == "v1/cascade-0/tiebreak"
    assert "agreement tiebreak: edge-a and mid-a disagree, edge-b votes" in third.routing_reason
    assert first.routing_reason.endswith("agreement verifier accepted edge-a's answer")
    verdicts = {f.call_id: f.score for f in await env.feedback()}
    assert verdicts == {first.id: 1.0, second.id: 0.0, third.id: 1.0}
    assert first.routing is not None and first.routing["condition"] == "agreement:accepted"

    # A named third that sides with the second: the second's answer is served and kept.
    by_mid = Cascade(verifier="agreement", agree_with="mid-a", votes=3, tiebreak_with="mid-b")
    result = await env.gateway.complete(_request(row), by_mid, CallContext(call_key="v2"))
    assert (result.model, result.content) == ("mid-a", row.strong_response)
    cheap, mid, tie = (await env.calls())[3:]
    assert (cheap.model, mid.model, tie.model) == ("edge-a", "mid-a", "mid-b")
    verdicts = {f.call_id: f.score for f in await env.feedback()}
    assert (verdicts[cheap.id], verdicts[mid.id], verdicts[tie.id]) == (0.0, 1.0, 1.0)
    assert mid.routing is not None and mid.routing["condition"] == "agreement:accepted"
    assert mid.routing_reason.endswith("agreement verifier accepted mid-a's answer")


async def test_three_different_answers_escalate_as_a_disagreement_does(env: Env) -> None:
    """JSON answers that name the model that gave them: no two of three agree."""
    request = ModelRequest(
        messages=[{"role": "user", "content": "Extract the invoice: " + INVOICE}],
        response_format={"type": "json_object"},
        max_tokens=200,
    )
    votes = Cascade(verifier="agreement", votes=3)
    result = await env.gateway.complete(request, votes, CallContext(call_key="v3"))
    assert result.tier == "frontier"
    calls = await env.calls()
    assert [c.model for c in calls] == ["edge-a", "edge-b", "mid-a", "frontier-a"]
    assert "all differ" in calls[-1].routing_reason
    verdicts = {f.call_id: f.score for f in await env.feedback()}
    assert [verdicts[c.id] for c in calls[:3]] == [0.0, 0.0, 0.0]


@pytest.fixture
async def rig(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[SpecRig]:
    async with spec_rig(database_url, simulator.base_url) as built:
        built.gateway = learning_gateway(built.sessions, simulator.base_url)
        yield built


async def test_structured_output_validation_is_feedback_on_each_attempt(rig: SpecRig) -> None:
    run = await rig.run(rig.example("structured_extraction.yaml"), {"document": INVOICE})
    invalid, valid = run.calls_of("extract")
    assert (invalid.status, valid.status) == ("invalid_output", "ok")
    async with rig.sessions() as session:
        found = (await session.execute(select(Feedback).order_by(Feedback.id))).scalars()
        scores = {(f.call_id, f.source): f for f in found}
    assert scores[(invalid.id, "structured_output")].score == 0.0
    assert scores[(valid.id, "structured_output")].score == 1.0
    assert scores[(valid.id, "structured_output")].run_id == run.calls[0].run_id
    # A fixed-tier call's context is computed from its recorded request.
    assert scores[(valid.id, "structured_output")].task_class == "extraction"
    plain = [c for c in run.calls if c.node != "extract"]
    assert plain and not [k for k in scores if k[0] in {c.id for c in plain}]


async def test_the_judges_pick_is_feedback_on_the_last_round(rig: SpecRig) -> None:
    run = await rig.run(rig.example("debate_judge.yaml"), {"question": TRIP})
    assert run.output["verdict"]["winner"] == "mid_2"
    last_round = [c for c in run.calls if "debate round 2/2" in c.routing_reason]
    judge = next(c for c in run.calls if c.tier == "frontier")
    async with rig.sessions() as session:
        found = list((await session.execute(select(Feedback))).scalars())
    judged = {f.call_id: f.score for f in found if f.source == "judge"}
    assert judged == {c.id: (1.0 if c.tier == "mid" else 0.0) for c in last_round}
    assert [(f.call_id, f.score) for f in found if f.source == "structured_output"] == [
        (judge.id, 1.0)  # the judge's verdict was valid JSON naming a debater
    ]


async def test_a_spec_cascade_records_each_stage_verdict(rig: SpecRig) -> None:
    run = await rig.run(rig.example("cascade.yaml"), {"question": TRIP})
    cheap, kept = run.calls  # edge rejected, mid accepted
    async with rig.sessions() as session:
        found = list((await session.execute(select(Feedback).order_by(Feedback.id))).scalars())
    assert [(f.call_id, f.source, f.score) for f in found] == [
        (cheap.id, "cascade_verifier", 0.0),
        (kept.id, "cascade_verifier", 1.0),
    ]


def agreement_spec(agree_with: str) -> dict[str, Any]:
    """An llm node whose policy is an agreement cascade: the spec option."""
    policy = {
        "name": "cascade",
        "tiers": ["edge", "frontier"],
        "verifier": "agreement",
        "agree_with": agree_with,
    }
    return {
        "name": "agreeing",
        "state": {"question": {"type": "string"}, "answer": {"type": "string"}},
        "input": ["question"],
        "entry": "ask",
        "nodes": {"ask": {"kind": "llm", "prompt": "{{ question }}", "policy": policy,
                          "output": "answer"}},
        "edges": [{"from": "ask", "to": "END"}],
    }  # fmt: skip


@pytest.fixture
async def recorded_rig(database_url: str, recorded_simulator: str) -> AsyncIterator[SpecRig]:
    """Specs on the simulator's recorded GSM8K answers (edge: Mixtral's, mid: GPT-4's)."""
    async with spec_rig(database_url, recorded_simulator) as built:
        built.gateway = learning_gateway(built.sessions, recorded_simulator)
        yield built


async def test_a_spec_policy_of_agreement_keeps_what_two_models_agree_on_as_feedback(
    recorded_rig: SpecRig, gsm8k: list[Row]
) -> None:
    """edge-a and edge-b give Mixtral's recorded answer, mid-a GPT-4's: real final numbers."""
    row = _weak_and_strong_disagree(gsm8k)
    rig = recorded_rig
    agreed = await rig.run(rig.compile(agreement_spec("edge-b")), {"question": row.prompt})
    first, second = agreed.calls_of("ask")
    assert (first.model, second.model) == ("edge-a", "edge-b")
    assert agreed.output["answer"] == row.weak_response
    assert "agreement verifier accepted edge-a's answer" in first.routing_reason
    disputed = await rig.run(rig.compile(agreement_spec("mid-a")), {"question": row.prompt})
    cheap, mid, strong = disputed.calls_of("ask")
    assert (cheap.model, mid.model, strong.model) == ("edge-a", "mid-a", "frontier-a")
    assert "agreement verifier rejected edge-a's answer (answers disagree" in strong.routing_reason
    assert disputed.output["answer"] == row.strong_response
    async with rig.sessions() as session:
        found = list((await session.execute(select(Feedback).order_by(Feedback.id))).scalars())
    verdicts = {f.call_id: (f.source, f.score) for f in found}
    assert verdicts == {
        first.id: ("cascade_verifier", 1.0),
        second.id: ("cascade_verifier", 1.0),
        cheap.id: ("cascade_verifier", 0.0),
        mid.id: ("cascade_verifier", 0.0),
    }
