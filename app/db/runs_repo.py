"""Reads of the `runs` table: one run, by idempotency key, pages of runs (the run journal,
`app/db/journal`, is the only writer)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Run
from app.db.routing_models import Experiment


def new_run_id() -> str:
    return str(uuid.uuid4())


async def get_run(session: AsyncSession, run_id: str) -> Run | None:
    return await session.get(Run, run_id)


async def remaining_budget(session: AsyncSession, run_id: str) -> float | None:
    """What the run may still spend (None: no budget, or no such run)."""
    row = (
        await session.execute(select(Run.cost_usd, Run.budget_usd).where(Run.id == run_id))
    ).one_or_none()
    if row is None or row[1] is None:
        return None
    return max(0.0, float(row[1]) - float(row[0]))


async def experiment_arms(session: AsyncSession, experiment_id: str) -> list[dict[str, Any]] | None:
    """An A/B experiment's arms (None: no such experiment any more)."""
    query = select(Experiment.arms).where(Experiment.id == experiment_id)
    arms = (await session.execute(query)).scalar_one_or_none()
    return None if arms is None else list(arms)


async def get_run_by_idempotency_key(session: AsyncSession, key: str) -> Run | None:
    return (
        await session.execute(select(Run).where(Run.idempotency_key == key))
    ).scalar_one_or_none()


# `<created_at in µs since the epoch>.<run id>`: every string matching this decodes, so the
# API can declare it and reject anything else with a 422 before it reaches a query.
CURSOR_PATTERN = r"^[0-9]{1,16}\.[0-9A-Za-z-]{1,36}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(run: Run) -> str:
    created = run.created_at
    # SQLite hands back naive datetimes; every timestamp is written in UTC.
    created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
    return f"{(created - _EPOCH) // _MICROSECOND}.{run.id}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for a cursor this service did not issue."""
    if not _CURSOR.fullmatch(cursor):
        raise ValueError("invalid cursor")
    micros, run_id = cursor.split(".", 1)
    return _EPOCH + int(micros) * _MICROSECOND, run_id


async def list_runs(
    session: AsyncSession,
    *,
    status: str | None = None,
    graph: str | None = None,
    thread_id: str | None = None,
    tenant_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    oldest_first: bool = False,
    created_since: datetime | None = None,
    created_until: datetime | None = None,
) -> tuple[list[Run], str | None]:
    """Newest first (or oldest first), keyset-paginated; returns the page and the next cursor."""
    query = select(Run)
    if status:
        query = query.where(Run.status == status)
    if graph:
        query = query.where(Run.graph == graph)
    if thread_id:
        query = query.where(Run.thread_id == thread_id)
    if tenant_id is not None:
        query = query.where(Run.tenant_id == tenant_id)
    if created_since is not None:
        query = query.where(Run.created_at >= created_since)
    if created_until is not None:
        query = query.where(Run.created_at < created_until)
    if cursor:
        created, run_id = decode_cursor(cursor)
        if oldest_first:
            after = or_(Run.created_at > created, and_(Run.created_at == created, Run.id > run_id))
        else:
            after = or_(Run.created_at < created, and_(Run.created_at == created, Run.id < run_id))
        query = query.where(after)
    order = (Run.created_at, Run.id) if oldest_first else (Run.created_at.desc(), Run.id.desc())
    query = query.order_by(*order).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def live_run_counts(session: AsyncSession) -> dict[str, int]:
    """Runs queued and running now (answered from the partial claim indexes)."""
    counts = {"queued": 0, "running": 0}
    for status in counts:
        query = select(func.count()).select_from(Run).where(Run.status == status)
        counts[status] = int((await session.execute(query)).scalar() or 0)
    return counts
