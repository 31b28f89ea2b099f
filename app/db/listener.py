"""Postgres LISTEN: turns NOTIFYs from other processes (sent by triggers, see migration 0003,
and LangGraph API stream chunks, see `app.db.live_notify`) into the process's in-process
`Notifier` signals.

The triggers also notify the process whose write fired them; that process signalled the
change in-process already (with the events themselves), so run, event and live-chunk
notifications sent by its own connections (`own_backends`, server PIDs) are skipped. Cancel
requests are passed on whoever sent them (rare, and idempotent)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg

from app.db import live_notify
from app.db.engine import libpq_url

log = logging.getLogger(__name__)

RUNS_CHANNEL = "routegraph_runs"  # a run became claimable
EVENTS_CHANNEL = "routegraph_events"  # payload: run id with new events
CANCEL_CHANNEL = "routegraph_cancel"  # payload: run id asked to stop
# On RUNS_CHANNEL: a finished run left a queued run of its thread claimable (migration
# 0019). Nothing in-process knows this, so it is passed on from this process's own writes too.
UNBLOCKED = "unblocked"
MAX_BACKOFF_S = 5.0


class Notifier(Protocol):
    """What the listener signals (`app.services.notifier.Notifier`)."""

    def runs_claimable(self) -> None: ...

    def events_committed(self, run_id: str) -> None: ...

    def cancel_requested(self, run_id: str) -> None: ...

    def live_received(self, run_id: str, items: Sequence[dict[str, Any]]) -> None: ...

    @property
    def origin(self) -> str: ...

    def wake_everyone(self) -> None: ...

    tells_unblocked: bool


class PgListener:
    """One LISTEN connection per process; reconnects with backoff and, after a reconnect,
    wakes every waiter (notifications sent while it was down are lost)."""

    def __init__(self, url: str, notifier: Notifier, own_backends: set[int] | None = None) -> None:
        self._conninfo = libpq_url(url)
        self._notifier = notifier
        self._own = own_backends if own_backends is not None else set()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def start(self) -> None:
        self._notifier.tells_unblocked = True
        self._task = asyncio.create_task(self._listen_forever(), name="pg-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen_forever(self) -> None:
        backoff = 0.1
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            except psycopg.OperationalError as exc:
                log.warning("LISTEN connection failed (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            try:
                channels = (RUNS_CHANNEL, EVENTS_CHANNEL, CANCEL_CHANNEL, live_notify.LIVE_CHANNEL)
                for channel in channels:
                    await conn.execute(f"LISTEN {channel}")
                backoff = 0.1
                self.ready.set()
                log.info("listening for run notifications")
                self._notifier.wake_everyone()
                async for note in conn.notifies():
                    self._dispatch(note.channel, note.payload, note.pid)
            except psycopg.OperationalError as exc:
                log.warning("LISTEN connection lost (%s); reconnecting", exc)
            finally:
                self.ready.clear()
                with contextlib.suppress(psycopg.Error):
                    await conn.close()

    def _dispatch(self, channel: str, payload: str, pid: int = 0) -> None:
        unblocked = channel == RUNS_CHANNEL and payload == UNBLOCKED
        if channel != CANCEL_CHANNEL and pid in self._own and not unblocked:
            return  # signalled in-process when it committed
        if channel == EVENTS_CHANNEL:
            self._notifier.events_committed(payload)
        elif channel == RUNS_CHANNEL:
            self._notifier.runs_claimable()
        elif channel == CANCEL_CHANNEL:
            self._notifier.cancel_requested(payload)
        elif channel == live_notify.LIVE_CHANNEL:
            live = live_notify.decode(payload, self._notifier.origin)
            if live is not None:
                self._notifier.live_received(*live)
