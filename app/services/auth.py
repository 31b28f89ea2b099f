"""Who is calling: bearer API keys resolved to a tenant, or the embedded demo's tenant.

Auth is off only when the service is bound to loopback and no key was ever created; then
every request acts as tenant `default`. The first key turns it on (checked every few
seconds while off, so a key made with the CLI takes effect without a restart). Key lookups
are trusted for `cache_seconds`: a revoked key stops working within that time.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import keys_repo
from app.gateway.errors import BudgetExceeded
from app.services.api_keys import hash_token, period_key
from app.services.errors import Unauthenticated
from app.services.tenancy import DEFAULT_TENANT

log = logging.getLogger(__name__)

RECHECK_WHILE_OFF_S = 2.0
MAX_CACHED_KEYS = 10_000


@dataclass(frozen=True)
class KeyInfo:
    """What a request needs of its key: limits (the token itself is never kept)."""

    id: str
    tenant_id: str
    budget_usd: float | None
    budget_period: str | None
    rpm_limit: int | None


@dataclass(frozen=True)
class Principal:
    """The tenant a request acts for, and the key it came with (None when auth is off)."""

    tenant_id: str
    key_id: str | None = None
    key: KeyInfo | None = None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Authenticator:
    """Built at start-up; `authenticate` runs on every request."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, host: str, cache_seconds: float
    ) -> None:
        self._sessions = sessions
        self._loopback = is_loopback(host)
        self._cache_seconds = cache_seconds
        self._keys: dict[str, tuple[float, KeyInfo | None]] = {}
        self._enabled = True
        self._checked_at = 0.0

    async def start(self) -> None:
        """Decide whether auth is on, and say so."""
        self._enabled = not self._loopback or await self._any_key()
        self._checked_at = time.monotonic()
        if self._enabled:
            log.info("auth is on: every request needs Authorization: Bearer <API key>")
        else:
            log.warning(
                "auth is OFF: bound to loopback and no API key exists; requests act as tenant "
                "%r (create a key with `routegraph keys create` to turn it on)",
                DEFAULT_TENANT,
            )

    @property
    def enabled(self) -> bool:
        return self._enabled

    async def authenticate(
        self, authorization: str | None, *, api_key: str | None = None
    ) -> Principal:
        """The caller's principal; Unauthenticated for a missing, unknown or revoked key.

        The key is `Authorization: Bearer <key>` or, when that is absent, `x-api-key`."""
        if not self._enabled:  # any Authorization header is ignored: no key exists
            if time.monotonic() - self._checked_at < RECHECK_WHILE_OFF_S:
                return Principal(DEFAULT_TENANT)
            self._checked_at = time.monotonic()
            if not await self._any_key():
                return Principal(DEFAULT_TENANT)
            self._enabled = True
            log.info("auth is on: an API key was created")
        token = _bearer(authorization) if authorization else _plain_key(api_key)
        if token is None:
            raise Unauthenticated(
                "send an API key as `Authorization: Bearer <key>` or `x-api-key: <key>`"
            )
        key = await self._lookup(token)
        if key is None:
            raise Unauthenticated("the API key is unknown or revoked")
        return Principal(key.tenant_id, key.id, key)

    async def _lookup(self, token: str) -> KeyInfo | None:
        digest = hash_token(token)
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        async with self._sessions() as session:
            row = await keys_repo.key_by_hash(session, digest)
        info = None
        if row is not None and row.revoked_at is None:
            info = KeyInfo(row.id, row.tenant_id, row.budget_usd, row.budget_period, row.rpm_limit)
        if len(self._keys) >= MAX_CACHED_KEYS:
            self._keys.clear()
        self._keys[digest] = (now, info)
        return info

    async def _any_key(self) -> bool:
        async with self._sessions() as session:
            return await keys_repo.any_key(session)


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    return token


def _plain_key(api_key: str | None) -> str | None:
    token = (api_key or "").strip()
    if not token or len(token) > 200:
        return None
    return token


class KeyAccount:
    """A key's budget as the ledger sees it (`app.gateway.types.CallAccount`): reserve a
    call's estimate before the provider is called, settle to the real cost after."""

    def __init__(self, key: KeyInfo) -> None:
        self.key_id: str | None = key.id
        self._key = key
        # The period is the request's: a call that crosses midnight settles where it began.
        self._period = period_key(key.budget_period)
        self.pool: Hashable = (key.id, self._period)

    async def reserve(self, session: AsyncSession, estimate_usd: float, what: str) -> None:
        key = self._key
        if await keys_repo.reserve_spend(
            session, key.id, self._period, estimate_usd, key.budget_usd
        ):
            return
        assert key.budget_usd is not None
        spent = await keys_repo.spent(session, key.id, self._period)
        raise BudgetExceeded(
            spent_usd=spent,
            estimate_usd=estimate_usd,
            budget_usd=key.budget_usd,
            what=f"{what} (API key budget per {key.budget_period})",
        )

    async def settle(self, session: AsyncSession, delta_usd: float) -> None:
        await keys_repo.add_spend(session, self._key.id, self._period, delta_usd)
