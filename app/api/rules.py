"""Provider rules over REST: the tenant's (`/v1/rules`) and each key's (`/v1/keys/{id}/rules`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel

from app.api.auth import Principal, get_principal
from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.api.problems import problem_responses
from app.routing.provider_rules import ProviderRules
from app.schemas.storable import StorableStr
from app.services import provider_rules as rules_service
from app.services.container import Services

router = APIRouter(prefix="/v1", tags=["rules"], route_class=ProblemRoute)
ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
KeyId = Annotated[StorableStr, Path(description="an API key's id (`routegraph keys list`)")]


class RulesOut(BaseModel):
    """A stored rules document; `rules` is null when none is set (nothing is restricted)."""

    tenant_id: str
    key_id: str | None = None
    rules: ProviderRules | None


@router.get("/rules", response_model=RulesOut)
async def get_tenant_rules(services: ServicesDep, principal: PrincipalDep) -> RulesOut:
    """The tenant's provider rules (every call of the tenant obeys them)."""
    rules = await rules_service.get_rules(services, principal)
    return RulesOut(tenant_id=principal.tenant_id, rules=rules)


@router.put("/rules", response_model=RulesOut, responses=problem_responses(403))
async def put_tenant_rules(
    body: ProviderRules, services: ServicesDep, principal: PrincipalDep
) -> RulesOut:
    """Replace the tenant's provider rules (a key that manages rules only)."""
    rules = await rules_service.put_rules(services, principal, body)
    return RulesOut(tenant_id=principal.tenant_id, rules=rules)


@router.delete("/rules", status_code=204, responses=problem_responses(403))
async def delete_tenant_rules(services: ServicesDep, principal: PrincipalDep) -> Response:
    """Remove the tenant's provider rules."""
    await rules_service.delete_rules(services, principal)
    return Response(status_code=204)


@router.get("/keys/{key_id}/rules", response_model=RulesOut, responses=problem_responses(403, 404))
async def get_key_rules(key_id: KeyId, services: ServicesDep, principal: PrincipalDep) -> RulesOut:
    """A key's own provider rules (they narrow the tenant's for that key's calls and runs)."""
    rules = await rules_service.get_rules(services, principal, key_id)
    return RulesOut(tenant_id=principal.tenant_id, key_id=key_id, rules=rules)


@router.put("/keys/{key_id}/rules", response_model=RulesOut, responses=problem_responses(403, 404))
async def put_key_rules(
    key_id: KeyId, body: ProviderRules, services: ServicesDep, principal: PrincipalDep
) -> RulesOut:
    """Replace a key's provider rules (a key that manages rules only)."""
    rules = await rules_service.put_rules(services, principal, body, key_id)
    return RulesOut(tenant_id=principal.tenant_id, key_id=key_id, rules=rules)


@router.delete("/keys/{key_id}/rules", status_code=204, responses=problem_responses(403, 404))
async def delete_key_rules(
    key_id: KeyId, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Remove a key's provider rules."""
    await rules_service.delete_rules(services, principal, key_id)
    return Response(status_code=204)
