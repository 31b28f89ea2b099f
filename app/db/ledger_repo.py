"""The model-call ledger: every attempt, with tokens, cost and why it was tried."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ModelCall, utcnow

ABANDONED = "lost: the API process serving this call stopped before its answer was recorded"


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


async def get_call(session: AsyncSession, call_id: str) -> ModelCall | None:
    return await session.get(ModelCall, call_id)


async def calls_by_id(session: AsyncSession, call_ids: Sequence[str]) -> dict[str, ModelCall]:
    if not call_ids:
        return {}
    query = select(ModelCall).where(ModelCall.id.in_(set(call_ids)))
    return {row.id: row for row in (await session.execute(query)).scalars()}


async def final_answer_call(session: AsyncSession, run_id: str) -> ModelCall | None:
    """The run's last call to complete with an answer (status ok): the one whose answer
    the run's output was made from, for feedback on the run."""
    query = (
        select(ModelCall)
        .where(ModelCall.run_id == run_id, ModelCall.status == "ok")
        .order_by(
            ModelCall.completed_at.desc(), ModelCall.created_at.desc(), ModelCall.attempt.desc()
        )
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def annotate_call(
    session: AsyncSession, call_id: str, routing: dict[str, Any], reason_suffix: str
) -> None:
    """Replace a call's routing context and append to its routing reason (a cascade's keep)."""
    await session.execute(
        update(ModelCall)
        .where(ModelCall.id == call_id)
        .values(routing=routing, routing_reason=ModelCall.routing_reason + reason_suffix)
        .execution_options(synchronize_session=False)
    )


async def insert_cache_hit(session: AsyncSession, row: ModelCall) -> None:
    """A call answered from the response cache (or a shared in-flight call): cost 0."""
    session.add(row)


async def mark_abandoned_calls(session: AsyncSession, older_than_s: float) -> int:
    """Calls made outside a run (the OpenAI endpoint) still `in_flight` after
    `older_than_s`: the process serving them died. Marked `lost`, their estimated cost kept
    (the provider may have answered and billed). Runs' calls are left to the run's resume."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    result = await session.execute(
        update(ModelCall)
        .where(
            ModelCall.status == "in_flight",
            ModelCall.created_at < cutoff,
            ModelCall.run_id.is_(None),
        )
        .values(status="lost", error=ABANDONED, completed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
