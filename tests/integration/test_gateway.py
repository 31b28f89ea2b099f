"""The gateway against the real simulator over loopback and a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pydantic import BaseModel

from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import ModelCall, Run
from app.gateway.errors import AllModelsFailed, BudgetExceeded, RunCancelled
from app.gateway.gateway import Gateway
from app.gateway.types import CallContext, ModelRequest
from app.routing.catalog import load_catalog
from app.routing.policy import FixedTier
from tests.conftest import SimulatorAdmin
from tests.support.ledger_rig import LedgerRig

CONVERSATION = [
    {"role": "system", "content": "ROLE: synthesizer\nWrite the answer."},
    {"role": "user", "content": "What do 3 boxes of 12 eggs hold?"},
    {"role": "assistant", "content": '{"steps": [{"id": 1, "description": "eggs"}]}'},
    {"role": "user", "content": "Question: eggs\nStep 1 (eggs): 36"},
]


class Answer(BaseModel):
    steps: list[dict[str, object]]


@dataclass
class Env(LedgerRig):
    run_id: str = "run-1"

    async def rows(self) -> list[ModelCall]:
        return await self.calls()

    async def run(self) -> Run:
        async with self.sessions() as session:
            run = await session.get(Run, self.run_id)
            assert run is not None
            return run


@pytest.fixture
async def env(
    database_url: str, simulator: SimulatorAdmin, request: pytest.FixtureRequest
) -> AsyncIterator[Env]:
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    budget = getattr(request, "param", None)
    async with sessions.begin() as session:
        session.add(
            Run(
                id="run-1",
                thread_id="t",
                graph="plan_execute",
                version=1,
                input={},
                status="running",
                budget_usd=budget,
            )
        )
    gateway = Gateway(
        catalog=load_catalog(),
        session_factory=sessions,
        simulator_url=simulator.base_url,
        timeout_s=1.5,
    )
    try:
        yield Env(gateway, sessions, "run-1")
    finally:
        await engine.dispose()


def ctx(key: str = "run-1:task:node:0") -> CallContext:
    return CallContext(call_key=key, run_id="run-1", node="synthesize")


async def test_fallback_model_receives_the_full_conversation(
    env: Env, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("mid-a", "server_error", times=1)
    result = await env.gateway.complete(
        ModelRequest(messages=CONVERSATION), FixedTier("mid"), ctx()
    )
    assert result.model == "mid-b" and result.attempts == 2
    failed, served = await env.rows()
    assert (failed.model, failed.status, failed.attempt) == ("mid-a", "error", 1)
    assert "500" in (failed.error or "")
    assert (served.model, served.status, served.attempt) == ("mid-b", "ok", 2)
    assert served.fallback_of == failed.id
    assert served.routing_reason.startswith("fallback after mid-a")
    # Exactly one request reached the failing model (no hidden retries in LiteLLM/openai)
    # and the fallback model got every message of the conversation, in order.
    assert len(await simulator.requests("mid-a")) == 1
    (fallback_request,) = await simulator.requests("mid-b")
    assert fallback_request["messages"] == CONVERSATION


@pytest.mark.parametrize("kind", ["rate_limit", "server_error", "timeout", "cut_stream"])
async def test_each_provider_fault_falls_back_and_is_recorded(
    env: Env, simulator: SimulatorAdmin, kind: str
) -> None:
    await simulator.inject("edge-a", kind, times=1)
    result = await env.gateway.complete(
        ModelRequest(messages=CONVERSATION), FixedTier("edge"), ctx()
    )
    assert result.model == "edge-b"
    rows = await env.rows()
    assert [(r.model, r.status) for r in rows] == [("edge-a", "error"), ("edge-b", "ok")]
    assert rows[0].cost_usd == 0 and rows[0].latency_ms > 0


async def test_invalid_structured_output_is_fed_back_then_accepted(
    env: Env, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("frontier-a", "malformed_json", times=1)
    request = ModelRequest(
        messages=[
            {"role": "system", "content": "ROLE: planner\nReply with JSON."},
            {"role": "user", "content": "What is 2 * 3 + 4 * 5?"},
        ],
        response_format={"type": "json_object"},
    )
    parsed, result = await env.gateway.complete_structured(
        request, Answer, FixedTier("frontier"), ctx()
    )
    assert parsed.steps and result.model == "frontier-a"
    rows = await env.rows()
    assert [(r.model, r.status) for r in rows] == [
        ("frontier-a", "invalid_output"),
        ("frontier-a", "ok"),
    ]
    assert rows[0].cost_usd > 0  # an invalid answer was still paid for
    retry = (await simulator.requests("frontier-a"))[1]
    assert retry["messages"][-1]["role"] == "user"
    assert "could not be used" in retry["messages"][-1]["content"]


async def test_three_invalid_outputs_move_to_the_next_model(
    env: Env, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("frontier-a", "malformed_json", times=3)
    request = ModelRequest(
        messages=[
            {"role": "system", "content": "ROLE: planner\nReply with JSON."},
            {"role": "user", "content": "What is 2 * 3?"},
        ],
        response_format={"type": "json_object"},
    )
    _, result = await env.gateway.complete_structured(request, Answer, FixedTier("frontier"), ctx())
    assert result.model == "frontier-b"
    statuses = [(r.model, r.status) for r in await env.rows()]
    assert statuses == [("frontier-a", "invalid_output")] * 3 + [("frontier-b", "ok")]
    # the next model starts from the original conversation, not the failed exchange
    (first_b,) = await simulator.requests("frontier-b")
    assert first_b["messages"] == request.messages


async def test_when_every_model_fails_the_call_fails_without_tier_downgrade(
    env: Env, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("frontier-a", "server_error", times=None)
    await simulator.inject("frontier-b", "rate_limit", times=None)
    with pytest.raises(AllModelsFailed) as failure:
        await env.gateway.complete(
            ModelRequest(messages=CONVERSATION), FixedTier("frontier"), ctx()
        )
    assert len(failure.value.attempts) == 2
    assert {r.tier for r in await env.rows()} == {"frontier"}
    assert await simulator.requests("mid-a") == []


async def test_cost_comes_from_the_catalog_and_adds_up_on_the_run(env: Env) -> None:
    first = await env.gateway.complete(
        ModelRequest(messages=CONVERSATION), FixedTier("edge"), ctx("k:0")
    )
    second = await env.gateway.complete(
        ModelRequest(messages=CONVERSATION), FixedTier("frontier"), ctx("k:1")
    )
    catalog = load_catalog()
    for result in (first, second):
        expected = catalog.model(result.model).cost_usd(
            result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.cached_tokens
        )
        assert result.cost_usd == pytest.approx(expected) and expected > 0
    assert second.cost_usd > 10 * first.cost_usd  # frontier vs edge prices
    assert (await env.run()).cost_usd == pytest.approx(first.cost_usd + second.cost_usd)


async def test_a_recorded_call_is_answered_from_the_ledger_not_paid_again(
    env: Env, simulator: SimulatorAdmin
) -> None:
    request = ModelRequest(messages=CONVERSATION)
    paid = await env.gateway.complete(request, FixedTier("mid"), ctx("same-key"))
    again = await env.gateway.complete(request, FixedTier("mid"), ctx("same-key"))
    assert again.from_ledger and again.content == paid.content and again.cost_usd == 0
    assert len(await simulator.requests("mid-a")) == 1
    assert (await env.run()).cost_usd == pytest.approx(paid.cost_usd)


@pytest.mark.parametrize("env", [0.0001], indirect=True)
async def test_budget_blocks_a_call_that_could_exceed_it(
    env: Env, simulator: SimulatorAdmin
) -> None:
    with pytest.raises(BudgetExceeded, match="budget exceeded"):
        await env.gateway.complete(
            ModelRequest(messages=CONVERSATION, max_tokens=500), FixedTier("frontier"), ctx()
        )
    assert await simulator.requests() == []
    assert await env.rows() == []


async def test_cancelled_run_makes_no_more_calls(env: Env, simulator: SimulatorAdmin) -> None:
    async with env.sessions.begin() as session:
        run = await session.get(Run, env.run_id)
        assert run is not None
        run.cancel_requested = True
    with pytest.raises(RunCancelled):
        await env.gateway.complete(ModelRequest(messages=CONVERSATION), FixedTier("edge"), ctx())
    assert await simulator.requests() == []
