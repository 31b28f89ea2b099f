"""Tenants for tests: API keys made with the real key service, and clients that use them.

For any route's isolation test:

    async with tenant_keys(database_url, "acme", "globex") as keys:
        a = httpx.Client(base_url=url, headers=bearer(keys["acme"]))
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.db.engine import create_engine, create_session_factory
from app.services.api_keys import Period, create_key


async def make_key(
    database_url: str,
    tenant: str,
    *,
    budget_usd: float | None = None,
    period: Period = "day",
    rpm_limit: int | None = None,
    manages_rules: bool = False,
) -> str:
    """A new key of `tenant` in a migrated database; returns its token."""
    _, token = await make_key_with_id(
        database_url,
        tenant,
        budget_usd=budget_usd,
        period=period,
        rpm_limit=rpm_limit,
        manages_rules=manages_rules,
    )
    return token


async def make_key_with_id(
    database_url: str,
    tenant: str,
    *,
    budget_usd: float | None = None,
    period: Period = "day",
    rpm_limit: int | None = None,
    manages_rules: bool = False,
) -> tuple[str, str]:
    """A new key of `tenant`: (its id, its token)."""
    engine = create_engine(database_url)
    try:
        key, token = await create_key(
            create_session_factory(engine),
            tenant_id=tenant,
            budget_usd=budget_usd,
            period=period,
            rpm_limit=rpm_limit,
            manages_rules=manages_rules,
        )
    finally:
        await engine.dispose()
    return key.id, token


@asynccontextmanager
async def tenant_keys(database_url: str, *tenants: str) -> AsyncIterator[dict[str, str]]:
    """One key per tenant: {tenant: token}."""
    yield {tenant: await make_key(database_url, tenant) for tenant in tenants}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
