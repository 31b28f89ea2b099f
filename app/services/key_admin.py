"""A tenant's own API keys over REST: list them, create one, revoke one.

Any key of a tenant may list the tenant's keys. Creating and revoking take a key with no
budget and no rate limit (a limited key cannot mint itself an unlimited one). With auth
off (loopback, no key yet) there is no key to act with: the first key is made by the
admin command `routegraph keys create` (a REST call must not turn auth on for everyone).
Keys of other tenants answer 404, as if they did not exist.
"""

from __future__ import annotations

from app.db import keys_repo
from app.db.models import ApiKey
from app.schemas.keys import KeyCreated, KeyIn, KeyOut
from app.services.api_keys import create_key, list_keys, period_key
from app.services.auth import Principal
from app.services.container import Services
from app.services.errors import Forbidden, KeyNotFound


def key_out(key: ApiKey, spent_usd: float) -> KeyOut:
    return KeyOut(
        id=key.id,
        tenant_id=key.tenant_id,
        prefix=key.prefix,
        name=key.name,
        budget_usd=key.budget_usd,
        budget_period=key.budget_period,
        rpm_limit=key.rpm_limit,
        spent_usd=spent_usd,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def _require_unlimited(principal: Principal, what: str) -> None:
    key = principal.key
    if key is None:
        raise Forbidden(
            f"auth is off (no API key exists): only `routegraph keys create` can {what} "
            "until the first key is made"
        )
    if key.budget_usd is not None or key.rpm_limit is not None:
        raise Forbidden(f"a key with a budget or a rate limit cannot {what}")


async def tenant_keys(services: Services, principal: Principal) -> list[KeyOut]:
    listings = await list_keys(services.sessions, principal.tenant_id)
    return [key_out(listing.key, listing.spent_usd) for listing in listings]


async def create_tenant_key(services: Services, principal: Principal, body: KeyIn) -> KeyCreated:
    _require_unlimited(principal, "create keys")
    key, token = await create_key(
        services.sessions,
        tenant_id=principal.tenant_id,
        budget_usd=body.budget_usd,
        period=body.period,
        rpm_limit=body.rpm_limit,
        name=body.name,
    )
    return KeyCreated(**key_out(key, 0.0).model_dump(), token=token)


async def revoke_tenant_key(services: Services, principal: Principal, key_id: str) -> KeyOut:
    _require_unlimited(principal, "revoke keys")
    async with services.sessions.begin() as session:
        owned = await keys_repo.key_of_tenant(session, key_id, principal.tenant_id)
        if owned is None:
            raise KeyNotFound(f"no API key with id {key_id!r}")
        key = await keys_repo.revoke_key(session, key_id)
        assert key is not None
        spent = await keys_repo.spent(session, key.id, period_key(key.budget_period))
    return key_out(key, spent)
