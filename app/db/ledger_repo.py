"""The model-call ledger: every attempt, with tokens, cost and why it was tried."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ModelCall


async def call_history(session: AsyncSession, call_key: str) -> tuple[ModelCall | None, int]:
    """(the successful attempt under `call_key`, if a previous worker paid for it;
    the next attempt number) in one query."""
    query = select(ModelCall).where(ModelCall.call_key == call_key).order_by(ModelCall.attempt)
    rows = list((await session.execute(query)).scalars())
    completed = next((row for row in reversed(rows) if row.status == "ok"), None)
    return completed, (rows[-1].attempt + 1 if rows else 1)


async def calls_for_run(session: AsyncSession, run_id: str) -> list[ModelCall]:
    query = (
        select(ModelCall)
        .where(ModelCall.run_id == run_id)
        .order_by(ModelCall.created_at, ModelCall.attempt)
    )
    return list((await session.execute(query)).scalars())


async def insert_cache_hit(session: AsyncSession, row: ModelCall) -> None:
    """A call answered from the response cache (or a shared in-flight call): cost 0."""
    session.add(row)
