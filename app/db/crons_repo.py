"""The `crons` table: a tenant's schedules, their search, and the claim of a due firing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.cron_table import Cron, TemporaryThread
from app.db.models import Run
from app.run_status import TERMINAL

SORT_COLUMNS = {
    "cron_id": Cron.cron_id,
    "assistant_id": Cron.assistant_id,
    "thread_id": Cron.thread_id,
    "next_run_date": Cron.next_run_date,
    "end_time": Cron.end_time,
    "created_at": Cron.created_at,
    "updated_at": Cron.updated_at,
}


async def get_cron(session: AsyncSession, tenant_id: str, cron_id: str) -> Cron | None:
    cron = await session.get(Cron, cron_id)
    return cron if cron is not None and cron.tenant_id == tenant_id else None


async def delete_cron(session: AsyncSession, tenant_id: str, cron_id: str) -> bool:
    """True when the tenant had that cron."""
    result = await session.execute(
        delete(Cron).where(Cron.cron_id == cron_id, Cron.tenant_id == tenant_id)
    )
    return bool(getattr(result, "rowcount", 0))


def _filtered(
    query: Select[Any],
    tenant_id: str,
    *,
    graph: str | None,
    thread_id: str | None,
    enabled: bool | None,
) -> Select[Any]:
    query = query.where(Cron.tenant_id == tenant_id)
    if graph is not None:
        query = query.where(Cron.graph == graph)
    if thread_id is not None:
        query = query.where(Cron.thread_id == thread_id)
    if enabled is not None:
        query = query.where(Cron.enabled == enabled)
    return query


async def search_crons(
    session: AsyncSession,
    tenant_id: str,
    *,
    graph: str | None = None,
    thread_id: str | None = None,
    enabled: bool | None = None,
    metadata: dict[str, Any] | None = None,
    sort_by: str = "created_at",
    descending: bool = True,
    limit: int = 10,
    offset: int = 0,
) -> list[Cron]:
    """The tenant's crons matching every filter (metadata: each pair equal), a page."""
    column = SORT_COLUMNS[sort_by]
    order = (column.desc(), Cron.cron_id.desc()) if descending else (column, Cron.cron_id)
    query = _filtered(select(Cron), tenant_id, graph=graph, thread_id=thread_id, enabled=enabled)
    rows = list((await session.scalars(query.order_by(*order))).all())
    if metadata:
        # JSON containment differs by database; a tenant's crons are few, so match here.
        rows = [r for r in rows if all(r.cron_metadata.get(k) == v for k, v in metadata.items())]
    return rows[offset : offset + limit]


async def count_crons(
    session: AsyncSession,
    tenant_id: str,
    *,
    graph: str | None = None,
    thread_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> int:
    if metadata:
        found = await search_crons(
            session, tenant_id, graph=graph, thread_id=thread_id, metadata=metadata, limit=10**9
        )
        return len(found)
    query = _filtered(
        select(func.count()).select_from(Cron),
        tenant_id,
        graph=graph,
        thread_id=thread_id,
        enabled=None,
    )
    return int(await session.scalar(query) or 0)


async def due_crons(session: AsyncSession, now: datetime, limit: int) -> list[Cron]:
    """Enabled crons (any tenant) whose next firing is at or before `now`, oldest first."""
    query = (
        select(Cron)
        .where(Cron.enabled.is_(True), Cron.next_run_date <= now)
        .order_by(Cron.next_run_date)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def claim_firing(
    session: AsyncSession,
    cron: Cron,
    *,
    next_run_date: datetime | None,
    run_id: str | None,
    now: datetime,
) -> bool:
    """Move `cron` past the firing it was read at; False when another worker already did
    (its `fired` count moved on). The caller queues the run in the same transaction, so a
    firing's run exists exactly when its claim committed."""
    result = await session.execute(
        update(Cron)
        .where(Cron.cron_id == cron.cron_id, Cron.fired == cron.fired)
        .values(
            fired=cron.fired + 1,
            next_run_date=next_run_date,
            last_run_id=run_id,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def add_temporary_thread(
    session: AsyncSession, tenant_id: str, thread_id: str, run_id: str
) -> None:
    """Delete `thread_id` once `run_id` has ended (a stateless run or cron firing)."""
    session.add(TemporaryThread(tenant_id=tenant_id, thread_id=thread_id, run_id=run_id))


async def ended_temporary_threads(session: AsyncSession, limit: int) -> list[tuple[str, str]]:
    """(tenant, thread) of temporary threads whose run has ended, oldest first."""
    query = (
        select(TemporaryThread.tenant_id, TemporaryThread.thread_id)
        .join(Run, Run.id == TemporaryThread.run_id)
        .where(Run.status.in_(sorted(TERMINAL)))
        .order_by(TemporaryThread.created_at)
        .limit(limit)
    )
    return [(tenant, thread) for tenant, thread in (await session.execute(query)).all()]


async def forget_temporary_thread(session: AsyncSession, tenant_id: str, thread_id: str) -> None:
    await session.execute(
        delete(TemporaryThread).where(
            TemporaryThread.tenant_id == tenant_id, TemporaryThread.thread_id == thread_id
        )
    )
