"""Warm prompt prefixes: which models have a tenant's prefix cached, and until when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.routing_models import PromptPrefix


async def warm_prefixes(
    session: AsyncSession,
    tenant_id: str,
    digests: Sequence[str],
    models: Sequence[str],
    now: datetime,
) -> dict[str, tuple[int, datetime]]:
    """Per model, the longest of `digests` still warm at `now`: (tokens, expires_at)."""
    if not digests or not models:
        return {}
    query = select(PromptPrefix.model, PromptPrefix.tokens, PromptPrefix.expires_at).where(
        PromptPrefix.tenant_id == tenant_id,
        PromptPrefix.digest.in_(list(digests)),
        PromptPrefix.model.in_(list(models)),
        PromptPrefix.expires_at > now,
    )
    warm: dict[str, tuple[int, datetime]] = {}
    for model, tokens, expires_at in (await session.execute(query)).all():
        if expires_at.tzinfo is None:  # SQLite keeps UTC without its zone
            expires_at = expires_at.replace(tzinfo=UTC)
        if model not in warm or tokens > warm[model][0]:
            warm[model] = (int(tokens), expires_at)
    return warm


async def touch_prefixes(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Upsert (tenant_id, model, digest, tokens, expires_at): a used prefix stays warm longer."""
    if not rows:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(PromptPrefix)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "model", "digest"],
        set_={"tokens": stmt.excluded.tokens, "expires_at": stmt.excluded.expires_at},
    )
    await session.execute(stmt, rows)


async def purge_cold(session: AsyncSession, now: datetime) -> int:
    """Forget prefixes whose cache lifetime has passed."""
    result = await session.execute(delete(PromptPrefix).where(PromptPrefix.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
