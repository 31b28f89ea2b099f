"""Cache-aware cost and routing against the real simulator and a real database: the
ledger books cached and written prompt tokens at their prices, and a conversation goes to
the model of its tier where its prefix is warm, within that provider's cache lifetime."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import ModelCall
from app.gateway.gateway import Gateway
from app.gateway.types import CallContext, ModelRequest
from app.routing.catalog import load_catalog
from app.routing.policy import FixedModel, FixedTier
from tests.conftest import SimulatorAdmin
from tests.support.ledger_rig import LedgerRig

MID = FixedTier("mid")


@dataclass
class Clock:
    """The gateway's clock, kept equal to the simulator's (whose offset tests advance)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Env(LedgerRig):
    clock: Clock = field(default_factory=Clock)

    async def advance(self, simulator: SimulatorAdmin, seconds: float) -> None:
        await simulator.advance_clock(seconds)
        self.clock.offset = await simulator.clock_offset()


async def _env(database_url: str, simulator: SimulatorAdmin, cache_aware: bool) -> Env:
    await asyncio.to_thread(upgrade_database, database_url)
    sessions = create_session_factory(create_engine(database_url))
    clock = Clock(await simulator.clock_offset())
    gateway = Gateway(
        catalog=load_catalog(),
        session_factory=sessions,
        simulator_url=simulator.base_url,
        timeout_s=5,
        cache_aware=cache_aware,
        clock=clock,
    )
    return Env(gateway, sessions, clock)


