"""A tenant's API keys (`app.services.key_admin` says who may do what)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.api.auth import Principal, get_principal
from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.api.problems import problem_responses
from app.schemas.keys import KeyCreated, KeyIn, KeyOut
from app.schemas.storable import StorableStr
from app.services import key_admin
from app.services.container import Services

router = APIRouter(prefix="/v1/keys", tags=["keys"], route_class=ProblemRoute)
ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
KeyId = Annotated[StorableStr, Path(max_length=36, description="the key's id")]


@router.get("", response_model=list[KeyOut])
async def list_keys(services: ServicesDep, principal: PrincipalDep) -> list[KeyOut]:
    """The tenant's keys with this period's spend (never the key itself)."""
    return await key_admin.tenant_keys(services, principal)


@router.post("", status_code=201, response_model=KeyCreated, responses=problem_responses(403))
async def create_key(body: KeyIn, services: ServicesDep, principal: PrincipalDep) -> KeyCreated:
    """A new key of the caller's tenant; its `token` is in this answer only. Needs a key
    with no budget and no rate limit."""
    return await key_admin.create_tenant_key(services, principal, body)


@router.delete("/{key_id}", response_model=KeyOut, responses=problem_responses(403, 404))
async def revoke_key(key_id: KeyId, services: ServicesDep, principal: PrincipalDep) -> KeyOut:
    """Revoke one of the tenant's keys (its ledger rows stay). Needs a key with no budget
    and no rate limit."""
    return await key_admin.revoke_tenant_key(services, principal, key_id)
