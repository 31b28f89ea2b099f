"""Queries on the `runs` table: read, list, claim under a lease, renew leases, fence writes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Run, utcnow
from app.db.tenant_scope import checkpoint_thread

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "budget_exceeded"})


def new_run_id() -> str:
    return str(uuid.uuid4())


def db_now(session: AsyncSession, plus_seconds: float = 0.0) -> ColumnElement[datetime]:
    """The clock leases are measured by: the database server's on Postgres (workers on other
    hosts need not agree on the time), this machine's on SQLite (one file, one host)."""
    if session.get_bind().dialect.name == "postgresql":
        now: ColumnElement[datetime] = func.statement_timestamp()
        return now + timedelta(seconds=plus_seconds) if plus_seconds else now
    return literal(utcnow() + timedelta(seconds=plus_seconds), DateTime(timezone=True))


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
    thread_id: str | None = None,
    tenant_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    oldest_first: bool = False,
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


@dataclass(frozen=True)
class ClaimedRun:
    """What a worker needs of a run it just claimed; `attempt` is its lease epoch."""

    id: str
    thread_id: str
    graph: str
    version: int
    input: dict[str, Any]
    attempt: int
    event_seq: int
    budget_usd: float | None
    cancel_requested: bool
    tenant_id: str = "default"
    # Worker deaths blamed on the run; `solo`: this claim runs alone on its worker.
    crashes: int = 0
    solo: bool = False

    @property
    def checkpoint_thread(self) -> str:
        """The thread id its checkpoints are kept under (its tenant's own)."""
        return checkpoint_thread(self.tenant_id, self.thread_id)


_CLAIMED_COLUMNS = (
    Run.id,
    Run.thread_id,
    Run.graph,
    Run.version,
    Run.input,
    Run.attempt,
    Run.event_seq,
    Run.budget_usd,
    Run.cancel_requested,
    Run.tenant_id,
)


@dataclass(frozen=True)
class LeaseState:
    run_id: str
    cancel_requested: bool


async def renew_leases(
    session: AsyncSession,
    *,
    worker_id: str,
    epochs: Mapping[str, int],
    lease_seconds: float,
) -> list[LeaseState]:
    """Extend every lease this worker still holds in one statement. A run missing from the
    result is lost: another worker claimed it, it ended, or its lease already expired."""
    if not epochs:
        return []
    now = db_now(session)
    held = or_(*(and_(Run.id == run_id, Run.attempt == epoch) for run_id, epoch in epochs.items()))
    result = await session.execute(
        update(Run)
        .where(
            held,
            Run.lease_owner == worker_id,
            Run.status == "running",
            Run.lease_expires_at > now,
        )
        .values(lease_expires_at=db_now(session, lease_seconds))
        .returning(Run.id, Run.cancel_requested)
        .execution_options(synchronize_session=False)
    )
    return [LeaseState(run_id, bool(cancel)) for run_id, cancel in result.all()]


def fenced(session: AsyncSession, run_id: str, epoch: int) -> ColumnElement[bool]:
    """The condition every write of a worker for a run carries: its lease is still current."""
    return and_(
        Run.id == run_id,
        Run.attempt == epoch,
        Run.status == "running",
        Run.lease_expires_at > db_now(session),
    )


@dataclass(frozen=True)
class SeqGrant:
    """Event sequence numbers handed out by an update of the run row, and what the row held."""

    first_seq: int
    cost_usd: float
    budget_usd: float | None
    cancel_requested: bool


async def reserve_event_seqs(
    session: AsyncSession,
    run_id: str,
    count: int,
    *,
    epoch: int | None = None,
    statuses: Sequence[str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> SeqGrant | None:
    """Hand out `count` event sequence numbers in an UPDATE of the run row (which also locks
    it until commit), optionally changing other columns. With `epoch`, only the current lease
    holder gets them; with `statuses`, only a run in one of them. None: refused."""
    conditions: list[ColumnElement[bool]] = [Run.id == run_id]
    if epoch is not None:
        conditions.append(fenced(session, run_id, epoch))
    if statuses is not None:
        conditions.append(Run.status.in_(statuses))
    result = await session.execute(
        update(Run)
        .where(*conditions)
        .values(event_seq=Run.event_seq + count, **(values or {}))
        .returning(Run.event_seq, Run.cost_usd, Run.budget_usd, Run.cancel_requested)
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    if row is None:
        return None
    last, cost, budget, cancel = row
    return SeqGrant(int(last) - count + 1, float(cost), budget, bool(cancel))


async def add_cost(session: AsyncSession, run_id: str, cost_usd: float) -> None:
    """Add to a run's running cost atomically (concurrent calls of one run add up)."""
    if cost_usd:
        await session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(cost_usd=Run.cost_usd + cost_usd)
            .execution_options(synchronize_session=False)
        )


async def suspects_waiting(session: AsyncSession, solo_after: int) -> bool:
    """An expired run that lost `solo_after` workers already (it must run alone)."""
    recovered = case((Run.lease_owner.is_not(None), 1), else_=0)
    query = (
        select(Run.id)
        .where(
            Run.status == "running",
            Run.lease_expires_at < utcnow(),
            Run.recoveries + recovered >= solo_after,
        )
        .limit(1)
    )
    return (await session.execute(query)).first() is not None
