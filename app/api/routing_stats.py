"""`GET /v1/routing/stats`: the learned routing table (`routegraph routing stats`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.api.tenant import TenantDep
from app.services.container import Services
from app.services.routing_table import learned_cells

router = APIRouter(prefix="/v1/routing", tags=["routing"], route_class=ProblemRoute)


@router.get("/stats", response_model=dict[str, list[dict[str, Any]]])
async def routing_stats(
    services: Annotated[Services, Depends(get_services)], tenant: TenantDep
) -> dict[str, list[dict[str, object]]]:
    """Per cell (scope, task class, cluster, arm): feedback events by source, success rate
    and the classifier's prior, most evidence first."""
    return {"cells": await learned_cells(services, tenant)}
