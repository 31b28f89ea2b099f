"""The response cache table: read by key, upsert with an expiry, purge what expired."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import CachedResponse


async def get_entry(
    session: AsyncSession, key: str, tenant_id: str, now: datetime
) -> dict[str, Any] | None:
    query = select(CachedResponse.response).where(
        CachedResponse.key == key,
        CachedResponse.tenant_id == tenant_id,
        CachedResponse.expires_at > now,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def put_entry(
    session: AsyncSession,
    *,
    key: str,
    tenant_id: str,
    model: str,
    response: dict[str, Any],
    cost_usd: float,
    now: datetime,
    expires_at: datetime,
) -> None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = {
        "key": key,
        "tenant_id": tenant_id,
        "model": model,
        "response": response,
        "cost_usd": cost_usd,
        "created_at": now,
        "expires_at": expires_at,
    }
    stmt = insert(CachedResponse).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"], set_={k: v for k, v in values.items() if k != "key"}
    )
    await session.execute(stmt)


async def purge_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(CachedResponse).where(CachedResponse.expires_at <= now))
