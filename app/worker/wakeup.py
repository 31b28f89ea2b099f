"""Wakes idle workers when a run is queued: LISTEN/NOTIFY on Postgres, polling on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import psycopg

from app.db.engine import is_sqlite, libpq_url
from app.db.notify import RUNS_CHANNEL

log = logging.getLogger(__name__)


class Wakeup(Protocol):
    async def wait(self, seconds: float) -> None: ...

    async def close(self) -> None: ...


class PollWakeup:
    """SQLite: nothing to listen to; sleep for the poll interval."""

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        return None


class ListenWakeup:
    """Postgres: returns as soon as a run is queued, else after `seconds` (polling stays the
    safety net for notifications lost while the listening connection was down)."""

    def __init__(self, url: str) -> None:
        self._conninfo = libpq_url(url)
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def wait(self, seconds: float) -> None:
        try:
            conn = await self._connection()
            async for _ in conn.notifies(timeout=seconds, stop_after=1):
                return
        except psycopg.OperationalError as exc:
            log.warning("LISTEN connection lost (%s); polling until it is back", exc)
            await self.close()
            await asyncio.sleep(seconds)

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            await self._conn.execute(f"LISTEN {RUNS_CHANNEL}")
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None


def wakeup_for(url: str) -> Wakeup:
    return PollWakeup() if is_sqlite(url) else ListenWakeup(url)
