"""Queries on the `runs` table: create, read, list, claim with a lease, renew, finish."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Run, utcnow

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "budget_exceeded"})


def new_run_id() -> str:
    return str(uuid.uuid4())


async def get_run(session: AsyncSession, run_id: str) -> Run | None:
    return await session.get(Run, run_id)


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
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Run], str | None]:
    """Newest first, keyset-paginated; returns the page and the next cursor."""
    query = select(Run)
    if status:
        query = query.where(Run.status == status)
    if graph:
        query = query.where(Run.graph == graph)
    if cursor:
        created, run_id = decode_cursor(cursor)
        query = query.where(
            or_(Run.created_at < created, and_(Run.created_at == created, Run.id < run_id))
        )
    query = query.order_by(Run.created_at.desc(), Run.id.desc()).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def claim_next_run(
    session: AsyncSession, *, worker_id: str, lease_seconds: float, now: datetime | None = None
) -> Run | None:
    """Take the next queued run, or a running one whose lease expired, under a new lease.

    Postgres: `FOR UPDATE SKIP LOCKED` lets many workers claim concurrently without
    blocking each other. SQLite: the whole transaction holds the single write lock.
    """
    now = now or utcnow()
    claimable = or_(
        Run.status == "queued",
        and_(Run.status == "running", Run.lease_expires_at < now),
    )
    candidate = (
        select(Run.id)
        .where(claimable)
        .order_by(Run.priority.desc(), Run.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    run_id = (await session.execute(candidate)).scalar_one_or_none()
    if run_id is None:
        return None
    run = await session.get(Run, run_id, populate_existing=True)
    assert run is not None
    run.status = "running"
    run.lease_owner = worker_id
    run.lease_expires_at = now + timedelta(seconds=lease_seconds)
    run.attempt += 1
    if run.started_at is None:
        run.started_at = now
    await session.flush()
    return run


class LeaseStatus(NamedTuple):
    held: bool
    cancel_requested: bool


async def renew_lease(
    session: AsyncSession, *, run_id: str, worker_id: str, lease_seconds: float
) -> LeaseStatus:
    """Extend our lease; `held` is False if another worker took the run or it ended."""
    result = await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.lease_owner == worker_id, Run.status == "running")
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        .returning(Run.cancel_requested)
    )
    row = result.first()
    if row is None:
        return LeaseStatus(held=False, cancel_requested=False)
    return LeaseStatus(held=True, cancel_requested=bool(row[0]))


async def add_cost(session: AsyncSession, run_id: str, cost_usd: float) -> None:
    """Add to a run's running cost atomically (concurrent calls of one run add up)."""
    if cost_usd:
        await session.execute(
            update(Run).where(Run.id == run_id).values(cost_usd=Run.cost_usd + cost_usd)
        )
