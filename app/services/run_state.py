"""Which status may follow which: the rules every change of a run's status goes through.

The run journal (`app/db/journal`) writes the change and its event in one transaction;
this module decides what is allowed and asks the journal for exactly that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.events_repo import PendingEvent
from app.db.journal import RunJournal
from app.db.models import Run
from app.run_status import RunStatus, is_terminal

__all__ = ["ALLOWED", "IllegalTransition", "allowed_from", "cancel", "finish", "is_terminal"]

ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED}),
    # running -> running: a reclaim after the lease expired, or a release.
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.RUNNING,
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
            RunStatus.CANCELLED,
            RunStatus.BUDGET_EXCEEDED,
        }
    ),
}


class IllegalTransition(RuntimeError):
    pass


def allowed_from(to: RunStatus) -> list[RunStatus]:
    """The statuses a run may be in to move to `to`."""
    sources = [status for status, targets in ALLOWED.items() if to in targets]
    if not sources:
        raise IllegalTransition(f"no status may move to {to!r}")
    return sources


async def finish(
    journal: RunJournal,
    session: AsyncSession,
    run_id: str,
    to: str,
    *,
    epoch: int,
    output: dict[str, Any] | None,
    error: str | None,
    events: Sequence[PendingEvent] = (),
    replay: dict[str, Any] | None = None,
) -> bool:
    """running -> a terminal status, by the lease holder only (False: refused, nothing
    written); `events` are written before the terminal event, always the run's last."""
    status = RunStatus(to)
    if not is_terminal(status):
        raise IllegalTransition(f"finish needs a terminal status, not {to!r}")
    return await journal.finish(
        session,
        run_id,
        status,
        epoch=epoch,
        from_statuses=allowed_from(status),
        output=output,
        error=error,
        events=events,
        replay=replay,
    )


async def cancel(journal: RunJournal, session: AsyncSession, run: Run) -> str:
    """queued -> cancelled at once; a running run is asked to stop. Returns the event
    written. `run` must be locked by the caller."""
    if is_terminal(run.status):
        raise IllegalTransition(f"run {run.id} already ended as {run.status}")
    kind = await journal.cancel(session, run)
    if not kind:
        raise IllegalTransition(f"run {run.id} changed status while being cancelled")
    return kind
