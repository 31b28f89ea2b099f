"""In-process wake-ups: claimable runs for workers, committed events for SSE streams, and
cancel requests for the worker running a run. On Postgres a LISTEN connection feeds it the
same signals from other processes (`app.db.listener`); polling stays only as a safety net.

Signals are sent after the transaction that caused them commits. Events committed in this
process are handed to the run's watchers as they are (no read-back); a signal from another
process is a hint to re-read the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)  # watches are kept in sets, by identity
class RunWatch:
    """One SSE stream's (or waiter's) view of a run: `changed` is set when the run has new
    events; `pushed` holds those committed in this process, as they were written."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    pushed: list[dict[str, Any]] = field(default_factory=list)
    # A change signalled without its events (another process's commit, a lost LISTEN
    # connection): only a read of the database shows what changed.
    hinted: bool = False

    def take(self) -> list[dict[str, Any]]:
        pushed, self.pushed = self.pushed, []
        return pushed

    def take_hint(self) -> bool:
        hinted, self.hinted = self.hinted, False
        return hinted


class Notifier:
    """One per process, used from its event loop."""

    def __init__(self) -> None:
        self._claimable = asyncio.Event()
        self._watchers: dict[str, set[RunWatch]] = {}
        self._cancel_listeners: list[Callable[[str], None]] = []

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
        for watch in self._watchers.get(run_id, ()):
            watch.pushed.extend(events)
            watch.hinted = watch.hinted or not events
            watch.changed.set()

    @contextmanager
    def watch(self, run_id: str) -> Iterator[RunWatch]:
        watch = self.open_watch(run_id)
        try:
            yield watch
        finally:
            self.close_watch(run_id, watch)

    def open_watch(self, run_id: str) -> RunWatch:
        """A watch to close with `close_watch` (for a stream that outlives its handler)."""
        watch = RunWatch()
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
