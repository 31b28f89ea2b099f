"""Human in the loop over `/v1`: resume a paused run; a thread's pending interrupts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.api.problems import problem_responses
from app.api.tenant import TenantDep
from app.schemas.interrupts import ResumeRun, ThreadInterrupts
from app.schemas.runs import RunOut
from app.schemas.storable import StorableStr
from app.services import interrupts
from app.services.container import Services

router = APIRouter(prefix="/v1", tags=["runs"], route_class=ProblemRoute)
ServicesDep = Annotated[Services, Depends(get_services)]


@router.post(
    "/runs/{run_id}/resume",
    status_code=202,
    response_model=RunOut,
    responses=problem_responses(404, 409),
)
async def resume_run(
    run_id: Annotated[StorableStr, Path(max_length=36, description="the paused run")],
    body: ResumeRun,
    services: ServicesDep,
    tenant: TenantDep,
) -> RunOut:
    """A new run on the paused run's thread that continues from its `interrupt()` with
    `resume` (and `update`/`goto`); calls made before the pause are not paid again."""
    run = await interrupts.resume_run(services, run_id, body, tenant)
    return RunOut.model_validate(run)


@router.get(
    "/threads/{thread_id}/interrupts",
    response_model=ThreadInterrupts,
    responses=problem_responses(404),
)
async def thread_interrupts(
    thread_id: Annotated[StorableStr, Path(max_length=200, description="the thread's id")],
    services: ServicesDep,
    tenant: TenantDep,
) -> ThreadInterrupts:
    """The tasks of the thread's latest state that wait for a resume (empty: none)."""
    found = await interrupts.thread_interrupts(services, thread_id, tenant)
    return ThreadInterrupts.model_validate(found)
