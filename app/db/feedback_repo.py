"""Reads of the `feedback` table (its writes go through `routing_stats_repo.apply_feedback`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Feedback


async def get_feedback(
    session: AsyncSession, tenant_id: str, call_id: str, source: str
) -> Feedback | None:
    query = select(Feedback).where(
        Feedback.tenant_id == tenant_id, Feedback.call_id == call_id, Feedback.source == source
    )
    return (await session.execute(query)).scalar_one_or_none()


async def feedback_for_call(session: AsyncSession, tenant_id: str, call_id: str) -> list[Feedback]:
    """Every source's feedback on one call, oldest first."""
    query = (
        select(Feedback)
        .where(Feedback.tenant_id == tenant_id, Feedback.call_id == call_id)
        .order_by(Feedback.created_at, Feedback.id)
    )
    return list((await session.execute(query)).scalars())


async def feedback_for_run(session: AsyncSession, run_id: str) -> list[Feedback]:
    """Feedback on the calls of one run (users' and implicit), oldest first; for the run's
    timeline to join by `call_id`."""
    query = (
        select(Feedback).where(Feedback.run_id == run_id).order_by(Feedback.created_at, Feedback.id)
    )
    return list((await session.execute(query)).scalars())
