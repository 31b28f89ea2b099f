"""The run journal: the only writer of `runs` and `run_events`.

Every write happens in the caller's transaction (`session`), so a model call's ledger row,
its cost and its event commit together. A worker's writes carry its lease epoch and are
refused (None / False, nothing written) once the lease has moved on. The Postgres and
SQLite journals implement this one contract, are chosen once at start-up
(`journal_for`), and pass one conformance suite (tests/integration/test_journal.py).

Which status may follow which is not the journal's business: callers pass the statuses a
change may start from (`app/services/run_state.py` holds the rules).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.events_repo import PendingEvent, unwritten
from app.db.journal.records import (
    ClaimedRun,
    Guard,
    LeaseState,
    SeqGrant,
    finished_steps,
    insert_events,
    insert_run,
)
from app.db.models import Run, utcnow
from app.run_status import RunStatus


class RunJournal(ABC):
    """Writes of runs and their events. Portable operations are written once here with
    SQLAlchemy; each database overrides what it does faster its own way (claims, and on
    Postgres the fenced appends as one statement each)."""

    # -- the clock leases are measured by ----------------------------------------------------
    @abstractmethod
    def now(self, plus_seconds: float = 0.0) -> ColumnElement[datetime]:
        """The database's idea of now (Postgres: the server's clock; SQLite: this host's)."""

    def fence(self, run_id: str, epoch: int) -> ColumnElement[bool]:
        """The condition every write of a worker for a run carries: its lease is current."""
        return and_(
            Run.id == run_id,
            Run.epoch == epoch,
            Run.status == RunStatus.RUNNING,
            Run.lease_expires_at > self.now(),
        )

    # -- a run's life ---------------------------------------------------------------------------
    async def enqueue(
        self,
        session: AsyncSession,
        run: Run,
        payload: dict[str, Any],
        *,
        guard: Guard | None = None,
    ) -> bool:
        """A new run: its row, status queued, and its `queued` event (sequence 1). With a
        `guard`, only if the guard's statement finds its row (False: nothing queued)."""
        if (
            guard is not None
            and (await session.execute(guard.statement, guard.params)).first() is None
        ):
            return False
        run.status = RunStatus.QUEUED
        run.event_seq = 1
        await insert_run(session, run)
        await insert_events(session, run.id, 1, [PendingEvent("queued", payload=payload)])
        return True

    async def mark_deleted(self, session: AsyncSession, run_id: str) -> None:
        """A finished LangGraph API run leaves its thread's run list (`lg.deleted`); the run,
        its events and its ledger rows stay, so costs and timelines still add up."""
        run = await session.get(Run, run_id, with_for_update=True)
        if run is not None:
            run.lg = {**(run.lg or {}), "deleted": True}

    @abstractmethod
    async def claim(
        self,
        session: AsyncSession,
        *,
        worker_id: str,
        lease_seconds: float,
        limit: int,
        include_expired: bool,
        solo_ok: bool,
        solo_after: int,
    ) -> list[ClaimedRun]:
        """queued (or running with an expired lease) -> running under a new lease, each with
        its `started`/`resumed` event; one run per thread, none of a thread already running.

        A run whose worker vanished `solo_after` times is taken only with `solo_ok` (the
        worker runs nothing else), first and alone (`solo`); if its worker dies during a
        solo claim, the next claim counts the death against it (`crashes`).
        """

    async def append(
        self, session: AsyncSession, run_id: str, *, epoch: int, events: Sequence[PendingEvent]
    ) -> SeqGrant | None:
        """Events of a running run, by its lease holder only (None: the lease moved on).
        With no events it is the fencing check alone (and returns the run's cost and
        budget). Events an earlier, seemingly failed, write did commit are left out."""
        return await self._append(session, run_id, epoch, await unwritten(session, run_id, events))

    async def finish(
        self,
        session: AsyncSession,
        run_id: str,
        to: RunStatus,
        *,
        epoch: int,
        from_statuses: Sequence[RunStatus],
        output: dict[str, Any] | None,
        error: str | None,
        events: Sequence[PendingEvent] = (),
        payload: dict[str, Any] | None = None,
        replay: dict[str, Any] | None = None,
    ) -> bool:
        """The lease holder ends the run as `to`: buffered `events`, then the terminal event
        (with the run's cost), which is always the run's last."""
        events = await unwritten(session, run_id, events)
        values: dict[str, Any] = {
            "status": to,
            "output": output,
            "error": error,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if replay is not None:
            values["replay"] = replay
        return await self._finish(
            session, run_id, to, epoch, from_statuses, values, events, payload or {}
        )

    async def release(
        self,
        session: AsyncSession,
        run_id: str,
        *,
        epoch: int,
        events: Sequence[PendingEvent] = (),
        reason: str,
    ) -> bool:
        """The lease holder gives the run back (shutting down, its database failed): the
        lease ends now, so a worker resumes it at once, and no worker death is counted."""
        events = await unwritten(session, run_id, events)
        released = PendingEvent("released", payload={"reason": reason})
        return await self._release(session, run_id, epoch, [*events, released])

    async def cancel(self, session: AsyncSession, run: Run) -> str:
        """queued -> cancelled at once; running -> asked to stop (at its next node or model
        call). Returns the event written; `run` must be locked by the caller."""
        if run.status == RunStatus.QUEUED:
            values: dict[str, Any] = {
                "status": RunStatus.CANCELLED,
                "error": "cancelled before it started",
                "finished_at": utcnow(),
            }
            kind = "cancelled"
        else:
            values, kind = {"cancel_requested": True}, "cancel_requested"
        grant = await self._reserve(session, run.id, 1, statuses=[run.status], values=values)
        if grant is None:
            return ""
        await insert_events(session, run.id, grant.first_seq, [PendingEvent(kind)])
        for key, value in values.items():
            setattr(run, key, value)
        return kind

    # -- leases -----------------------------------------------------------------------------------
    async def renew_leases(
        self,
        session: AsyncSession,
        *,
        worker_id: str,
        epochs: Mapping[str, int],
        lease_seconds: float,
    ) -> list[LeaseState]:
        """Extend every lease this worker still holds in one statement. A run missing from
        the answer is lost: another worker claimed it, it ended, or its lease expired."""
        if not epochs:
            return []
        held = or_(*(and_(Run.id == run_id, Run.epoch == e) for run_id, e in epochs.items()))
        result = await session.execute(
            update(Run)
            .where(
                held,
                Run.lease_owner == worker_id,
                Run.status == RunStatus.RUNNING,
                Run.lease_expires_at > self.now(),
            )
            .values(lease_expires_at=self.now(lease_seconds))
            .returning(Run.id, Run.cancel_requested)
            .execution_options(synchronize_session=False)
        )
        return [LeaseState(run_id, bool(cancel)) for run_id, cancel in result.all()]

    async def suspects_waiting(self, session: AsyncSession, solo_after: int) -> bool:
        """A run that lost `solo_after` workers waits for one that runs nothing else."""
        recovered = case((Run.lease_owner.is_not(None), 1), else_=0)
        query = (
            select(Run.id)
            .where(
                Run.status == RunStatus.RUNNING,
                Run.lease_expires_at < self.now(),
                Run.recoveries + recovered >= solo_after,
            )
            .limit(1)
        )
        return (await session.execute(query)).first() is not None

    # -- money ------------------------------------------------------------------------------------
    async def hold(self, session: AsyncSession, run_id: str) -> SeqGrant | None:
        """The run's cost, budget and cancel flag, its row locked until commit (a call
        made for a run by someone other than its lease holder)."""
        return await self._reserve(session, run_id, 0)

    async def reserve_cost(self, session: AsyncSession, run_id: str, cost_usd: float) -> None:
        """Add to a run's cost atomically (a call's estimate before it is made)."""
        if cost_usd:
            await session.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(cost_usd=Run.cost_usd + cost_usd)
                .execution_options(synchronize_session=False)
            )

    async def settle_call(
        self,
        session: AsyncSession,
        run_id: str,
        *,
        epoch: int | None,
        cost_delta_usd: float,
        events: Sequence[PendingEvent],
    ) -> bool:
        """A call's real cost replaces its estimate (always: it was paid) and its events
        are written while the run is the caller's (its lease, or running when `epoch` is
        None). False: the lease moved on, the events were not written."""
        events = await unwritten(session, run_id, events)
        owner = self.fence(run_id, epoch) if epoch is not None else Run.status == "running"
        result = await session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                cost_usd=Run.cost_usd + cost_delta_usd,
                event_seq=Run.event_seq + case((owner, len(events)), else_=0),
                steps_done=Run.steps_done + case((owner, finished_steps(events)), else_=0),
            )
            .returning(Run.event_seq, case((owner, True), else_=False))
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        if row is None or not row[1]:
            return False
        await insert_events(session, run_id, int(row[0]) - len(events) + 1, events)
        return True

    async def mark_pruned(self, session: AsyncSession, run_id: str) -> None:
        """The run's checkpoints and bodies were removed (retention)."""
        await session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(payloads_pruned_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    # -- the parts each database writes its own way --------------------------------------------
    async def _append(
        self, session: AsyncSession, run_id: str, epoch: int, events: Sequence[PendingEvent]
    ) -> SeqGrant | None:
        grant = await self._reserve(
            session,
            run_id,
            len(events),
            epoch=epoch,
            statuses=[RunStatus.RUNNING],
            steps=finished_steps(events),
        )
        if grant is not None:
            await insert_events(session, run_id, grant.first_seq, events)
        return grant

    async def _finish(
        self,
        session: AsyncSession,
        run_id: str,
        to: RunStatus,
        epoch: int,
        from_statuses: Sequence[RunStatus],
        values: dict[str, Any],
        events: Sequence[PendingEvent],
        payload: dict[str, Any],
    ) -> bool:
        values = {**values, "finished_at": utcnow()}
        grant = await self._reserve(
            session,
            run_id,
            len(events) + 1,
            epoch=epoch,
            statuses=from_statuses,
            values=values,
            steps=finished_steps(events),
        )
        if grant is None:
            return False
        details = {"error": values["error"], "cost_usd": round(grant.cost_usd, 8), **payload}
        terminal = PendingEvent(to, payload=details)
        await insert_events(session, run_id, grant.first_seq, [*events, terminal])
        return True

    async def _release(
        self, session: AsyncSession, run_id: str, epoch: int, events: Sequence[PendingEvent]
    ) -> bool:
        values = {"lease_owner": None, "lease_expires_at": utcnow()}
        grant = await self._reserve(
            session,
            run_id,
            len(events),
            epoch=epoch,
            statuses=[RunStatus.RUNNING],
            values=values,
            steps=finished_steps(events),
        )
        if grant is None:
            return False
        await insert_events(session, run_id, grant.first_seq, events)
        return True

    async def _reserve(
        self,
        session: AsyncSession,
        run_id: str,
        count: int,
        *,
        epoch: int | None = None,
        statuses: Sequence[str] | None = None,
        values: Mapping[str, Any] | None = None,
        steps: int = 0,
    ) -> SeqGrant | None:
        """Hand out `count` event sequence numbers in an UPDATE of the run row (which also
        locks it until commit), optionally changing other columns. With `epoch`, only the
        current lease holder gets them; with `statuses`, only a run in one of them."""
        conditions: list[ColumnElement[bool]] = [Run.id == run_id]
        values = {**(values or {}), "steps_done": Run.steps_done + steps}
        if epoch is not None:
            conditions.append(self.fence(run_id, epoch))
        if statuses is not None:
            conditions.append(Run.status.in_(list(statuses)))
        result = await session.execute(
            update(Run)
            .where(*conditions)
            .values(event_seq=Run.event_seq + count, **values)
            .returning(Run.event_seq, Run.cost_usd, Run.budget_usd, Run.cancel_requested)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        if row is None:
            return None
        last, cost, budget, cancel = row
        return SeqGrant(int(last) - count + 1, float(cost), budget, bool(cancel))
