"""The append-only run timeline (`run_events`); sequence numbers come from `runs.event_seq`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    grant = await reserve_event_seqs(
        session, run_id, len(events), epoch=epoch, statuses=["running"]
    )
    if grant is not None:
        await insert_events(session, run_id, grant.first_seq, events)
    return grant
