"""A run attempt's LangGraph API stream chunks: numbered, sent to clients at once, written
later in batches.

Before, every chunk (each token of a streamed model call) was written to `run_events` in a
transaction of its own before any client could read it. Now the chunk goes to the streams
first: in this process through the `Notifier`, to other processes through Postgres NOTIFY
(`app.db.live_notify`); and it waits in the run's scope to be written with the run's next
write (a model call's ledger row, a node event flush, the final status), at most
`event_flush_seconds` later. A chunk too big for a NOTIFY is written at once instead.

Ids are `<epoch>-<n>` (`app.services.stream_ids`) and are written with the chunk, so a client
resuming after an id reads the same ids back. If the worker dies, the chunks it sent but had
not written yet are lost from the run's history (clients that were connected have them);
the next attempt (epoch + 1) runs the unfinished node again and streams it anew, under ids
after every id of the dead attempt.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.services.notifier import Notifier
from app.services.stream_ids import format_id
from app.worker.lg_options import stream_event
from app.worker.run_scope import RunScope


class LiveStream:
    """One per executed attempt of a LangGraph API run."""

    def __init__(self, notifier: Notifier, scope: RunScope) -> None:
        self._notifier = notifier
        self._scope = scope
        self._count = 0

    def add(self, mode: str, namespace: tuple[str, ...], chunk: Any) -> None:
        """Publish one stream-mode chunk now; it is written with the run's next write."""
        if self._scope.lost.is_set():
            return  # another worker runs it now: its chunks are the run's
        self._count += 1
        event = stream_event(mode, namespace, chunk)
        item = {"id": format_id((self._scope.epoch, self._count)), **event.payload}
        everywhere = self._notifier.publish_live(self._scope.run_id, item)
        self._scope.add(replace(event, payload=item), urgent=not everywhere)

    def event(self, event: dict[str, Any]) -> None:
        """One of LangChain's events (stream mode `events`)."""
        self.add("events", (), event)

    def close(self) -> None:
        """The attempt is over: what it did not write will not be written."""
        self._notifier.live_ended(self._scope.run_id)
