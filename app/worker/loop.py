"""The worker: claims runs while it has free slots and executes each as its own task.

One worker process runs up to `worker_concurrency` runs at once, each under its own lease,
renewed together by one heartbeat. It claims when woken (a run was queued in this process,
or NOTIFY from another), when a slot frees up, and on a slow poll that is only a safety
net (it also sweeps runs whose lease expired: their worker died). About once a minute it
also marks `lost` the chat calls (no run) an API process left in flight when it died, and
folds the dashboard rollups' delta rows (`rollup_repo.compact`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid

from app.db import ledger_repo, rollup_repo
from app.db.journal import ClaimedRun
from app.services.container import Services
from app.worker.cron_scheduler import run_cron_scheduler
from app.worker.heartbeat import Heartbeat
from app.worker.run_executor import DATABASE_ERRORS, execute_run
from app.worker.run_scope import RunScope

log = logging.getLogger(__name__)

ABANDONED_SWEEP_S = 60.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Any number of workers, in any number of processes, can share one database."""

    def __init__(
        self,
        services: Services,
        worker_id: str | None = None,
        *,
        concurrency: int | None = None,
    ) -> None:
        self.services = services
        self.worker_id = worker_id or new_worker_id()
        self.concurrency = concurrency or services.settings.worker_concurrency
        self._active: dict[str, tuple[asyncio.Task[str], RunScope]] = {}
        self._slot_freed = asyncio.Event()
        self._last_sweep = 0.0
        self._last_abandoned_sweep = 0.0
        # A run that must run alone waits: take nothing new until this worker is idle.
        self._making_room = False
        self._handing_back: set[asyncio.Task[None]] = set()
        # Slots held for claims made where runs are queued in this process (`claim_here`).
        self._reserved = 0
        self._stopping = False
        # A claim now could find something (see `_may_find_runs`).
        self._maybe_claimable = True
        services.notifier.on_cancel(self._cancel_requested)

    @property
    def active_runs(self) -> int:
        return len(self._active)

    async def run_once(self) -> str | None:
        """Claim one run and execute it to the end (tests and benchmarks); None when
        nothing was claimable."""
        claimed = await self._claim(1, include_expired=True, solo_ok=True)
        if not claimed:
            return None
        return await self._start(claimed[0])

    async def run_forever(self, stop: asyncio.Event) -> None:
        # Claims start at once, while LiteLLM may still be importing in the background: a
        # replacement worker takes over a dead one's runs without waiting for it, and only a
        # model call that comes before the import ends waits for it.
        log.info("worker %s started (%d runs at once)", self.worker_id, self.concurrency)
        heartbeat = Heartbeat(
            self.services.worker_sessions,
            journal=self.services.journal,
            worker_id=self.worker_id,
            lease_seconds=self.services.settings.lease_seconds,
            scopes=lambda: [scope for _, scope in self._active.values()],
        )
        beating = asyncio.create_task(heartbeat.run(), name="heartbeat")
        self._count_slots()
        crons = asyncio.create_task(run_cron_scheduler(self.services, stop), name="crons")
        notifier = self.services.notifier
        notifier.local_worker = self  # runs queued in this process are claimed as they are
        try:
            await self._claim_loop(stop)
        finally:
            self._stopping = True
            if notifier.local_worker is self:
                notifier.local_worker = None
            await self._drain()
            beating.cancel()
            crons.cancel()
            await asyncio.gather(beating, crons, return_exceptions=True)
        log.info("worker %s stopped", self.worker_id)

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        settings = self.services.settings
        failures = 0
        while not stop.is_set():
            free = self._free_slots()
            claimed_all = False
            sweep = time.monotonic() - self._last_sweep >= settings.poll_seconds
            if free > 0 and (self._may_find_runs() or sweep):
                try:
                    claimed = await self._claim(
                        free, include_expired=sweep, solo_ok=not self._active
                    )
                    if sweep and (self._active or claimed):
                        self._making_room = await self._suspects_waiting()
                    failures = 0
                    # Every free slot filled: more may wait. Fewer: nothing claimable is
                    # left until a wake-up says otherwise.
                    self._maybe_claimable = len(claimed) == free
                except DATABASE_ERRORS as exc:
                    # The database went away (restart, failover): back off and retry.
                    failures += 1
                    log.warning("database unavailable (%s); retrying", exc)
                    claimed = []
                except Exception:
                    # A bug while claiming must not stop the worker.
                    failures += 1
                    log.exception("worker %s: unexpected error while claiming", self.worker_id)
                    claimed = []
                if sweep and failures == 0:
                    self._last_sweep = time.monotonic()
                    await self._sweep_abandoned_calls()
                for run in claimed:
                    self._launch(run)
                claimed_all = len(claimed) == free  # more may be waiting: claim again
            if claimed_all and failures == 0:
                continue
            # Back off while the database is unavailable, up to 10 s (or the poll).
            delay = min(settings.poll_seconds * 2**failures, max(settings.poll_seconds, 10.0))
            await self._wait(stop, delay, full=free <= 0)

    def _may_find_runs(self) -> bool:
        """Whether a claim now could find a run: after a wake-up (a run queued or released
        anywhere, or a finished run unblocking a queued one of its thread) or a claim that
        filled every slot. Where the database does not tell of unblocked runs (SQLite), a
        freed slot is always worth a claim. A wake-up is taken here: one coming during the
        claim that follows makes another."""
        notifier = self.services.notifier
        signal = notifier.claimable_signal()
        if signal.is_set():
            signal.clear()
            self._maybe_claimable = True
        return self._maybe_claimable or not notifier.tells_unblocked

    def _free_slots(self) -> int:
        """Slots to claim into: none beside a solo run, none while making room for one."""
        if any(scope.solo for _, scope in self._active.values()):
            return 0
        if self._making_room:
            if self._active:
                return 0
            self._making_room = False
            self._last_sweep = 0.0  # idle now: the next claim looks for the waiting run
        return self.concurrency - len(self._active) - self._reserved

    # -- claims made where a run is queued, in this process (app.services.claim_here) -----
    def reserve_slot(self) -> bool:
        if self._stopping or self._free_slots() <= 0:
            return False
        self._reserved += 1
        return True

    def release_slot(self) -> None:
        self._reserved -= 1
        self._slot_freed.set()

    def adopt(self, claimed: ClaimedRun) -> None:
        self._reserved -= 1
        self._claimed([claimed])
        if self._stopping:  # shutting down meanwhile: hand it straight back
            self._hand_back_later(self._scope(claimed), "worker shutting down")
            return
        self._launch(claimed)

    async def _suspects_waiting(self) -> bool:
        async with self.services.worker_sessions() as session:
            return await self.services.journal.suspects_waiting(
                session, self.services.settings.solo_after_recoveries
            )

    async def _sweep_abandoned_calls(self) -> None:
        if time.monotonic() - self._last_abandoned_sweep < ABANDONED_SWEEP_S:
            return
        self._last_abandoned_sweep = time.monotonic()
        # Far longer than any call may take: a live process's call is never swept.
        older_than = max(600.0, 10 * self.services.settings.model_timeout_seconds)
        try:
            async with self.services.worker_sessions.begin() as session:
                swept = await ledger_repo.mark_abandoned_calls(session, older_than)
        except DATABASE_ERRORS as exc:
            log.warning("could not sweep abandoned calls: %s", exc)
            return
        if swept:
            log.warning("marked %d chat call(s) lost: in flight for over %.0f s", swept, older_than)
        try:
            async with self.services.worker_sessions.begin() as session:
                await rollup_repo.compact(session)
        except DATABASE_ERRORS as exc:
            log.warning("could not fold the ledger rollups: %s", exc)

    async def _wait(self, stop: asyncio.Event, seconds: float, *, full: bool) -> None:
        """Until stop, a wake-up (unless every slot is busy), a freed slot, or `seconds`.
        A wake-up stays set for the next claim to take (`_may_find_runs`)."""
        waits = [stop.wait(), self._slot_freed.wait()]
        if not full:
            waits.append(self.services.notifier.claimable_signal().wait())
        tasks = [asyncio.ensure_future(wait) for wait in waits]
        try:
            await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            self._slot_freed.clear()

    async def _claim(self, limit: int, *, include_expired: bool, solo_ok: bool) -> list[ClaimedRun]:
        settings = self.services.settings
        sessions = self.services.worker_sessions
        # Without the sweep a claim is one statement (queued runs only).
        async with sessions.begin() if include_expired else sessions.one_statement() as session:
            claimed = await self.services.journal.claim(
                session,
                worker_id=self.worker_id,
                lease_seconds=settings.lease_seconds,
                limit=limit,
                include_expired=include_expired,
                solo_ok=solo_ok,
                solo_after=settings.solo_after_recoveries,
            )
        self._claimed(claimed)
        return claimed

    def _claimed(self, claimed: list[ClaimedRun]) -> None:
        for run in claimed:
            self.services.telemetry.run_claimed(run.epoch, run.created_at)
            log.info(
                "worker %s claimed run %s (attempt %d%s)",
                self.worker_id,
                run.id,
                run.epoch,
                ", alone: its workers died under it before" if run.solo else "",
            )

    def _launch(self, claimed: ClaimedRun) -> None:
        """Start a claimed run as a task; its slot is taken now, before the task runs."""
        scope = self._scope(claimed)
        task = asyncio.create_task(self._execute(claimed, scope), name=f"run-{claimed.id}")
        self._active[claimed.id] = (task, scope)
        task.add_done_callback(self._run_done)
        self._count_slots()

    def _count_slots(self) -> None:
        self.services.telemetry.worker_slots(len(self._active), self.concurrency)

    def _scope(self, claimed: ClaimedRun) -> RunScope:
        return RunScope(
            claimed,
            sessions=self.services.worker_sessions,
            journal=self.services.journal,
            flush_delay=self.services.settings.event_flush_seconds,
        )

    async def _start(self, claimed: ClaimedRun) -> str:
        """Execute a claimed run in the current task (run_once)."""
        scope = self._scope(claimed)
        task = asyncio.current_task()
        assert task is not None
        self._active[claimed.id] = (task, scope)  # type: ignore[assignment]
        return await self._execute(claimed, scope)

    async def _execute(self, claimed: ClaimedRun, scope: RunScope) -> str:
        outcome = "interrupted"
        try:
            outcome = await execute_run(self.services, claimed, scope)
            return outcome
        except DATABASE_ERRORS as exc:
            # Not the run's fault, nor a worker's death: hand it back once the database
            # answers again (a worker resumes it from its checkpoint at once, and no
            # recovery is counted against it); if that takes longer than the lease, the
            # lease lapses and another worker resumes it anyway.
            log.warning("run %s: database unavailable (%s); handing it back", claimed.id, exc)
            self._hand_back_later(scope, "the database failed under its worker")
            return "interrupted"
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker %s: unexpected error in run %s", self.worker_id, claimed.id)
            return "interrupted"
        finally:
            self._active.pop(claimed.id, None)
            self.services.telemetry.run_ended(outcome)
            self._count_slots()

    def _hand_back_later(self, scope: RunScope, reason: str) -> None:
        task = asyncio.create_task(self._hand_back(scope, reason), name=f"hand-back-{scope.run_id}")
        self._handing_back.add(task)
        task.add_done_callback(self._handing_back.discard)

    async def _hand_back(self, scope: RunScope, reason: str) -> None:
        """Release the run, fenced by its epoch, retrying while its lease would last."""
        deadline = time.monotonic() + self.services.settings.lease_seconds
        delay = 0.1
        events = scope.take_events()
        while time.monotonic() < deadline:
            try:
                async with self.services.worker_sessions.begin() as session:
                    released = await self.services.journal.release(
                        session,
                        scope.run_id,
                        epoch=scope.epoch,
                        events=events,
                        reason=reason,
                    )
            except DATABASE_ERRORS:
                events = [event.after_failed_write() for event in events]
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if released:
                self.services.notifier.runs_claimable()
            return

    def _run_done(self, _task: asyncio.Task[str]) -> None:
        self._slot_freed.set()

    def _cancel_requested(self, run_id: str) -> None:
        entry = self._active.get(run_id)
        if entry is not None:
            entry[1].cancelled.set()

    async def _drain(self) -> None:
        """Shutdown: each run stops at its next checkpoint and hands its lease back; a run
        still busy after the grace period is interrupted (its in-flight call is marked
        lost) and is resumed by the next worker once its lease expires."""
        if self._handing_back:
            await asyncio.wait(self._handing_back, timeout=5)
        if not self._active:
            return
        grace = self.services.settings.shutdown_grace_seconds
        log.info(
            "worker %s: %d runs to hand back (grace %.0fs)",
            self.worker_id,
            len(self._active),
            grace,
        )
        for _, scope in self._active.values():
            scope.draining.set()
        tasks = [task for task, _ in self._active.values()]
        _done, pending = await asyncio.wait(tasks, timeout=grace)
        interrupted = [scope for task, scope in self._active.values() if task in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for scope in interrupted:  # stopped mid-node: hand back from the last checkpoint
            with contextlib.suppress(*DATABASE_ERRORS):
                async with self.services.worker_sessions.begin() as session:
                    await self.services.journal.release(
                        session, scope.run_id, epoch=scope.epoch, reason="worker shutting down"
                    )
