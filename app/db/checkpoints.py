"""LangGraph checkpointers on the service's own database."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiosqlite
import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from app.db.engine import is_sqlite, libpq_url, sqlite_path


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
    url: str, *, busy_timeout_ms: int = 10_000, pool_size: int = 5
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """An async saver for the lifetime of a worker or API process."""
    if is_sqlite(url):
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        async with aiosqlite.connect(sqlite_path(url)) as conn:
            await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            await conn.execute("PRAGMA journal_mode=WAL")
            yield AsyncSqliteSaver(conn)
        return

    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    async with AsyncConnectionPool(
        libpq_url(url),
        min_size=1,
        max_size=pool_size,
        open=False,
        # A restarted database leaves dead connections in the pool: test before lending.
        check=AsyncConnectionPool.check_connection,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    ) as pool:
        yield AsyncPostgresSaver(pool)  # type: ignore[arg-type]
