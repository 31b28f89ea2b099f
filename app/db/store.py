"""LangGraph's long-term memory store on the service's own database.

The official stores do the work (`langgraph.store.postgres` / `langgraph.store.sqlite`), on
the tables migration 0013 has them create. Each tenant sees the store through
`TenantStore`, which puts every namespace under the tenant's own first label: two tenants
may use the same namespace and never see each other's items.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, cast

import aiosqlite
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.postgres.aio import AsyncPostgresStore
from langgraph.store.sqlite.aio import AsyncSqliteStore

from app.db.engine import is_sqlite, sqlite_path
from app.db.langgraph_connections import postgres_pool, run_setup


def setup_store_tables(url: str) -> None:
    """Create or upgrade the store's tables with the official stores' own setup."""
    from langgraph.store.postgres import PostgresStore
    from langgraph.store.sqlite import SqliteStore

    run_setup(
        url,
        sqlite=lambda conn: SqliteStore(conn).setup(),
        postgres=lambda conn: PostgresStore(conn).setup(),  # type: ignore[arg-type]
        sqlite_autocommit=True,
    )


class LockedSqliteStore(AsyncSqliteStore):
    """SQLite: a batch that writes takes the process-wide write lock (app.db.engine), so the
    store's transactions and the service's own writes take turns instead of failing on a
    stale read snapshot."""

    def __init__(self, conn: aiosqlite.Connection, write_lock: asyncio.Lock) -> None:
        super().__init__(conn)
        self._write_lock = write_lock

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        if any(isinstance(op, PutOp) for op in ops):
            async with self._write_lock:
                return await super().abatch(ops)
        return await super().abatch(ops)


@asynccontextmanager
async def open_store(
    url: str,
    *,
    busy_timeout_ms: int = 10_000,
    pool_size: int = 5,
    sqlite_write_lock: asyncio.Lock | None = None,
) -> AsyncIterator[BaseStore]:
    """The store for the lifetime of a worker or API process."""
    if is_sqlite(url):
        async with aiosqlite.connect(sqlite_path(url), isolation_level=None) as conn:
            await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            sqlite_store = LockedSqliteStore(conn, sqlite_write_lock or asyncio.Lock())
            await sqlite_store.setup()  # registers its match function on this connection
            yield sqlite_store
        return

    async with postgres_pool(url, pool_size) as pool:
        yield AsyncPostgresStore(pool)


def tenant_label(tenant_id: str) -> str:
    """The first namespace label of a tenant's items. Labels may not hold '.', tenant ids
    may; '~' is in no tenant id, so the mapping is one to one."""
    return "tenant~" + tenant_id.replace(".", "~")


class TenantStore(BaseStore):
    """One tenant's view of the shared store: its namespaces, without the tenant label."""

    def __init__(self, store: BaseStore, tenant_id: str) -> None:
        self.store = store
        self.prefix = (tenant_label(tenant_id),)
        self.supports_ttl = store.supports_ttl
        self.ttl_config = store.ttl_config

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        results = self.store.batch(self._ops(ops))
        return [self._result(op, result) for op, result in zip(ops, results, strict=True)]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        results = await self.store.abatch(self._ops(ops))
        return [self._result(op, result) for op, result in zip(ops, results, strict=True)]

    def _ops(self, ops: list[Op]) -> list[Op]:
        return [self._scoped(op) for op in ops]

    def _scoped(self, op: Op) -> Op:
        if isinstance(op, (GetOp, PutOp)):
            return op._replace(namespace=self.prefix + op.namespace)
        if isinstance(op, SearchOp):
            return op._replace(namespace_prefix=self.prefix + op.namespace_prefix)
        if isinstance(op, ListNamespacesOp):
            conditions = list(op.match_conditions or ())
            prefixed = [
                c._replace(path=self.prefix + tuple(c.path))
                for c in conditions
                if c.match_type == "prefix"
            ]
            others = [c for c in conditions if c.match_type != "prefix"]
            own = prefixed or [MatchCondition(match_type="prefix", path=self.prefix)]
            depth = None if op.max_depth is None else op.max_depth + len(self.prefix)
            return op._replace(match_conditions=tuple(own + others), max_depth=depth)
        raise TypeError(f"unknown store operation {type(op).__name__}")

    def _result(self, op: Op, result: Result) -> Any:
        if isinstance(op, GetOp):
            return None if result is None else self._unscoped(result)  # type: ignore[arg-type]
        if isinstance(op, SearchOp):
            return [self._unscoped(cast(Item, item)) for item in cast(list[Any], result)]
        if isinstance(op, ListNamespacesOp):
            return [tuple(ns[len(self.prefix) :]) for ns in cast(list[tuple[str, ...]], result)]
        return result

    def _unscoped(self, item: Item) -> Item:
        namespace = item.namespace[len(self.prefix) :]
        if isinstance(item, SearchItem):
            return SearchItem(
                namespace, item.key, item.value, item.created_at, item.updated_at, item.score
            )
        return Item(
            value=item.value,
            key=item.key,
            namespace=namespace,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )
