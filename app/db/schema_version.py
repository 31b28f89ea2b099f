"""Is the database's schema the one this code expects? Answered without loading Alembic.

`serve` and `worker` migrate at start-up; when the schema is already at `HEAD` (every
restart but the first after an upgrade) one query says so and Alembic, which takes most of
a second to load and compare, is skipped. A test keeps `HEAD` equal to Alembic's head.
"""

from __future__ import annotations

import sqlite3

import psycopg

from app.db.engine import is_sqlite, libpq_url, sqlite_path

HEAD = "0019"


def current_revision(url: str) -> str | None:
    """The revision stamped in `alembic_version`, or None (no table, no database file)."""
    try:
        if is_sqlite(url):
            with sqlite3.connect(sqlite_path(url)) as conn:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        else:
            with psycopg.connect(libpq_url(url), connect_timeout=10) as conn:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except (sqlite3.Error, psycopg.Error):
        return None
    return str(row[0]) if row else None


def schema_is_current(url: str) -> bool:
    return current_revision(url) == HEAD
