"""What `/metrics` reads from the database at scrape time: figures every process shares
(queued and running runs, what each key's budget has left), so no process owns them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import keys_repo, runs_repo
from app.services.api_keys import PERIODS, period_key


@dataclass(frozen=True)
class KeyBudget:
    key_id: str
    tenant_id: str
    budget_usd: float
    remaining_usd: float


@dataclass(frozen=True)
class ServiceGauges:
    runs_queued: int
    runs_running: int
    key_budgets: list[KeyBudget]


async def read_gauges(sessions: async_sessionmaker[AsyncSession]) -> ServiceGauges:
    periods: dict[str, str] = {period: period_key(period) for period in PERIODS}
    async with sessions() as session:
        live = await runs_repo.live_run_counts(session)
        rows = await keys_repo.budget_spend(session, periods)
    budgets = [KeyBudget(k, t, budget, budget - spent) for k, t, budget, spent in rows]
    return ServiceGauges(live["queued"], live["running"], budgets)
