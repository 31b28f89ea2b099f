"""auto and cascade through the real gateway: the choice, the limits and the recorded reason.

The simulator answers GSM8K prompts with the recorded Mixtral (edge) or GPT-4 (mid,
frontier) answers, so the cascade's verifier judges real model output.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import ModelCall, Run
from app.gateway.errors import BudgetExceeded
from app.gateway.gateway import Gateway
from app.gateway.types import CallContext, ModelRequest
from app.routing.catalog import load_catalog
from app.routing.classifier import TaskClassifier
from app.routing.policy import Auto, Cascade
from app.routing.verifiers import verify_arithmetic
from devtools.routing.datasets import Row
from tests.support.ledger_rig import LedgerRig


def _request(row: Row) -> ModelRequest:
    return ModelRequest(
        messages=[
            {"role": "system", "content": "Answer the user's question."},
            {"role": "user", "content": row.prompt},
        ],
        max_tokens=600,
    )


@dataclass
class Env(LedgerRig):
    async def rows(self) -> list[ModelCall]:
        return await self.calls()

    async def add_run(self, run_id: str, budget_usd: float | None = None) -> None:
        async with self.sessions.begin() as session:
            session.add(
                Run(
                    id=run_id,
                    thread_id=run_id,
                    graph="answer",
                    version=1,
                    input={},
                    status="running",
                    budget_usd=budget_usd,
                )
            )


@pytest.fixture
async def env(database_url: str, recorded_simulator: str) -> AsyncIterator[Env]:
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    gateway = Gateway(
        catalog=load_catalog(),
        session_factory=sessions,
        simulator_url=recorded_simulator,
        classifier=TaskClassifier.load(),
    )
    try:
        yield Env(gateway, sessions)
    finally:
        await engine.dispose()


async def test_cascade_escalates_when_the_verifier_rejects_the_cheap_answer(
    env: Env, gsm8k: list[Row]
) -> None:
    row = next(
        r
        for r in gsm8k
        if not verify_arithmetic([{"role": "user", "content": r.prompt}], r.weak_response).accepted
    )
    await env.add_run("r1")
    result = await env.gateway.complete(
        _request(row), Cascade(), CallContext(call_key="r1:k", run_id="r1", node="answer")
    )
    assert result.tier == "frontier" and result.content == row.strong_response
    cheap, strong = await env.rows()
    assert (cheap.tier, cheap.status, cheap.call_key) == ("edge", "ok", "r1:k/cascade-0")
    assert cheap.routing_reason.startswith("cascade stage 1/2 on edge")
    assert (strong.tier, strong.call_key) == ("frontier", "r1:k/cascade-1")
    assert "arithmetic verifier rejected edge-a's answer" in strong.routing_reason
    assert cheap.task_class == strong.task_class == "math"


async def test_cascade_keeps_a_verified_cheap_answer(env: Env, gsm8k: list[Row]) -> None:
    row = next(
        r
        for r in gsm8k
        if verify_arithmetic([{"role": "user", "content": r.prompt}], r.weak_response).accepted
    )
    await env.add_run("r2")
    result = await env.gateway.complete(
        _request(row), Cascade(), CallContext(call_key="r2:k", run_id="r2", node="answer")
    )
    assert result.tier == "edge" and result.content == row.weak_response
    assert [r.tier for r in await env.rows()] == ["edge"]


async def test_auto_records_class_score_threshold_and_candidates(
    env: Env, gsm8k: list[Row]
) -> None:
    await env.add_run("r3")
    result = await env.gateway.complete(
        _request(gsm8k[0]),
        Auto(threshold=0.5),
        CallContext(call_key="r3:k", run_id="r3", node="answer"),
    )
    (row,) = await env.rows()
    assert row.tier == result.tier and row.task_class == "math"
    for part in ("auto", "threshold 0.50", "class=math", "complexity=", "edge(p=", "frontier(p="):
        assert part in row.routing_reason


async def test_auto_never_routes_past_the_remaining_budget(env: Env, gsm8k: list[Row]) -> None:
    # An impossible quality bar would pick frontier; $0.004 left only fits a cheaper tier.
    await env.add_run("r4", budget_usd=0.004)
    result = await env.gateway.complete(
        _request(gsm8k[1]),
        Auto(threshold=1.0),
        CallContext(call_key="r4:k", run_id="r4", node="answer"),
    )
    assert result.tier != "frontier"
    (row,) = await env.rows()
    assert "frontier(p=" in row.routing_reason and "over budget" in row.routing_reason


async def test_cascade_router_bar_escalates_a_verified_but_doubtful_answer(
    env: Env, gsm8k: list[Row]
) -> None:
    row = next(
        r
        for r in gsm8k
        if verify_arithmetic([{"role": "user", "content": r.prompt}], r.weak_response).accepted
    )
    await env.add_run("r5")
    result = await env.gateway.complete(
        _request(row),
        Cascade(min_p_good=1.0),  # no prediction reaches 1.0: every answer is doubted
        CallContext(call_key="r5:k", run_id="r5", node="answer"),
    )
    assert result.tier == "frontier"
    _, strong = await env.rows()
    assert "verifier accepted edge-a's answer but the router predicts p=" in strong.routing_reason


async def test_a_judge_call_is_held_to_the_runs_budget_like_any_stage(
    env: Env, gsm8k: list[Row]
) -> None:
    # $0.003 pays for edge's answer but not for a frontier judge reading it.
    await env.add_run("r5", budget_usd=0.003)
    policy = Cascade(verifier="judge", judge_with="frontier-a")
    with pytest.raises(BudgetExceeded):
        await env.gateway.complete(
            _request(gsm8k[1]), policy, CallContext(call_key="r5:k", run_id="r5", node="answer")
        )
    (answer,) = await env.rows()  # the judge was never called, nor the next stage
    assert answer.tier == "edge" and answer.call_key == "r5:k/cascade-0"
