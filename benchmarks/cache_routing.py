"""Cache-aware routing, side by side: 20-turn chats with a ~3k-token system prompt, each
user turn a GSM8K question, served through the real gateway (SQLite) and the simulator
with recorded answers, with and without cache-aware routing; prints cost and quality.

Between turns users think for 45 s to 4 min, and 30% of gaps are breaks of 6 to 25
minutes (simulated time: the simulator's clock and the gateway's move together). Each
tier's first model rate-limits a share of calls (seeded), so conversations also land on
the second model. The `-a` models cache like OpenAI (automatic, 5-minute lifetime, writes
free), the `-b` models like Anthropic with 1-hour markers (writes at 2x input, reads at
0.1x). Quality is the recorded correctness of the answer the serving model gave.

python benchmarks/cache_routing.py [--chats 20] [--turns 20] [--rate-limit 0.1] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select

from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import ModelCall
from app.gateway.gateway import Gateway
from app.gateway.types import CallContext, ModelRequest
from app.routing.catalog import load_catalog
from app.routing.classifier import TaskClassifier
from app.routing.policy import Auto, FixedTier, Policy
from devtools.routing.datasets import Row, load_gsm8k
from devtools.simulator.config import FaultRule, SimulatorConfig
from devtools.simulator.server import SimulatorServer


@dataclass
class Clock:
    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Totals:
    calls: int = 0
    turns: int = 0
    correct: int = 0
    cost: float = 0.0
    list_cost: float = 0.0  # the same tokens priced as if nothing were cached
    prompt: int = 0
    cached: int = 0
    written: int = 0
    warm_first: int = 0  # turns routed to a warm model ahead of the chain's first
    models: dict[str, int] = field(default_factory=dict)


def system_prompt(chat: int, rng: random.Random) -> str:
    """~3k tokens of a support bot's instructions (one per chat: per-user context)."""
    words = ["refund", "policy", "invoice", "customer", "verify", "escalate", "account"]
    rules = [
        f"Rule {i}: when the {rng.choice(words)} is unclear, {rng.choice(words)} first."
        for i in range(300)
    ]
    return f"You are a careful maths tutor for user {chat}.\n" + "\n".join(rules)


def gaps(rng: random.Random, turns: int) -> list[float]:
    return [
        rng.uniform(360, 1500) if rng.random() < 0.3 else rng.uniform(45, 240) for _ in range(turns)
    ]


async def run_variant(
    policy: Policy, cache_aware: bool, args: argparse.Namespace, rows: list[Row], tmp: Path
) -> Totals:
    rules = [
        FaultRule(model=f"{tier}-a", kind="rate_limit", probability=args.rate_limit)
        for tier in ("edge", "mid", "frontier")
    ]
    config = SimulatorConfig(latency_scale=0.0, recorded_answers=True, faults=rules, seed=args.seed)
    url = f"sqlite+aiosqlite:///{tmp / f'{uuid.uuid4().hex}.db'}"
    await asyncio.to_thread(upgrade_database, url)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    totals = Totals()
    with SimulatorServer(config) as sim_url:
        admin = httpx.AsyncClient(base_url=sim_url.removesuffix("/v1"))
        clock = Clock()
        catalog = load_catalog()
        gateway = Gateway(
            catalog=catalog,
            session_factory=sessions,
            simulator_url=sim_url,
            classifier=TaskClassifier.load(),
            cache_aware=cache_aware,
            clock=clock,
        )
        rng = random.Random(args.seed)
        questions = iter(rows)
        for chat in range(args.chats):
            messages: list[dict[str, object]] = [
                {"role": "system", "content": system_prompt(chat, rng)}
            ]
            for gap in gaps(rng, args.turns):
                row = next(questions)
                messages.append({"role": "user", "content": row.prompt})
                key = f"bench-{uuid.uuid4().hex}"
                result = await gateway.complete(
                    ModelRequest(messages=list(messages)),
                    policy,
                    CallContext(call_key=key, new_call=True),
                )
                messages.append({"role": "assistant", "content": result.content or ""})
                await gateway.warmth.settled()  # a user's next turn comes seconds later
                good = row.weak_good if result.tier == "edge" else row.strong_good
                totals.turns += 1
                totals.correct += int(good)
                totals.models[result.model] = totals.models.get(result.model, 0) + 1
                response = await admin.post("/admin/clock", json={"advance_seconds": gap})
                clock.offset = response.json()["offset_seconds"]
        await gateway.aclose()
        await admin.aclose()
    async with sessions() as session:
        for call in (await session.execute(select(ModelCall))).scalars():
            model = catalog.model(call.model)
            totals.calls += 1
            totals.cost += call.cost_usd
            totals.list_cost += model.cost_usd(call.prompt_tokens, call.completion_tokens)
            totals.prompt += call.prompt_tokens
            totals.cached += call.cached_tokens
            totals.written += call.cache_write_tokens
            totals.warm_first += int(call.attempt == 1 and "so " in call.routing_reason)
    await engine.dispose()
    return totals


def line(name: str, t: Totals) -> str:
    mix = ", ".join(f"{m} {n}" for m, n in sorted(t.models.items()))
    return (
        f"| {name} | ${t.cost:.4f} | ${t.cost / t.turns * 1000:.3f} | ${t.list_cost:.4f} | "
        f"{t.cached / t.prompt:.1%} | {t.written / t.prompt:.1%} | {t.warm_first} | "
        f"{t.correct / t.turns:.1%} | {t.calls} | {mix} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--rate-limit", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("app.gateway.gateway").setLevel(logging.ERROR)  # the 429s are the point
    rows = load_gsm8k()
    random.Random(args.seed).shuffle(rows)
    rows = rows[: args.chats * args.turns]
    print(
        f"{args.chats} chats x {args.turns} turns, ~3k-token system prompt, "
        f"rate limits {args.rate_limit:.0%} on each tier's first model, seed {args.seed}\n"
    )
    print(
        "| policy / routing | cost | per 1k turns | cost at list price | prompt read from "
        "cache | prompt written | warm model moved first | correct | calls | served by |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for label, policy in (("mid", FixedTier("mid")), ("auto", Auto())):
            for aware in (False, True):
                totals = await run_variant(policy, aware, args, rows, Path(tmp))
                name = f"{label}, {'cache-aware' if aware else 'chain order'}"
                print(line(name, totals), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