@pytest.fixture
async def env(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[Env]:
    rig = await _env(database_url, simulator, cache_aware=True)
    yield rig
    await rig.gateway.aclose()
    await rig.sessions.kw["bind"].dispose()


def system_prompt() -> dict[str, str]:
    """~3k tokens of instructions, unique per test (the simulator is shared)."""
    tag = uuid.uuid4().hex
    rules = " ".join(
        f"Rule {i} of {tag}: answer carefully and cite the policy." for i in range(260)
    )
    return {"role": "system", "content": f"ROLE: synthesizer\n{rules}"}


class Chat:
    """A conversation: each turn appends the answer and a new question."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = [system_prompt()]
        self.turn = 0

    async def say(self, env: Env, tenant: str = "default") -> ModelCall:
        """One turn; the ledger row of the attempt that answered it."""
        gateway = env.gateway
        self.turn += 1
        self.messages.append({"role": "user", "content": f"Question {self.turn}: what now?"})
        key = f"chat-{uuid.uuid4().hex}"
        result = await gateway.complete(
            ModelRequest(messages=list(self.messages)),
            MID,
            CallContext(call_key=key, tenant_id=tenant, new_call=True),
        )
        self.messages.append(result.assistant_message())
        await gateway.batch_ledger.settled()
        await gateway.warmth.settled()  # the next turn comes later than its write
        async with env.sessions() as session:
            rows = (
                await session.execute(
                    select(ModelCall)
                    .where(ModelCall.call_key == key)
                    .order_by(ModelCall.attempt.desc())
                )
            ).scalars()
            return next(iter(rows))


async def test_ledger_books_cached_and_written_tokens_at_their_prices(
    env: Env, simulator: SimulatorAdmin
) -> None:
    catalog = env.gateway.catalog
    chat = Chat()
    first = await chat.say(env)
    assert (first.model, first.cached_tokens, first.cache_write_tokens) == ("mid-a", 0, 0)
    second = await chat.say(env)
    assert second.model == "mid-a"
    # OpenAI-style: the first prompt is read back in 128-token blocks, writes are free.
    assert second.cached_tokens >= 3000 and second.cached_tokens % 128 == 0
    assert second.cache_write_tokens == 0
    mid_a = catalog.model("mid-a")
    assert second.cost_usd == pytest.approx(
        mid_a.cost_usd(second.prompt_tokens, second.completion_tokens, second.cached_tokens)
    )
    assert second.cost_usd < mid_a.cost_usd(second.prompt_tokens, second.completion_tokens)

    # mid-b (Anthropic-style) caches only marked prefixes: the gateway marks them and
    # the write is booked at the write price.
    await simulator.inject("mid-a", "rate_limit", times=1)
    third = await chat.say(env)
    assert third.model == "mid-b"
    assert third.cached_tokens == 0 and third.cache_write_tokens > 3000
    mid_b = catalog.model("mid-b")
    assert third.cost_usd == pytest.approx(
        mid_b.cost_usd(third.prompt_tokens, third.completion_tokens, 0, third.cache_write_tokens)
    )
    (sent,) = await simulator.requests("mid-b")
    system, *_, last = sent["messages"]
    assert system["content"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert last["content"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    # The ledger keeps the request as the node made it (no markers).
    assert third.request["messages"][0]["content"] == chat.messages[0]["content"]


async def test_a_conversation_stays_where_its_prefix_is_warm_within_each_lifetime(
    env: Env, simulator: SimulatorAdmin
) -> None:
    chat = Chat()
    await chat.say(env)  # mid-a
    await simulator.inject("mid-a", "rate_limit", times=1)
    assert (await chat.say(env)).model == "mid-b"  # the fallback warms mid-b

    # Six minutes later mid-a's 5-minute cache is gone, mid-b's hour is not.
    await env.advance(simulator, 6 * 60)
    warm = await chat.say(env)
    assert warm.model == "mid-b" and warm.attempt == 1
    assert "cache-aware: prefix warm on mid-b" in warm.routing_reason
    assert "so mid-b first" in warm.routing_reason
    assert warm.cached_tokens > 3000  # read back, at a tenth of the input price

    # Each use keeps the prefix warm for another hour.
    await env.advance(simulator, 50 * 60)
    later = await chat.say(env)
    assert later.model == "mid-b" and later.cached_tokens > 3000
    assert "min left" in later.routing_reason

    # Another tenant's identical conversation is not warm anywhere for it.
    other = Chat()
    other.messages = list(chat.messages[:-1])
    other.turn = chat.turn - 1
    assert (await other.say(env, tenant="acme")).model == "mid-a"

    # An hour after its last use: cold everywhere, back to the tier's first model.
    await env.advance(simulator, 61 * 60)
    cold = await chat.say(env)
    assert cold.model == "mid-a" and "cache-aware" not in cold.routing_reason


async def test_without_cache_aware_routing_the_chain_order_stands(
    database_url: str, simulator: SimulatorAdmin
) -> None:
    rig = await _env(database_url, simulator, cache_aware=False)
    try:
        chat = Chat()
        await chat.say(rig)
        await simulator.inject("mid-a", "rate_limit", times=1)
        assert (await chat.say(rig)).model == "mid-b"
        await rig.advance(simulator, 6 * 60)  # only mid-b is warm now
        back = await chat.say(rig)
        assert back.model == "mid-a" and "cache-aware" not in back.routing_reason
    finally:
        await rig.gateway.aclose()
        await rig.sessions.kw["bind"].dispose()


async def test_through_litellm_the_markers_arrive_and_reads_and_writes_are_booked(
    sqlite_url: str, simulator: SimulatorAdmin
) -> None:
    """The same through LiteLLM (as a real provider is called): its usage carries the
    cache writes as `cache_creation_input_tokens` (the database plays no part here)."""
    await asyncio.to_thread(upgrade_database, sqlite_url)
    sessions = create_session_factory(create_engine(sqlite_url))
    gateway = Gateway(
        catalog=load_catalog(),
        session_factory=sessions,
        simulator_url=simulator.base_url,
        timeout_s=30,
        direct_client=False,
    )
    try:
        messages: list[dict[str, object]] = [system_prompt(), {"role": "user", "content": "hi"}]
        usages = []
        for turn in range(2):
            result = await gateway.complete(
                ModelRequest(messages=list(messages)),
                FixedModel("mid-b"),
                CallContext(call_key=f"litellm-{uuid.uuid4().hex}", new_call=True),
            )
            usages.append(result.usage)
            messages += [result.assistant_message(), {"role": "user", "content": f"more {turn}"}]
        first, second = usages
        assert first.cached_tokens == 0 and first.cache_write_tokens > 3000
        assert second.cached_tokens == first.cache_write_tokens
        assert 0 < second.cache_write_tokens < 50
        (*_, sent) = await simulator.requests("mid-b")
        assert sent["messages"][-1]["content"][-1]["cache_control"]["ttl"] == "1h"
    finally:
        await gateway.aclose()
        await sessions.kw["bind"].dispose()
