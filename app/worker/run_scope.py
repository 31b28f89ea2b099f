"""A claimed run as its worker holds it: lease epoch, stop signals and buffered events.

Node events are not written one transaction each: they wait in the scope and go out with
the run's next write (a model call's ledger transaction, the final status) or, if nothing
else writes for `flush_delay` seconds, in a transaction of their own. Every write for the
run happens under `lock` (so its events keep their order) and is fenced by `epoch`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import sqlalchemy.exc

from app.db.engine import Sessions
from app.db.events_repo import PendingEvent
from app.db.journal import ClaimedRun, RunJournal
from app.gateway.errors import LeaseLost, RunCancelled

log = logging.getLogger(__name__)


class RunScope:
    """Implements the gateway's `RunFence` for one claimed run."""

    def __init__(
        self,
        claimed: ClaimedRun,
        *,
        sessions: Sessions,
        journal: RunJournal,
        flush_delay: float = 0.05,
    ) -> None:
        self.run_id = claimed.id
        self.epoch = claimed.epoch
        self.solo = claimed.solo
        self.graph: str | None = claimed.graph
        self.lock = asyncio.Lock()
        self.lost = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.draining = asyncio.Event()
        if claimed.cancel_requested:
            self.cancelled.set()
        self._sessions = sessions
        self._journal = journal
        self._flush_delay = flush_delay
        self._pending: list[PendingEvent] = []
        self._urgent = False
        self._timer: asyncio.TimerHandle | None = None
        self._flusher: asyncio.Task[None] | None = None

    # RunFence -----------------------------------------------------------------------------
    def check_usable(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"run {self.run_id}: lease epoch {self.epoch} is no longer ours")
        if self.cancelled.is_set():
            raise RunCancelled(f"run {self.run_id} was cancelled")

    def take_events(self) -> list[PendingEvent]:
        events, self._pending = self._pending, []
        self._urgent = False
        return events

    def put_back(self, events: Sequence[PendingEvent]) -> None:
        """Events of a write that failed, to go out again with the next one; that write
        may have committed after all, so the next one checks which are already written."""
        if events:
            self._pending[:0] = [event.after_failed_write() for event in events]
            self._schedule()

    def mark_lost(self) -> None:
        if not self.lost.is_set():
            log.warning("run %s: lease epoch %d moved on; stopping it", self.run_id, self.epoch)
        self.lost.set()
        self._pending.clear()

    # Events ---------------------------------------------------------------------------------
    def add(self, event: PendingEvent, *, urgent: bool = False) -> None:
        """Buffer an event; `urgent` (a streamed token) goes out with the next flush, which
        starts at once (tokens that arrive meanwhile follow in the one after)."""
        if self.lost.is_set():
            return
        self._pending.append(event)
        self._urgent = self._urgent or urgent
        self._schedule(0.0 if urgent else self._flush_delay)

    def _schedule(self, delay: float | None = None) -> None:
        delay = self._flush_delay if delay is None else delay
        if self._flusher is not None:
            return
        if self._timer is not None and delay < self._flush_delay:
            self._timer.cancel()
            self._timer = None
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self._timer = None
        self._flusher = asyncio.create_task(self._flush_soon(), name=f"flush-{self.run_id}")

    async def _flush_soon(self) -> None:
        try:
            await self.flush()
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
            log.warning("run %s: could not write events yet (%s)", self.run_id, exc)
        except LeaseLost:
            pass
        finally:
            self._flusher = None
            if self._pending and not self.lost.is_set():
                self._schedule(0.0 if self._urgent else None)

    async def flush(self) -> None:
        """Write the buffered events now, fenced (raises LeaseLost when the lease moved on)."""
        async with self.lock:
            events = self.take_events()
            if not events:
                return
            try:
                async with self._sessions.one_statement() as session:
                    grant = await self._journal.append(
                        session, self.run_id, epoch=self.epoch, events=events
                    )
            except BaseException:
                self.put_back(events)
                raise
        if grant is None:
            self.mark_lost()
            raise LeaseLost(f"run {self.run_id}: lease epoch {self.epoch} moved on")

    async def close(self) -> None:
        """Stop the flush timer (the final write takes what is left)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flusher is not None and self._flusher is not asyncio.current_task():
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
