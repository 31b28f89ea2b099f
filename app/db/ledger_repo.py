"""The model-call ledger: every attempt, with tokens, cost and why it was tried."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ModelCall


async def find_completed_call(session: AsyncSession, call_key: str) -> ModelCall | None:
    """The successful attempt recorded under `call_key`, if a previous worker paid for it."""
    query = (
        select(ModelCall)
        .where(ModelCall.call_key == call_key, ModelCall.status == "ok")
        .order_by(ModelCall.attempt.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def next_attempt_number(session: AsyncSession, call_key: str) -> int:
    query = select(ModelCall.attempt).where(ModelCall.call_key == call_key)
    attempts = list((await session.execute(query)).scalars())
    return max(attempts, default=0) + 1


async def calls_for_run(session: AsyncSession, run_id: str) -> list[ModelCall]:
    query = (
        select(ModelCall)
        .where(ModelCall.run_id == run_id)
        .order_by(ModelCall.created_at, ModelCall.attempt)
    )
    return list((await session.execute(query)).scalars())
