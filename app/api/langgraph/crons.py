"""`/runs/crons` and `/threads/{id}/runs/crons`: LangGraph's scheduled runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from app.api.deps import get_services
from app.api.tenant import TenantDep
from app.schemas.lg_crons import CronCount, CronCreate, CronPatch, CronSearch
from app.schemas.storable import StorableStr
from app.services import crons
from app.services.container import Services

router = APIRouter(tags=["langgraph"], include_in_schema=False)
ServicesDep = Annotated[Services, Depends(get_services)]
CronRef = Annotated[StorableStr, Path(max_length=100)]
ThreadRef = Annotated[StorableStr, Path(max_length=200)]


def _payload(body: CronCreate | CronPatch) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude_none=True)


@router.post("/runs/crons")
async def create_cron(body: CronCreate, services: ServicesDep, tenant: TenantDep) -> Any:
    """A stateless cron: each firing runs on a thread of its own."""
    return await crons.create_cron(services, tenant, _payload(body))


@router.post("/threads/{thread_id}/runs/crons")
async def create_thread_cron(
    thread_id: ThreadRef, body: CronCreate, services: ServicesDep, tenant: TenantDep
) -> Any:
    """A cron whose firings run on `thread_id`, one after another."""
    return await crons.create_cron(services, tenant, _payload(body), thread_id=thread_id)


@router.post("/runs/crons/search")
async def search_crons(body: CronSearch, services: ServicesDep, tenant: TenantDep) -> Any:
    return await crons.search_crons(services, tenant, body.model_dump(exclude_none=True))


@router.post("/runs/crons/count")
async def count_crons(body: CronCount, services: ServicesDep, tenant: TenantDep) -> int:
    return await crons.count_crons(services, tenant, body.model_dump(exclude_none=True))


@router.patch("/runs/crons/{cron_id}")
async def update_cron(
    cron_id: CronRef, body: CronPatch, services: ServicesDep, tenant: TenantDep
) -> Any:
    return await crons.update_cron(services, tenant, cron_id, _payload(body))


@router.delete("/runs/crons/{cron_id}", status_code=204)
async def delete_cron(cron_id: CronRef, services: ServicesDep, tenant: TenantDep) -> Response:
    await crons.delete_cron(services, tenant, cron_id)
    return Response(status_code=204)
