"""The one place a run's status changes: each change writes its event in the same transaction.

Every change is one conditional UPDATE of the run row (the allowed "from" states, and for
a worker its lease epoch) that also hands out the event sequence numbers, followed by the
INSERT of the events, in the caller's transaction. A refused change (the run moved on, or
the worker's lease did) writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import pg_writes, runs_repo, sqlite_writes
from app.db.events_repo import PendingEvent, insert_events, unwritten
from app.db.models import Run, utcnow
from app.db.runs_repo import TERMINAL_STATUSES, ClaimedRun

ALLOWED: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "cancelled"}),
    # running -> running: a reclaim after the lease expired, or a release on shutdown.
    "running": frozenset({"running", "succeeded", "failed", "cancelled", "budget_exceeded"}),
}


class IllegalTransition(RuntimeError):
    pass


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def allowed_from(to: str) -> list[str]:
    """The statuses a run may be in to move to `to`."""
    sources = [status for status, targets in ALLOWED.items() if to in targets]
    if not sources:
        raise IllegalTransition(f"no status may move to {to!r}")
    return sources


async def enqueue(session: AsyncSession, run: Run, payload: dict[str, Any]) -> None:
    """A new run: its row (status queued) and its `queued` event, sequence 1."""
    run.status = "queued"
    run.event_seq = 1
    session.add(run)
    await session.flush()
    await insert_events(session, run.id, 1, [PendingEvent("queued", payload=payload)])


async def claim(
    session: AsyncSession,
    *,
    worker_id: str,
    lease_seconds: float,
    limit: int,
    include_expired: bool,
    solo_ok: bool = False,
    solo_after: int = 2,
) -> list[ClaimedRun]:
    """queued (or running with an expired lease) -> running under this worker's new lease,
    each with its `started` (first attempt) or `resumed` event.

    A run whose worker vanished `solo_after` times is only taken by a worker that runs
    nothing else (`solo_ok`), and alone: if that worker dies too, the run is to blame
    (its `crashes` count, which the executor bounds); runs that merely shared a worker
    with it are never failed for it.
    """
    if _postgres(session):
        claimed: list[ClaimedRun] = []

        async def take(statement: Any, count: int) -> list[ClaimedRun]:
            return await pg_writes.claim(
                session,
                statement,
                worker_id=worker_id,
                lease_seconds=lease_seconds,
                limit=count,
                solo_after=solo_after,
            )

        if include_expired and solo_ok:
            claimed = await take(pg_writes.CLAIM_SUSPECT, 1)
            if claimed:
                return claimed
        if include_expired:
            claimed = await take(pg_writes.CLAIM_EXPIRED, limit)
        if len(claimed) < limit:
            claimed += await take(pg_writes.CLAIM_QUEUED, limit - len(claimed))
        return claimed
    return await sqlite_writes.claim(
        session,
        worker_id=worker_id,
        lease_seconds=lease_seconds,
        limit=limit,
        include_expired=include_expired,
        solo_ok=solo_ok,
        solo_after=solo_after,
    )


async def suspects_waiting(session: AsyncSession, solo_after: int) -> bool:
    """Whether a run that must run alone waits for a worker with nothing else to do."""
    return await runs_repo.suspects_waiting(session, solo_after)


async def finish(
    session: AsyncSession,
    run_id: str,
    to: str,
    *,
    epoch: int,
    output: dict[str, Any] | None,
    error: str | None,
    events: Sequence[PendingEvent] = (),
    payload: dict[str, Any] | None = None,
) -> bool:
    """running -> a terminal status, by the lease holder only; `events` (buffered by the
    worker) are written before the terminal event, which is always the run's last."""
    if not is_terminal(to):
        raise IllegalTransition(f"finish needs a terminal status, not {to!r}")
    events = await unwritten(session, run_id, events)
    if _postgres(session):
        terminal = PendingEvent(to, payload={"error": error, **(payload or {})})
        grant = await pg_writes.append(
            session,
            pg_writes.FINISH_FENCED,
            run_id,
            [*events, terminal],
            epoch=epoch,
            statuses=allowed_from(to),
            cost_in_last=True,
            to=to,
            output=output,
            error=error,
        )
        return grant is not None
    values: dict[str, Any] = {
        "status": to,
        "output": output,
        "error": error,
        "finished_at": utcnow(),
        "lease_owner": None,
        "lease_expires_at": None,
    }
    grant = await runs_repo.reserve_event_seqs(
        session, run_id, len(events) + 1, epoch=epoch, statuses=allowed_from(to), values=values
    )
    if grant is None:
        return False
    details = {"error": error, "cost_usd": round(grant.cost_usd, 8), **(payload or {})}
    terminal = PendingEvent(to, payload=details)
    await insert_events(session, run_id, grant.first_seq, [*events, terminal])
    return True


async def release(
    session: AsyncSession,
    run_id: str,
    *,
    epoch: int,
    events: Sequence[PendingEvent] = (),
    reason: str = "worker shutting down",
) -> bool:
    """A worker gives a running run back (shutting down, or the database failed under
    it): its lease ends now, so the next worker resumes it from its last checkpoint at
    once, and no worker death is counted against it."""
    released = PendingEvent("released", payload={"reason": reason})
    events = await unwritten(session, run_id, events)
    if _postgres(session):
        grant = await pg_writes.append(
            session, pg_writes.RELEASE_FENCED, run_id, [*events, released], epoch=epoch
        )
        return grant is not None
    values = {"lease_owner": None, "lease_expires_at": utcnow()}
    grant = await runs_repo.reserve_event_seqs(
        session, run_id, len(events) + 1, epoch=epoch, statuses=["running"], values=values
    )
    if grant is None:
        return False
    await insert_events(session, run_id, grant.first_seq, [*events, released])
    return True


async def cancel(session: AsyncSession, run: Run) -> str:
    """queued -> cancelled at once; a running run is asked to stop (it does at its next node
    or model call). Returns the event written. `run` must be locked by the caller."""
    if is_terminal(run.status):
        raise IllegalTransition(f"run {run.id} already ended as {run.status}")
    if run.status == "queued":
        values: dict[str, Any] = {
            "status": "cancelled",
            "error": "cancelled before it started",
            "finished_at": utcnow(),
        }
        kind = "cancelled"
    else:
        values, kind = {"cancel_requested": True}, "cancel_requested"
    grant = await runs_repo.reserve_event_seqs(
        session, run.id, 1, statuses=[run.status], values=values
    )
    if grant is None:
        raise IllegalTransition(f"run {run.id} changed status while being cancelled")
    await insert_events(session, run.id, grant.first_seq, [PendingEvent(kind)])
    for key, value in values.items():
        setattr(run, key, value)
    return kind
