"""In-process wake-ups: claimable runs for workers, committed events for SSE streams, and
cancel requests for the worker running a run. On Postgres a LISTEN connection feeds it the
same signals from other processes (`app.db.listener`); polling stays only as a safety net.

Signals are sent after the transaction that caused them commits. A signal is a hint to
re-read the database, never data: a duplicate or spurious one costs one query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Notifier:
    """One per process, used from its event loop."""

    def __init__(self) -> None:
        self._claimable = asyncio.Event()
        self._watchers: dict[str, set[asyncio.Event]] = {}
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

    # SSE streams -------------------------------------------------------------------------
    def events_committed(self, run_id: str) -> None:
        for event in self._watchers.get(run_id, ()):
            event.set()

    @contextmanager
    def watch(self, run_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the run gets new events; clear it before each re-read."""
        event = asyncio.Event()
        self._watchers.setdefault(run_id, set()).add(event)
        try:
            yield event
        finally:
            watchers = self._watchers.get(run_id)
            if watchers is not None:
                watchers.discard(event)
                if not watchers:
                    del self._watchers[run_id]

    def wake_everyone(self) -> None:
        """After notifications may have been lost (a LISTEN connection dropped): re-read."""
        self._claimable.set()
        for watchers in self._watchers.values():
            for event in watchers:
                event.set()
