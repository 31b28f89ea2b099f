"""The append-only run timeline (`run_events`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import RunEvent, utcnow

SEQ_RETRIES = 5  # two writers racing for one run's next sequence number


async def append_event(
    session_factory: async_sessionmaker[AsyncSession],
    run_id: str,
    kind: str,
    *,
    node: str | None = None,
    payload: dict[str, Any] | None = None,
) -> int:
    """Append one event in its own transaction and return its per-run sequence number.

    The sequence is max+1 under a unique (run_id, seq) constraint: two writers racing
    for the same number (worker and API on Postgres) retry instead of overwriting.
    """
    for _ in range(SEQ_RETRIES):
        try:
            async with session_factory.begin() as session:
                return await insert_event(session, run_id, kind, node=node, payload=payload)
        except IntegrityError:
            continue
    raise RuntimeError(f"could not append event {kind!r} to run {run_id}")


async def insert_event(
    session: AsyncSession,
    run_id: str,
    kind: str,
    *,
    node: str | None = None,
    payload: dict[str, Any] | None = None,
) -> int:
    """Insert an event in the caller's transaction (which retries on IntegrityError)."""
    next_seq = (
        select(func.coalesce(func.max(RunEvent.seq), 0) + 1)
        .where(RunEvent.run_id == run_id)
        .scalar_subquery()
    )
    result = await session.execute(
        insert(RunEvent)
        .values(
            run_id=run_id, seq=next_seq, at=utcnow(), kind=kind, node=node, payload=payload or {}
        )
        .returning(RunEvent.seq)
    )
    return int(result.scalar_one())


async def events_after(
    session: AsyncSession, run_id: str, after_seq: int = 0, limit: int = 500
) -> list[RunEvent]:
    query = (
        select(RunEvent)
        .where(RunEvent.run_id == run_id, RunEvent.seq > after_seq)
        .order_by(RunEvent.seq)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())
