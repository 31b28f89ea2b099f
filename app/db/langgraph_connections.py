"""The connections LangGraph's official checkpointers and stores run on, on the service's
own database: a short-lived one their `setup()` creates tables with, and the Postgres pool
a process keeps for them."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from app.db.engine import is_sqlite, libpq_url, sqlite_path

PgPool = AsyncConnectionPool[psycopg.AsyncConnection[DictRow]]


def run_setup(
    url: str,
    *,
    sqlite: Callable[[sqlite3.Connection], None],
    postgres: Callable[[psycopg.Connection[DictRow]], None],
    sqlite_autocommit: bool = False,
) -> None:
    """Call the `sqlite` or `postgres` setup (by `url`) on a connection of its own."""
    if is_sqlite(url):
        if sqlite_autocommit:
            conn = sqlite3.connect(sqlite_path(url), check_same_thread=False, isolation_level=None)
        else:
            conn = sqlite3.connect(sqlite_path(url), check_same_thread=False)
        try:
            sqlite(conn)
        finally:
            conn.close()
        return
    with psycopg.connect(libpq_url(url), autocommit=True, row_factory=dict_row) as pg:
        postgres(pg)


@asynccontextmanager
async def postgres_pool(url: str, pool_size: int) -> AsyncIterator[PgPool]:
    """The pool a saver or store borrows a connection from per operation."""
    async with PgPool(
        libpq_url(url),
        min_size=1,
        max_size=pool_size,
        open=False,
        # No check before lending (a round trip per write): after a database restart a dead
        # connection fails one write, the pool drops it, and that run resumes from its
        # last checkpoint (the worker treats database errors as interruptions).
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    ) as pool:
        yield pool
