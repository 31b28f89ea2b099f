"""LangGraph checkpointers on the service's own database, fenced by the worker's lease.

The official savers do the work; the subclasses only make each checkpoint write check, in
its own transaction, that the lease of the run being executed (`current_lease`) is still
the current one. A worker that stalled past its lease therefore cannot write a checkpoint
after another worker took the run over: the write fails with `LeaseLost` and nothing of
it is stored. Reads and writes outside a run (no lease set) are not fenced.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
)
from langgraph.checkpoint.postgres import _ainternal
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from app.db.engine import is_sqlite, libpq_url, sqlite_path
from app.db.fencing import SQLSTATE_LEASE_LOST, LeaseLost, LeaseToken, current_lease
from app.db.models import utcnow

SQLITE_FENCE = (
    "SELECT 1 FROM runs WHERE id = ? AND attempt = ? AND status = 'running' "
    "AND lease_expires_at > ?"
)


def _sqlite_timestamp() -> str:
    """`utcnow()` as SQLAlchemy stores DateTime values in SQLite (comparable as text)."""
    return utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")


class FencedPostgresSaver(AsyncPostgresSaver):
    """Postgres: each write is one pipeline that starts with `routegraph_assert_lease()`.
    Statements between two pipeline syncs form one implicit transaction, so when the
    assertion raises (the lease moved on) the server skips the rest of the write and
    nothing of it is stored; no BEGIN/COMMIT round trips are needed.

    The stock saver serialises every operation on one asyncio lock, which only a single
    shared connection needs; with a pool, concurrent runs get their own connections.
    """

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[Any]:
        shared = not isinstance(self.conn, AsyncConnectionPool)
        lease = current_lease.get() if pipeline else None
        try:
            async with (
                self.lock if shared else contextlib.nullcontext(),
                _ainternal.get_connection(self.conn) as conn,
            ):
                if not pipeline:
                    async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                        yield cur
                    return
                async with (
                    conn.pipeline() if self.supports_pipeline else conn.transaction(),
                    conn.cursor(binary=True, row_factory=dict_row) as cur,
                ):
                    if lease is not None:
                        await cur.execute(
                            "SELECT routegraph_assert_lease(%s, %s)", (lease.run_id, lease.epoch)
                        )
                    yield cur
        except psycopg.Error as exc:
            if exc.sqlstate == SQLSTATE_LEASE_LOST:
                raise LeaseLost(str(exc)) from exc
            raise


class FencedSqliteSaver(AsyncSqliteSaver):
    """SQLite: the write runs in a BEGIN IMMEDIATE transaction that first checks the lease.

    All writes of this connection go through `_write_lock`, so no other coroutine's write
    can join (or be rolled back with) a fenced transaction.
    """

    def __init__(self, conn: aiosqlite.Connection, write_lock: asyncio.Lock | None = None) -> None:
        super().__init__(conn)
        # The process-wide SQLite write lock (app.db.engine), so checkpoint writes and the
        # service's own writes take turns instead of meeting in SQLite's busy handler.
        self._write_lock = write_lock or asyncio.Lock()

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        async with self._write_lock:
            await self._begin_fenced(current_lease.get())
            try:
                return await super().aput(config, checkpoint, metadata, new_versions)
            finally:
                await self._end()

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        async with self._write_lock:
            await self._begin_fenced(current_lease.get())
            try:
                await super().aput_writes(config, writes, task_id, task_path)
            finally:
                await self._end()

    async def _begin_fenced(self, lease: LeaseToken | None) -> None:
        if lease is None:
            return
        await self.setup()
        async with self.lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            async with self.conn.execute(
                SQLITE_FENCE, (lease.run_id, lease.epoch, _sqlite_timestamp())
            ) as cursor:
                held = await cursor.fetchone()
            if held is None:
                await self.conn.rollback()
                raise LeaseLost(f"run {lease.run_id}: the lease (epoch {lease.epoch}) moved on")

    async def _end(self) -> None:
        # The saver commits its own write; anything left open (an error) is rolled back.
        if self.conn.in_transaction:
            async with self.lock:
                await self.conn.rollback()


def setup_checkpoint_tables(url: str) -> None:
    """Create or upgrade the checkpointer tables with the official savers' setup."""
    if is_sqlite(url):
        from langgraph.checkpoint.sqlite import SqliteSaver

        sqlite_conn = sqlite3.connect(sqlite_path(url), check_same_thread=False)
        try:
            SqliteSaver(sqlite_conn).setup()
        finally:
            sqlite_conn.close()
        return

    from langgraph.checkpoint.postgres import PostgresSaver

    with psycopg.connect(libpq_url(url), autocommit=True, row_factory=dict_row) as conn:
        PostgresSaver(conn).setup()  # type: ignore[arg-type]


@asynccontextmanager
async def open_checkpointer(
    url: str,
    *,
    busy_timeout_ms: int = 10_000,
    pool_size: int = 5,
    sqlite_write_lock: asyncio.Lock | None = None,
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """A fenced async saver for the lifetime of a worker or API process."""
    if is_sqlite(url):
        async with aiosqlite.connect(sqlite_path(url)) as conn:
            await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            yield FencedSqliteSaver(conn, sqlite_write_lock)
        return

    async with AsyncConnectionPool[psycopg.AsyncConnection[DictRow]](
        libpq_url(url),
        min_size=1,
        max_size=pool_size,
        open=False,
        # No check before lending (a round trip per write): after a database restart a dead
        # connection fails one write, the pool drops it, and that run resumes from its
        # last checkpoint (the worker treats database errors as interruptions).
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    ) as pool:
        yield FencedPostgresSaver(pool)
