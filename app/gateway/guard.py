"""Checks made before every model call of a run: cancellation and budget."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import Run
from app.gateway.errors import BudgetExceeded, RunCancelled


async def check_before_call(
    session_factory: async_sessionmaker[AsyncSession], run_id: str, estimate_usd: float
) -> None:
    """Raise if the run was cancelled or if this call could take it past its budget."""
    async with session_factory() as session:
        row = (
            await session.execute(
                select(Run.cost_usd, Run.budget_usd, Run.cancel_requested).where(Run.id == run_id)
            )
        ).one_or_none()
    if row is None:
        return  # calls outside a stored run (e.g. the chat endpoint) have no run limits
    spent, budget, cancel_requested = row
    if cancel_requested:
        raise RunCancelled(f"run {run_id} was cancelled")
    if budget is not None and spent + estimate_usd > budget:
        raise BudgetExceeded(spent_usd=spent, estimate_usd=estimate_usd, budget_usd=budget)


async def remaining_budget(
    session_factory: async_sessionmaker[AsyncSession], run_id: str
) -> float | None:
    """What the run may still spend (None: no budget, or no such run)."""
    async with session_factory() as session:
        row = (
            await session.execute(select(Run.cost_usd, Run.budget_usd).where(Run.id == run_id))
        ).one_or_none()
    if row is None or row[1] is None:
        return None
    return max(0.0, float(row[1]) - float(row[0]))
