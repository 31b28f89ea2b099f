"""Databases for tests: a fresh one per test, empty or already at the schema's head.

Most tests want a migrated database and most of them used to get it by migrating an empty
one (a server start, or `upgrade_database` in the test): Alembic's load and nineteen
migrations, 0.1 to 0.2 s in a warm process and most of a second in a new one, paid again
by every test. Here each test process migrates one template per kind once and gives every
test a copy: Postgres copies a database with `CREATE DATABASE ... TEMPLATE` (as fast as
creating an empty one), SQLite a file with its backup API. A copy is the same schema
Alembic would have built (the template was built by it), stamped at head, so servers and
`upgrade_database` find nothing to do. Tests of the migrations themselves ask for an empty
database.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
import pytest

from app.db.migrate import upgrade_database

PG_ADMIN_URL = os.environ.get(
    "ROUTEGRAPH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def pg_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}".replace("postgresql://", "postgresql+psycopg://", 1)


def require_postgres() -> None:
    if postgres_available():
        return
    if os.environ.get("ROUTEGRAPH_TEST_SKIP_POSTGRES") == "1":
        pytest.skip("PostgreSQL unreachable and ROUTEGRAPH_TEST_SKIP_POSTGRES=1")
    pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (set ROUTEGRAPH_TEST_PG_URL)")


def _admin(statement: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement)


class Templates:
    """One migrated template per kind of database, built when first asked for, dropped by
    `close` (a test process's end)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._pg: str | None = None
        self._sqlite: Path | None = None

    def postgres(self) -> str:
        if self._pg is None:
            name = f"rg_template_{uuid.uuid4().hex[:12]}"
            _admin(f'CREATE DATABASE "{name}"')
            try:
                upgrade_database(pg_url(name))
            except BaseException:
                _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                raise
            self._pg = name
        return self._pg

    def sqlite(self) -> Path:
        if self._sqlite is None:
            path = self._directory / "template.db"
            upgrade_database(f"sqlite+aiosqlite:///{path}")
            self._sqlite = path
        return self._sqlite

    def close(self) -> None:
        if self._pg is not None:
            _admin(f'DROP DATABASE IF EXISTS "{self._pg}" WITH (FORCE)')
            self._pg = None


@contextmanager
def fresh_pg_database(templates: Templates | None = None) -> Iterator[str]:
    """Create a database for one test (a copy of the migrated template if given, else
    empty) and drop it afterwards, whatever happened."""
    require_postgres()
    name = f"rg_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{templates.postgres()}"' if templates is not None else ""
    _admin(f'CREATE DATABASE "{name}"{template}')
    try:
        yield pg_url(name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_sqlite_database(path: Path, templates: Templates | None = None) -> str:
    """A SQLite file at `path`: a copy of the migrated template if given, else none yet."""
    if templates is not None:
        with (
            closing(sqlite3.connect(templates.sqlite())) as source,
            closing(sqlite3.connect(path)) as copy,
        ):
            source.backup(copy)
    return f"sqlite+aiosqlite:///{path}"
