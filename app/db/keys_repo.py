"""Queries on API keys and what each key spent per budget period."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, ApiKeySpend, utcnow


async def insert_key(session: AsyncSession, key: ApiKey) -> None:
    session.add(key)


async def key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.key_hash == key_hash)
    return (await session.execute(query)).scalar_one_or_none()


async def any_key(session: AsyncSession) -> bool:
    """Whether a key was ever created (revoked ones count: auth never silently turns off)."""
    return bool((await session.execute(select(exists().where(ApiKey.id.is_not(None))))).scalar())


async def list_keys(session: AsyncSession, tenant_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.tenant_id, ApiKey.created_at)
    if tenant_id is not None:
        query = query.where(ApiKey.tenant_id == tenant_id)
    return list((await session.execute(query)).scalars())


async def revoke_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    """Mark the key revoked (kept for the ledger); None if there is no such key."""
    key = await session.get(ApiKey, key_id)
    if key is None:
        return None
    if key.revoked_at is None:
        await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
        await session.refresh(key)
    return key


async def spent(session: AsyncSession, key_id: str, period: str) -> float:
    query = select(ApiKeySpend.spent_usd).where(
        ApiKeySpend.key_id == key_id, ApiKeySpend.period == period
    )
    return float((await session.execute(query)).scalar() or 0.0)


async def reserve_spend(
    session: AsyncSession, key_id: str, period: str, amount: float, budget: float | None
) -> bool:
    """Add `amount` to the key's spend in `period` unless that takes it past `budget`; one
    statement, so concurrent calls of one key can never reserve past the budget together."""
    if budget is not None and amount > budget:
        return False
    stmt = _insert(session)(ApiKeySpend).values(key_id=key_id, period=period, spent_usd=amount)
    condition = None if budget is None else ApiKeySpend.spent_usd + amount <= budget
    stmt = stmt.on_conflict_do_update(
        index_elements=["key_id", "period"],
        set_={"spent_usd": ApiKeySpend.spent_usd + amount},
        where=condition,
    ).returning(ApiKeySpend.spent_usd)
    return (await session.execute(stmt)).first() is not None


async def add_spend(session: AsyncSession, key_id: str, period: str, delta: float) -> None:
    """Replace a reserved estimate with what the call cost (`delta` = cost - estimate)."""
    if delta == 0:
        return
    await session.execute(
        update(ApiKeySpend)
        .where(ApiKeySpend.key_id == key_id, ApiKeySpend.period == period)
        .values(spent_usd=ApiKeySpend.spent_usd + delta)
        .execution_options(synchronize_session=False)
    )


def _insert(session: AsyncSession) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


async def budget_spend(
    session: AsyncSession, periods: dict[str, str]
) -> list[tuple[str, str, float, float]]:
    """(key id, tenant, budget, spent this period) of each active key with a budget;
    `periods` maps a budget period (day, month) to its current period key."""
    spend = ApiKeySpend
    query = (
        select(ApiKey.id, ApiKey.tenant_id, ApiKey.budget_usd, ApiKey.budget_period, spend.period)
        .add_columns(spend.spent_usd)
        .outerjoin(spend, (spend.key_id == ApiKey.id) & spend.period.in_(set(periods.values())))
        .where(ApiKey.budget_usd.is_not(None), ApiKey.revoked_at.is_(None))
    )
    totals: dict[str, tuple[str, str, float, float]] = {}
    for key_id, tenant, budget, budget_period, period, spent in await session.execute(query):
        row = totals.get(key_id) or (key_id, tenant, float(budget), 0.0)
        if period is not None and period == periods.get(budget_period or "month"):
            row = (key_id, tenant, float(budget), float(spent or 0.0))
        totals[key_id] = row
    return list(totals.values())


async def key_of_tenant(session: AsyncSession, key_id: str, tenant_id: str) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id)
    return (await session.execute(query)).scalar_one_or_none()
