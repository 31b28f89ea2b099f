"""The response cache table: read by key, upsert with an expiry, purge what expired."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import CachedResponse
from app.db.timestamps import sqlite_time


async def get_entry(
    session: AsyncSession, key: str, tenant_id: str, now: datetime
) -> dict[str, Any] | None:
    query = select(CachedResponse.response).where(
        CachedResponse.key == key,
        CachedResponse.tenant_id == tenant_id,
        CachedResponse.expires_at > now,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def put_entries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Upsert cache rows (key, tenant_id, model, response, cost_usd, created_at, expires_at)."""
    if not rows:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(CachedResponse)
    updated = ("tenant_id", "model", "response", "cost_usd", "created_at", "expires_at")
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"], set_={name: stmt.excluded[name] for name in updated}
    )
    await session.execute(stmt, rows)  # executemany: one compiled statement for any batch


async def purge_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(CachedResponse).where(CachedResponse.expires_at <= now))


class SqliteCacheReader:
    """Cache reads on SQLite as one indexed SELECT on the event-loop thread through the
    standard `sqlite3` module: ~20 µs, where the async driver's thread hand-offs cost
    milliseconds on a busy machine (WAL readers never wait for writers: it cannot block)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    def read(self, key: str, tenant_id: str, now: datetime) -> dict[str, Any] | None:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, isolation_level=None)
            self._conn.execute("PRAGMA query_only=1")
        row = self._conn.execute(
            "SELECT response FROM response_cache WHERE key = ? AND tenant_id = ? "
            "AND expires_at > ?",
            (key, tenant_id, sqlite_time(now)),
        ).fetchone()
        return json.loads(row[0]) if row is not None else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
