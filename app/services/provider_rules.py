"""Managing provider rules: a tenant's document and its keys' (read, replace, remove).

Only a key made with `--manage-rules` (or any request while auth is off) may change rules;
otherwise a key with its own rules could lift them. Any key of the tenant may read the
tenant's rules and its own. Names the catalog does not know are refused (a typo would
otherwise allow nothing, silently).
"""

from __future__ import annotations

from app.db import rules_repo
from app.routing.provider_rules import ProviderRules
from app.services.auth import Principal
from app.services.container import Services
from app.services.errors import Forbidden, InvalidInput, KeyNotFound

TENANT = rules_repo.TENANT_SCOPE


def may_manage(principal: Principal) -> bool:
    return principal.key is None or principal.key.manages_rules


async def _scope(services: Services, principal: Principal, key_id: str | None) -> str:
    """The document's scope; a key of another tenant is not found."""
    if key_id is None:
        return TENANT
    async with services.sessions() as session:
        key = await rules_repo.tenant_key(session, principal.tenant_id, key_id)
    if key is None:
        raise KeyNotFound(f"no API key {key_id!r} in this tenant")
    return key.id


async def get_rules(
    services: Services, principal: Principal, key_id: str | None = None
) -> ProviderRules | None:
    """The stored document (None when there is none)."""
    scope = await _scope(services, principal, key_id)
    if scope != TENANT and scope != principal.key_id and not may_manage(principal):
        raise Forbidden("only a key that manages rules may read another key's rules")
    async with services.sessions() as session:
        docs = await rules_repo.rules_of(
            session, principal.tenant_id, None if scope == TENANT else scope
        )
    doc = docs.get(scope)
    return None if doc is None else ProviderRules.model_validate(doc)


async def put_rules(
    services: Services, principal: Principal, rules: ProviderRules, key_id: str | None = None
) -> ProviderRules:
    """Replace the tenant's (or a key's) rules; they apply to the next call."""
    _check_manager(principal)
    scope = await _scope(services, principal, key_id)
    problems = rules.catalog_problems(services.catalog)
    if problems:
        errors = [
            {"loc": ["body", *loc], "msg": msg, "type": "unknown_name"} for loc, msg in problems
        ]
        raise InvalidInput("; ".join(msg for _, msg in problems), errors=errors)
    async with services.sessions.begin() as session:
        await rules_repo.put_rules(
            session, principal.tenant_id, scope, rules.model_dump(mode="json", exclude_none=True)
        )
    _forget(services, principal.tenant_id)
    return rules


async def delete_rules(services: Services, principal: Principal, key_id: str | None = None) -> None:
    _check_manager(principal)
    scope = await _scope(services, principal, key_id)
    async with services.sessions.begin() as session:
        await rules_repo.delete_rules(session, principal.tenant_id, scope)
    _forget(services, principal.tenant_id)


def _check_manager(principal: Principal) -> None:
    if not may_manage(principal):
        raise Forbidden(
            "this API key may not change provider rules (create one with "
            "`routegraph keys create --manage-rules`)"
        )


def _forget(services: Services, tenant_id: str) -> None:
    if services.gateway.planner.rules is not None:
        services.gateway.planner.rules.forget(tenant_id)
