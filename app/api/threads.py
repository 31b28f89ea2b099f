"""Threads: the runs of one conversation, in the order they ran."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.api.problems import problem_responses
from app.api.tenant import TenantDep
from app.schemas.replay import ThreadRunPage
from app.schemas.storable import StorableStr
from app.services.container import Services
from app.services.run_history import thread_runs
from app.services.runs import CURSOR_PATTERN

router = APIRouter(prefix="/v1/threads", tags=["threads"], route_class=ProblemRoute)
ServicesDep = Annotated[Services, Depends(get_services)]


@router.get("/{thread_id}/runs", response_model=ThreadRunPage, responses=problem_responses(404))
async def list_thread_runs(
    thread_id: Annotated[StorableStr, Path(max_length=200, description="the thread's id")],
    services: ServicesDep,
    tenant: TenantDep,
    limit: int = Query(50, ge=1, le=200),
    cursor: Annotated[
        str | None,
        Query(pattern=CURSOR_PATTERN, description="`next_cursor` of the last page"),
    ] = None,
) -> ThreadRunPage:
    """Oldest first, each with the models whose answers it used; follow `next_cursor`."""
    return await thread_runs(services, thread_id, tenant, limit=limit, cursor=cursor)
