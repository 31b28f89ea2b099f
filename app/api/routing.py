"""The learned routing table (what `routegraph routing stats` prints)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.api.tenant import TenantDep
from app.services import routing_stats
from app.services.container import Services

router = APIRouter(prefix="/v1/routing", tags=["routing"], route_class=ProblemRoute)
ServicesDep = Annotated[Services, Depends(get_services)]


@router.get("/stats")
async def routing_stats_table(services: ServicesDep, tenant: TenantDep) -> dict[str, Any]:
    """`{"cells": rows}`: every learned cell the tenant routes with, most evidence first."""
    rows = await routing_stats.learned_rows(services.sessions, services.settings)
    return {"cells": routing_stats.visible_to(rows, tenant)}
