"""The model-call ledger: every attempt, with tokens, cost and why it was tried."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ModelCall, utcnow

_CALLS: Table = ModelCall.__table__  # type: ignore[assignment]
ABANDONED = "lost: the API process serving this call stopped before its answer was recorded"
LOST_ERROR = (
    "in flight when the worker holding the run stopped (crash, stall or shutdown): the "
    "provider may have charged for it; cost estimated"
)


async def attempts_of(session: AsyncSession, call_key: str) -> list[ModelCall]:
    """Every attempt made under a logical call's key, in order."""
    query = select(ModelCall).where(ModelCall.call_key == call_key).order_by(ModelCall.attempt)
    return list((await session.execute(query)).scalars())


async def mark_lost(
    session: AsyncSession, call_ids: Sequence[str], error: str = LOST_ERROR
) -> None:
    """Attempts found in flight whose worker is gone: lost, their estimated cost kept."""
    if call_ids:
        await session.execute(
            update(ModelCall)
            .where(ModelCall.id.in_(list(call_ids)), ModelCall.status == "in_flight")
            .values(status="lost", error=error)
            .execution_options(synchronize_session=False)
        )


def add_call(session: AsyncSession, row: ModelCall) -> None:
    """A new ledger row (an attempt in flight, a cache hit, a replayed answer)."""
    session.add(row)


async def complete_call(session: AsyncSession, call_id: str, **outcome: Any) -> str:
    """Record an attempt's outcome; returns its status. A row marked lost meanwhile (its
    worker was thought dead) stays lost: its answer is not used, its real cost is kept."""
    status = outcome.pop("status")
    error = outcome.pop("error", None)
    result = await session.execute(
        update(ModelCall)
        .where(ModelCall.id == call_id)
        .values(
            status=case((ModelCall.status == "lost", "lost"), else_=status),
            error=case((ModelCall.status == "lost", ModelCall.error), else_=error),
            completed_at=utcnow(),
            **outcome,
        )
        .returning(ModelCall.status)
        .execution_options(synchronize_session=False)
    )
    return str(result.scalar_one())


async def abandon_call(session: AsyncSession, call_id: str, error: str) -> None:
    """An attempt interrupted before the provider answered (cancelled, shutdown)."""
    await session.execute(
        update(ModelCall)
        .where(ModelCall.id == call_id, ModelCall.status == "in_flight")
        .values(status="lost", error=error, completed_at=utcnow())
        .execution_options(synchronize_session=False)
    )


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


CHECK_SUFFIXES = ("agree", "judge")  # call keys of a cascade stage's checks (cascade_walk)


async def final_answer_call(session: AsyncSession, run_id: str) -> ModelCall | None:
    """The run's last call to complete with an answer (status ok): the one whose answer
    the run's output was made from, for feedback on the run. A cascade stage's check (an
    agreement's second opinion, a judge's verdict) completes after the answer it checked
    and is not the run's answer."""
    query = (
        select(ModelCall)
        .where(
            ModelCall.run_id == run_id,
            ModelCall.status == "ok",
            *(ModelCall.call_key.not_like(f"%/{check}") for check in CHECK_SUFFIXES),
        )
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


async def recent_completion_tokens(
    session: AsyncSession, *, graph: str | None, node: str | None, model: str, limit: int
) -> list[int]:
    """Completion tokens of the latest successful calls of a model at a graph's node."""
    query = (
        select(ModelCall.completion_tokens)
        .where(
            ModelCall.graph == graph,
            ModelCall.node == node,
            ModelCall.model == model,
            ModelCall.status == "ok",
        )
        .order_by(ModelCall.created_at.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def add_calls_batch(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Many new ledger rows in one executemany (group-committed calls outside runs)."""
    if rows:
        connection = await session.connection()
        await connection.execute(insert(_CALLS), rows)


async def complete_calls_batch(session: AsyncSession, outcomes: list[dict[str, Any]]) -> None:
    """Many attempts' outcomes in one executemany; each dict names its row as `b_id`."""
    if not outcomes:
        return
    table = _CALLS
    names = [name for name in outcomes[0] if name != "b_id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(name) for name in names})
    )
    connection = await session.connection()
    await connection.execute(statement, outcomes)
