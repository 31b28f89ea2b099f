"""Queries on provider rules: one document per tenant (scope `tenant`) and per key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, ProviderRulesRow, utcnow

TENANT_SCOPE = "tenant"


async def rules_of(
    session: AsyncSession, tenant_id: str, key_id: str | None
) -> dict[str, dict[str, Any]]:
    """{scope: document} for the tenant and, when given, the key."""
    scopes = [TENANT_SCOPE] if key_id is None else [TENANT_SCOPE, key_id]
    query = select(ProviderRulesRow.scope, ProviderRulesRow.rules).where(
        ProviderRulesRow.tenant_id == tenant_id, ProviderRulesRow.scope.in_(scopes)
    )
    return {scope: dict(rules) for scope, rules in (await session.execute(query)).all()}


async def put_rules(
    session: AsyncSession, tenant_id: str, scope: str, rules: dict[str, Any]
) -> None:
    """Replace the document of `scope` (insert when it has none)."""
    row = await session.get(ProviderRulesRow, (tenant_id, scope))
    if row is None:
        session.add(ProviderRulesRow(tenant_id=tenant_id, scope=scope, rules=rules))
    else:
        row.rules = rules
        row.updated_at = utcnow()
    await session.flush()


async def delete_rules(session: AsyncSession, tenant_id: str, scope: str) -> bool:
    stmt = delete(ProviderRulesRow).where(
        ProviderRulesRow.tenant_id == tenant_id, ProviderRulesRow.scope == scope
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def tenant_key(session: AsyncSession, tenant_id: str, key_id: str) -> ApiKey | None:
    """The key, if it belongs to `tenant_id` (another tenant's key is not found)."""
    key = await session.get(ApiKey, key_id)
    return key if key is not None and key.tenant_id == tenant_id else None
