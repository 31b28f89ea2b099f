"""Engines and session factories for the embedded SQLite default and PostgreSQL.

`sessions()` reads, `sessions.begin()` writes. On SQLite the two go to different engines:
reads run on their own connections without a transaction of their own (WAL readers never
wait for the writer), and writes queue on one in-process lock, shared with the LangGraph
checkpointer, before `BEGIN IMMEDIATE`, so writers of this process take turns instead of
sleeping in SQLite's busy handler (whose back-off sleeps were most of a run's latency).
Other processes on the same file still meet the busy timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.db.cache_repo import SqliteCacheReader
from app.db.events_repo import PUBLISH, Publisher, install_event_publisher
from app.db.journal.contract import RunJournal
from app.db.journal.postgres import PostgresJournal
from app.db.journal.sqlite import SqliteJournal


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


def create_engine(
    url: str, *, busy_timeout_ms: int = 10_000, pool_size: int = 4, writes: bool = True
) -> AsyncEngine:
    """An async engine. SQLite: WAL and a busy timeout; with `writes`, every transaction is
    BEGIN IMMEDIATE (one writer at a time), else statements run without a transaction."""
    if not is_sqlite(url):
        # No overflow: a burst waits for a pooled connection instead of opening and closing
        # connections per request.
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0)
        _ping_when_idle(engine)
        return engine

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

    if writes:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


IDLE_PING_SECONDS = 1.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before lending it only when it sat idle for a while: a
    database restart leaves dead connections in the pool, but a ping on every checkout
    (`pool_pre_ping`) is one more round trip for every query of a busy service."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["routegraph_idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("routegraph_idle_since")
        if since is not None and time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: let the pool replace the connection
            raise DisconnectionError(str(exc)) from exc


def _own_backends(engines: list[AsyncEngine]) -> set[int]:
    """The server PIDs of the engines' open connections, kept up to date: a NOTIFY one of
    them sent (the triggers of migration 0003 fire on this process's own writes too) was
    already signalled in-process, with its events, so the listener can skip it instead
    of making every waiter and worker read the database again."""
    pids: set[int] = set()
    for engine in engines:

        @event.listens_for(engine.sync_engine, "connect")
        def _connected(dbapi_connection: Any, record: Any) -> None:
            pid = dbapi_connection.driver_connection.info.backend_pid
            record.info["routegraph_backend_pid"] = pid
            pids.add(pid)

        @event.listens_for(engine.sync_engine, "close")
        def _closed(_dbapi_connection: Any, record: Any) -> None:
            pids.discard(record.info.get("routegraph_backend_pid", -1))

    return pids


class Sessions(async_sessionmaker[AsyncSession]):
    """Sessions of the service's database; `one_statement()` for a write that is a single
    statement (SQLite: a transaction like any other)."""

    @asynccontextmanager
    async def one_statement(self) -> AsyncIterator[AsyncSession]:
        async with self.begin() as session:
            yield session


class PostgresSessions(Sessions):
    """PostgreSQL: a one-statement write is sent in autocommit. The statement is atomic by
    itself, so the BEGIN and COMMIT round trips (psycopg sends each apart) buy nothing;
    the session still commits, so the events it wrote are published as after any commit."""

    @asynccontextmanager
    async def one_statement(self) -> AsyncIterator[AsyncSession]:
        async with self() as session:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session
            await session.commit()


def create_session_factory(engine: AsyncEngine, info: dict[str, Any] | None = None) -> Sessions:
    factory = PostgresSessions if engine.dialect.name == "postgresql" else Sessions
    return factory(engine, expire_on_commit=False, info=info)


class SqliteSessions(Sessions):
    """Reads on the read engine; `begin()` (writes) under the process's write lock."""

    def __init__(
        self,
        reads: AsyncEngine,
        writes: AsyncEngine,
        lock: asyncio.Lock,
        info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reads, expire_on_commit=False, info=info)
        self._writes = async_sessionmaker(writes, expire_on_commit=False, info=info)
        self._lock = lock

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        async with self._lock, self._writes.begin() as session:
            yield session


@dataclass
class Database:
    """The process's engines: one pool for the API and one for the worker, so neither can
    starve the other of connections; on SQLite one write lock for the whole process."""

    url: str
    api: Sessions
    worker: Sessions
    write_lock: asyncio.Lock | None
    # The only writer of runs and run_events, for this database: chosen here, once.
    journal: RunJournal
    engines: list[AsyncEngine] = field(default_factory=list)
    # Postgres: the server PIDs of this process's pooled connections (see `_own_backends`).
    own_backends: set[int] = field(default_factory=set)

    def start_listener(self, notifier: Any) -> Any:
        """Cross-process wake-ups (LISTEN/NOTIFY) where the database has them: the
        started listener, or None (SQLite: one process, in-process wake-ups suffice)."""
        if is_sqlite(self.url):
            return None
        from app.db.listener import PgListener

        listener = PgListener(self.url, notifier, own_backends=self.own_backends)
        listener.start()
        return listener

    def start_live_sender(self, origin: str) -> Any:
        """Stream chunks to other processes before they are written (NOTIFY), or None
        (SQLite: API and worker share the one process)."""
        if is_sqlite(self.url):
            return None
        from app.db.live_notify import PgLiveSender

        sender = PgLiveSender(self.url, origin)
        sender.start()
        return sender

    def cache_reader(self) -> SqliteCacheReader | None:
        """A faster reader of the response cache than a session, where there is one."""
        return SqliteCacheReader(sqlite_path(self.url)) if is_sqlite(self.url) else None

    async def dispose(self) -> None:
        for engine in self.engines:
            await engine.dispose()


def open_database(
    url: str,
    *,
    busy_timeout_ms: int = 10_000,
    pool_size: int = 4,
    publish: Publisher | None = None,
) -> Database:
    """`publish(run_id, events)` receives the run events each committed transaction wrote."""
    install_event_publisher()
    info = {PUBLISH: publish} if publish is not None else None
    if not is_sqlite(url):
        api = create_engine(url, pool_size=pool_size)
        worker = create_engine(url, pool_size=pool_size)
        own = _own_backends([api, worker])
        return Database(
            url,
            create_session_factory(api, info),
            create_session_factory(worker, info),
            None,
            PostgresJournal(),
            [api, worker],
            own,
        )
    lock = asyncio.Lock()
    writes = create_engine(url, busy_timeout_ms=busy_timeout_ms)
    api_reads = create_engine(url, busy_timeout_ms=busy_timeout_ms, writes=False)
    worker_reads = create_engine(url, busy_timeout_ms=busy_timeout_ms, writes=False)
    return Database(
        url,
        SqliteSessions(api_reads, writes, lock, info),
        SqliteSessions(worker_reads, writes, lock, info),
        lock,
        SqliteJournal(),
        [writes, api_reads, worker_reads],
    )
