"""Engine and session factory for the embedded SQLite default and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> str:
    """The file path of a sqlite URL (':memory:' is refused: workers share a file)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("an in-memory SQLite database cannot be shared by API and worker")
    return database


def sync_url(url: str) -> str:
    """The same database for a synchronous driver (Alembic, checkpointer setup)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """A plain postgresql:// URL for psycopg and the LangGraph Postgres saver."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, *, busy_timeout_ms: int = 10_000, pool_size: int = 4) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and one writer at a time."""
    if not is_sqlite(url):
        return create_async_engine(
            url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size
        )

    engine = create_async_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control so every transaction can BEGIN IMMEDIATE: a
        # deferred transaction that later writes can fail with SQLITE_BUSY at once.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)
