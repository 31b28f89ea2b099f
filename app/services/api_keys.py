"""API keys: create (the token is shown once), list with this period's spend, revoke.

A key is `rg-` plus 256 random bits; only its SHA-256 is stored (a fast hash is enough
for a random token of that size: there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import keys_repo
from app.db.models import ApiKey
from app.db.tenant_scope import valid_tenant_id

TOKEN_PREFIX = "rg-"
Period = Literal["day", "month"]
PERIODS: tuple[Period, ...] = ("day", "month")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def period_key(period: str | None, now: datetime | None = None) -> str:
    """The budget period a moment falls in: `2026-11-28` (day) or `2026-11` (month), UTC."""
    moment = now or datetime.now(UTC)
    return moment.strftime("%Y-%m" if period == "month" else "%Y-%m-%d")


@dataclass(frozen=True)
class KeyListing:
    key: ApiKey
    spent_usd: float  # in the current period


async def create_key(
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant_id: str,
    budget_usd: float | None = None,
    period: Period = "month",
    rpm_limit: int | None = None,
    name: str | None = None,
    manages_rules: bool = False,
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its token (the only time the token is seen)."""
    if not valid_tenant_id(tenant_id):
        raise ValueError(
            "the tenant is 1 to 100 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    if budget_usd is not None and budget_usd < 0:
        raise ValueError("the budget cannot be negative")
    if period not in PERIODS:
        raise ValueError(f"the period is one of {', '.join(PERIODS)}")
    if rpm_limit is not None and rpm_limit < 1:
        raise ValueError("the rate limit is at least 1 request per minute")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        name=name,
        key_hash=hash_token(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        budget_usd=budget_usd,
        budget_period=period,
        rpm_limit=rpm_limit,
        manages_rules=manages_rules,
    )
    async with sessions.begin() as session:
        await keys_repo.insert_key(session, key)
    return key, token


async def list_keys(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str | None = None
) -> list[KeyListing]:
    async with sessions() as session:
        keys = await keys_repo.list_keys(session, tenant_id)
        return [
            KeyListing(key, await keys_repo.spent(session, key.id, period_key(key.budget_period)))
            for key in keys
        ]


async def revoke_key(sessions: async_sessionmaker[AsyncSession], key_id: str) -> ApiKey | None:
    async with sessions.begin() as session:
        return await keys_repo.revoke_key(session, key_id)
