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
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import aiosqlite
import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_metadata,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres import _ainternal
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from app.db.checkpoint_batches import LeaseBatches, RecordingCursor, Statement
from app.db.engine import is_sqlite, sqlite_path
from app.db.fencing import SQLSTATE_LEASE_LOST, LeaseLost, LeaseToken, current_lease
from app.db.journal.sqlite import FENCE_SQL
from app.db.langgraph_connections import postgres_pool, run_setup
from app.db.models import utcnow
from app.db.timestamps import sqlite_time

# True inside `writes_behind`: the current lease's checkpoint writes do not wait to be stored.
_writing_behind: ContextVar[bool] = ContextVar("routegraph_checkpoints_behind", default=False)


class FencedPostgresSaver(AsyncPostgresSaver):
    """Postgres: each write is one pipeline that starts with `routegraph_assert_lease()`.
    Statements between two pipeline syncs form one implicit transaction, so when the
    assertion raises (the lease moved on) the server skips the rest of the write and
    nothing of it is stored; no BEGIN/COMMIT round trips are needed. A run's writes that
    are pending together share one such pipeline (`app.db.checkpoint_batches`).

    The stock saver serialises every operation on one asyncio lock, which only a single
    shared connection needs; with a pool, concurrent runs get their own connections. It
    also hands the serialisation of each task's writes and of a checkpoint's blobs to a
    thread (`asyncio.to_thread`): for a node's few small values the hand-off costs more
    CPU than the work, five times or more per run of a 3-node graph, so here they are
    serialised on the event loop (as the SQLite saver below does). `aput` is the stock
    one otherwise: the same rows, the same SQL.

    Inside `writes_behind` a run's writes return once queued (see `LeaseBatches`); its
    reads first wait for them, so a run still reads what it wrote.
    """

    def __init__(self, conn: AsyncConnectionPool[Any]) -> None:
        super().__init__(conn)  # type: ignore[arg-type]
        self._batches = LeaseBatches(self._send_batch)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        configurable = config["configurable"]
        thread_id = configurable["thread_id"]
        checkpoint_ns = configurable["checkpoint_ns"]
        copy = checkpoint.copy()
        copy["channel_values"] = copy["channel_values"].copy()
        # Primitive values stay inline in the checkpoint row, the others become blobs.
        blob_values = {}
        for key, value in checkpoint["channel_values"].items():
            if isinstance(value, _DeltaSnapshot):
                blob_values[key] = copy["channel_values"].pop(key)
                copy["channel_values"][key] = True
            elif value is None or isinstance(value, str | int | float | bool):
                continue
            else:
                blob_values[key] = copy["channel_values"].pop(key)
        async with self._cursor(pipeline=True) as cur:
            if blob_versions := {k: v for k, v in new_versions.items() if k in blob_values}:
                await cur.executemany(
                    self.UPSERT_CHECKPOINT_BLOBS_SQL,
                    self._dump_blobs(thread_id, checkpoint_ns, blob_values, blob_versions),
                )
            await cur.execute(
                self.UPSERT_CHECKPOINTS_SQL,
                (
                    thread_id,
                    checkpoint_ns,
                    checkpoint["id"],
                    configurable.get("checkpoint_id"),
                    Jsonb(copy),
                    Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
                ),
            )
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        query = (
            self.UPSERT_CHECKPOINT_WRITES_SQL
            if all(w[0] in WRITES_IDX_MAP for w in writes)
            else self.INSERT_CHECKPOINT_WRITES_SQL
        )
        configurable = config["configurable"]
        params = self._dump_writes(
            configurable["thread_id"],
            configurable["checkpoint_ns"],
            configurable["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        async with self._cursor(pipeline=True) as cur:
            await cur.executemany(query, params)

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[Any]:
        lease = current_lease.get() if pipeline else None
        if lease is None:
            async with self._connection_cursor(pipeline=pipeline) as cur:
                yield cur
            return
        # A run's write: recorded, then sent with the run's other pending writes.
        recorder = RecordingCursor()
        yield recorder
        if _writing_behind.get():
            self._batches.write_behind(lease, recorder.statements)
        else:
            await self._batches.write(lease, recorder.statements)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        await self._own_writes_stored()
        return await super().aget_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        await self._own_writes_stored()
        async for item in super().alist(config, filter=filter, before=before, limit=limit):
            yield item

    async def _own_writes_stored(self) -> None:
        lease = current_lease.get()
        if lease is not None:
            await self._batches.settle(lease)

    async def flush(self, lease: LeaseToken) -> None:
        """Wait for the writes of `lease` that went behind; raise the first failure."""
        await self._batches.flush(lease)

    def forget(self, lease: LeaseToken) -> None:
        self._batches.forget(lease)

    async def _send_batch(self, lease: LeaseToken, statements: list[Statement]) -> None:
        async with self._connection_cursor(pipeline=True, lease=lease) as cur:
            for query, params, many in statements:
                if many:
                    await cur.executemany(query, params)
                else:
                    await cur.execute(query, params)

    @asynccontextmanager
    async def _connection_cursor(
        self, *, pipeline: bool, lease: LeaseToken | None = None
    ) -> AsyncIterator[Any]:
        shared = not isinstance(self.conn, AsyncConnectionPool)
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


@asynccontextmanager
async def writes_behind(saver: BaseCheckpointSaver[Any], *, enabled: bool) -> AsyncIterator[None]:
    """The current run's checkpoint writes go out behind it (for LangGraph's `durability`
    `async` and `exit`, which do not wait for them before the next step either), and are
    all stored, or have failed, when this exits. A failure is raised here, as LangGraph
    raises a failed write when the graph ends; when the body raised, that error wins."""
    lease = current_lease.get()
    if not enabled or lease is None or not isinstance(saver, FencedPostgresSaver):
        yield  # SQLite: each write is stored before it returns
        return
    token = _writing_behind.set(True)
    try:
        yield
    except asyncio.CancelledError:
        saver.forget(lease)  # no wait on the way out: a write in flight is fenced as any
        raise
    except BaseException:
        with contextlib.suppress(Exception):
            await saver.flush(lease)
        raise
    else:
        await saver.flush(lease)
    finally:
        _writing_behind.reset(token)


_INSERT_CHECKPOINT = (
    "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
    "parent_checkpoint_id, type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_WRITES = (
    "INSERT OR {conflict} INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
    "task_path, idx, channel, type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class FencedSqliteSaver(AsyncSqliteSaver):
    """SQLite: each write is one BEGIN IMMEDIATE transaction that first checks the lease,
    run as one function on the connection's thread.

    The stock async saver makes one thread hand-off per statement (begin, fence, insert,
    commit: six or more per write), each paid for while the process-wide write lock is
    held, so they bound how many runs a second one SQLite file can take. Here values are
    serialised on the event loop and the whole transaction is one hand-off. The SQL and
    the stored format are the stock saver's, so its readers (`aget_tuple`, `alist`) and
    LangGraph's own SqliteSaver read these rows unchanged.
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
        await self.setup()
        configurable = config["configurable"]
        type_, serialized = self.serde.dumps_typed(checkpoint)
        meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False)
        row = (
            str(configurable["thread_id"]),
            configurable["checkpoint_ns"],
            checkpoint["id"],
            configurable.get("checkpoint_id"),
            type_,
            serialized,
            meta.encode("utf-8", "ignore"),
        )
        await self._write(_INSERT_CHECKPOINT, [row])
        return {
            "configurable": {
                "thread_id": configurable["thread_id"],
                "checkpoint_ns": configurable["checkpoint_ns"],
                "checkpoint_id": checkpoint["id"],
            }
        }

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self.setup()
        configurable = config["configurable"]
        # As the stock saver: special channels overwrite, the others keep the first write.
        conflict = "REPLACE" if all(w[0] in WRITES_IDX_MAP for w in writes) else "IGNORE"
        rows = [
            (
                str(configurable["thread_id"]),
                str(configurable["checkpoint_ns"]),
                str(configurable["checkpoint_id"]),
                task_id,
                task_path,
                WRITES_IDX_MAP.get(channel, index),
                channel,
                *self.serde.dumps_typed(value),
            )
            for index, (channel, value) in enumerate(writes)
        ]
        await self._write(_INSERT_WRITES.format(conflict=conflict), rows)

    async def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        lease = current_lease.get()
        fence = None if lease is None else (lease.run_id, lease.epoch, sqlite_time(utcnow()))
        async with self._write_lock, self.lock:
            # aiosqlite's queue of functions for its connection thread (pinned version).
            held = await self.conn._execute(_fenced_write, self.conn._conn, fence, sql, rows)
        if not held:
            assert lease is not None
            raise LeaseLost(f"run {lease.run_id}: the lease (epoch {lease.epoch}) moved on")


def _fenced_write(
    conn: sqlite3.Connection,
    fence: tuple[str, int, str] | None,
    sql: str,
    rows: list[tuple[Any, ...]],
) -> bool:
    """On the connection's thread: the lease check and the rows in one transaction;
    False (nothing written) when the lease moved on."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if fence is not None and conn.execute(FENCE_SQL, fence).fetchone() is None:
            conn.rollback()
            return False
        conn.executemany(sql, rows)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return True


def setup_checkpoint_tables(url: str) -> None:
    """Create or upgrade the checkpointer tables with the official savers' setup."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.sqlite import SqliteSaver

    run_setup(
        url,
        sqlite=lambda conn: SqliteSaver(conn).setup(),
        postgres=lambda conn: PostgresSaver(conn).setup(),  # type: ignore[arg-type]
    )


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

    async with postgres_pool(url, pool_size) as pool:
        yield FencedPostgresSaver(pool)
