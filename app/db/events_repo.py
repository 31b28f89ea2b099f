"""The append-only run timeline (`run_events`): events to write, reads, and the publishing of
committed events to this process's watchers. Only the run journal (`app/db/journal`) writes
the table; sequence numbers come from `runs.event_seq`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db.models import RunEvent, utcnow


def new_event_uid() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class PendingEvent:
    """An event not yet written; `at` is when it happened, not when it is flushed.

    `uid` makes a retried write exactly-once: a write that failed may still have committed
    (the connection died with the commit's answer in flight), so events put back after a
    failure are `uncertain`, and the next write leaves out those already in `run_events`.
    """

    kind: str
    node: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)
    uid: str = field(default_factory=new_event_uid)
    uncertain: bool = False

    def after_failed_write(self) -> PendingEvent:
        return replace(self, uncertain=True)


async def unwritten(
    session: AsyncSession, run_id: str, events: Sequence[PendingEvent]
) -> list[PendingEvent]:
    """`events` without those an earlier, seemingly failed, write did commit (one query,
    and only when some event comes back from a failed write)."""
    uncertain = [event.uid for event in events if event.uncertain]
    if not uncertain:
        return list(events)
    query = select(RunEvent.uid).where(RunEvent.run_id == run_id, RunEvent.uid.in_(uncertain))
    written = set((await session.execute(query)).scalars())
    return [event for event in events if event.uid not in written]


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
