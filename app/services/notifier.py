"""In-process wake-ups: claimable runs for workers, committed events for SSE streams, and
cancel requests for the worker running a run. On Postgres a LISTEN connection feeds it the
same signals from other processes (`app.db.listener`); polling stays only as a safety net.

Signals are sent after the transaction that caused them commits. Events committed in this
process are handed to the run's watchers as they are (no read-back); a signal from another
process is a hint to re-read the database.

LangGraph API stream chunks go out before they are written (`publish_live`): to this
process's live watchers at once, and through `remote` (Postgres NOTIFY) to other processes'.
The chunks a worker here published and has not written yet stay in a tail, so a stream that
opens late still gets them; the tail is dropped as they commit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.db.journal.records import ClaimedRun
from app.run_status import TERMINAL
from app.services.stream_ids import id_of


class LocalWorker(Protocol):
    """The worker of this process, offered to its API for claims made where runs are queued
    (`app.services.claim_here`)."""

    worker_id: str

    def reserve_slot(self) -> bool:
        """Hold a free slot for a claim made elsewhere (False: none is free)."""
        ...

    def release_slot(self) -> None:
        """The held slot was not used."""
        ...

    def adopt(self, claimed: ClaimedRun) -> None:
        """Run `claimed` in the held slot (its claim has committed)."""
        ...


class RemotePublisher(Protocol):
    """Sends live chunks to the other processes (`app.db.live_notify.PgLiveSender`)."""

    def send(self, run_id: str, item: dict[str, Any]) -> bool:
        """False when `item` cannot go this way (too big): it must be written soon."""
        ...


@dataclass(eq=False)  # watches are kept in sets, by identity
class RunWatch:
    """One SSE stream's (or waiter's) view of a run: `changed` is set when the run has new
    events; `pushed` holds those committed in this process, as they were written."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    pushed: list[dict[str, Any]] = field(default_factory=list)
    # LangGraph API stream chunks published but maybe not written (only for a `live` watch).
    live: list[dict[str, Any]] | None = None
    # A change signalled without its events (another process's commit, a lost LISTEN
    # connection): only a read of the database shows what changed.
    hinted: bool = False
    # The state the run ended with, left by this process's worker just before its terminal
    # event committed (a waiter answers with it instead of reading the checkpoint back).
    state: dict[str, Any] | None = None

    def take(self) -> list[dict[str, Any]]:
        pushed, self.pushed = self.pushed, []
        return pushed

    def take_live(self) -> list[dict[str, Any]]:
        live, self.live = self.live or [], []
        return live

    def take_hint(self) -> bool:
        hinted, self.hinted = self.hinted, False
        return hinted


class Notifier:
    """One per process, used from its event loop."""

    def __init__(self) -> None:
        self._claimable = asyncio.Event()
        self._watchers: dict[str, set[RunWatch]] = {}
        self._cancel_listeners: list[Callable[[str], None]] = []
        self._tails: dict[str, list[dict[str, Any]]] = {}
        self.remote: RemotePublisher | None = None
        # This process's running worker, if it has one (set by the worker itself).
        self.local_worker: LocalWorker | None = None
        # Whether `runs_claimable` also comes when a finished run unblocks a queued run of
        # its thread (set by the Postgres listener); without it workers claim after every
        # run of their own ends.
        self.tells_unblocked = False
        self._origin = uuid.uuid4().hex  # tells this process's own notifications apart

    @property
    def origin(self) -> str:
        return self._origin

    # Workers ---------------------------------------------------------------------------
    def runs_claimable(self) -> None:
        """A run was queued or released: idle workers should try to claim."""
        self._claimable.set()

    def claimable_signal(self) -> asyncio.Event:
        return self._claimable

    def on_cancel(self, listener: Callable[[str], None]) -> None:
        self._cancel_listeners.append(listener)

    def cancel_requested(self, run_id: str) -> None:
        for listener in self._cancel_listeners:
            listener(run_id)

    # SSE streams and waiters -------------------------------------------------------------
    def events_committed(self, run_id: str, events: Sequence[dict[str, Any]] = ()) -> None:
        if events and run_id in self._tails:
            self._trim_tail(run_id, events)
        for watch in self._watchers.get(run_id, ()):
            watch.pushed.extend(events)
            watch.hinted = watch.hinted or not events
            watch.changed.set()

    # Live stream chunks ------------------------------------------------------------------
    def publish_live(self, run_id: str, item: dict[str, Any]) -> bool:
        """A chunk a worker of this process produced, before it is written: to every live
        watch here, to other processes, and into the run's tail until written. False when
        other processes could not be sent it (their streams wait for it to be written)."""
        self._tails.setdefault(run_id, []).append(item)
        self.live_received(run_id, (item,))
        return self.remote.send(run_id, item) if self.remote is not None else True

    def live_received(self, run_id: str, items: Sequence[dict[str, Any]]) -> None:
        """Chunks for this process's live watches (published here or in another process)."""
        for watch in self._watchers.get(run_id, ()):
            if watch.live is not None:
                watch.live.extend(items)
                watch.changed.set()

    def live_ended(self, run_id: str) -> None:
        """The worker here stopped producing for the run (finished, or its lease is gone):
        what it did not write will never be written."""
        self._tails.pop(run_id, None)

    def _trim_tail(self, run_id: str, events: Sequence[dict[str, Any]]) -> None:
        if any(event["kind"] in TERMINAL for event in events):
            self._tails.pop(run_id, None)
            return
        written = [
            id_of(event["payload"], event["seq"]) for event in events if event["kind"] == "stream"
        ]
        if written:
            newest = max(written)
            tail = self._tails[run_id]
            tail[:] = [item for item in tail if id_of(item, 0) > newest]

    @contextmanager
    def watch(self, run_id: str) -> Iterator[RunWatch]:
        watch = self.open_watch(run_id)
        try:
            yield watch
        finally:
            self.close_watch(run_id, watch)

    def leave_state(self, run_id: str, state: Callable[[], dict[str, Any]] | None) -> None:
        """Hand the state a run is about to end with to its watchers here (`state` is called
        only when one watches); None takes it back (the run did not end after all)."""
        watchers = self._watchers.get(run_id)
        if not watchers:
            return
        left = state() if state is not None else None
        for watch in watchers:
            watch.state = left

    def open_watch(self, run_id: str, *, live: bool = False) -> RunWatch:
        """A watch to close with `close_watch` (for a stream that outlives its handler);
        a `live` one also gets the run's stream chunks before they are written, starting
        with those published here and not written yet."""
        watch = RunWatch(live=list(self._tails.get(run_id, ())) if live else None)
        self._watchers.setdefault(run_id, set()).add(watch)
        return watch

    def close_watch(self, run_id: str, watch: RunWatch) -> None:
        watchers = self._watchers.get(run_id)
        if watchers is not None:
            watchers.discard(watch)
            if not watchers:
                del self._watchers[run_id]

    def wake_everyone(self) -> None:
        """After notifications may have been lost (a LISTEN connection dropped): re-read."""
        self._claimable.set()
        for watchers in self._watchers.values():
            for watch in watchers:
                watch.hinted = True
                watch.changed.set()
