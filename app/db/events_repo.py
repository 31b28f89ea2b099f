"""The append-only run timeline (`run_events`); sequence numbers come from `runs.event_seq`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db.models import RunEvent, utcnow
from app.db.runs_repo import SeqGrant, reserve_event_seqs


@dataclass(frozen=True)
class PendingEvent:
    """An event not yet written; `at` is when it happened, not when it is flushed."""

    kind: str
    node: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)


async def insert_events(
    session: AsyncSession, run_id: str, first_seq: int, events: Sequence[PendingEvent]
) -> None:
    """Insert events numbered from `first_seq` (reserved with `runs_repo.reserve_event_seqs`
    in the same transaction)."""
    if not events:
        return
    rows = [
        {
            "run_id": run_id,
            "seq": first_seq + index,
            "at": event.at,
            "kind": event.kind,
            "node": event.node,
            "payload": event.payload,
        }
        for index, event in enumerate(events)
    ]
    await session.execute(insert(RunEvent), rows)
    remember_committed(session, run_id, rows)


def remember_committed(session: AsyncSession, run_id: str, rows: list[dict[str, Any]]) -> None:
    """Events this transaction wrote: published to this process's watchers when (and only
    if) it commits."""
    session.info.setdefault(COMMITTED_EVENTS, []).append((run_id, rows))


COMMITTED_EVENTS = "routegraph_events"
PUBLISH = "routegraph_publish"  # session.info key: callable(run_id, [event json])

Publisher = Callable[[str, list[dict[str, Any]]], None]


def _publish_committed(session: Session) -> None:
    rows_by_run = session.info.pop(COMMITTED_EVENTS, None)
    publish = session.info.get(PUBLISH)
    if rows_by_run and publish is not None:
        for run_id, rows in rows_by_run:
            publish(run_id, [event_json(row) for row in rows])


def _discard_uncommitted(session: Session, *_args: Any) -> None:
    session.info.pop(COMMITTED_EVENTS, None)


def install_event_publisher() -> None:
    """Sessions made with `info={PUBLISH: fn}` hand their committed events to `fn`."""
    if not event.contains(Session, "after_commit", _publish_committed):
        event.listen(Session, "after_commit", _publish_committed)
        event.listen(Session, "after_rollback", _discard_uncommitted)


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    """An event as the SSE stream sends it (timestamps in UTC, with their offset)."""
    at = row["at"]
    if at.tzinfo is None:  # SQLite hands datetimes back without their zone
        at = at.replace(tzinfo=UTC)
    return {
        "seq": row["seq"],
        "at": at.isoformat(),
        "kind": row["kind"],
        "node": row["node"],
        "payload": row["payload"],
    }


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


async def append_fenced(
    session: AsyncSession, run_id: str, *, epoch: int, events: Sequence[PendingEvent]
) -> SeqGrant | None:
    """Events of a running run, written only by its lease holder (None: the lease moved on).
    With no events it is the fencing check alone (and returns the run's cost and budget)."""
    if session.get_bind().dialect.name == "postgresql":
        from app.db import pg_writes

        return await pg_writes.append(session, pg_writes.APPEND_FENCED, run_id, events, epoch=epoch)
    grant = await reserve_event_seqs(
        session, run_id, len(events), epoch=epoch, statuses=["running"]
    )
    if grant is not None:
        await insert_events(session, run_id, grant.first_seq, events)
    return grant
