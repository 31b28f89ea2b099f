"""A/B experiments of routing policies and spec versions: create, read with the arms
compared, list, stop with the arm that gets all traffic."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.api.problems import problem_responses
from app.api.tenant import TenantDep
from app.schemas.experiments import ExperimentBrief, ExperimentIn, ExperimentOut, StopIn
from app.schemas.storable import StorableStr
from app.services import experiments as experiment_service
from app.services.container import Services
from app.services.experiments import brief

router = APIRouter(prefix="/v1/experiments", tags=["experiments"], route_class=ProblemRoute)
ServicesDep = Annotated[Services, Depends(get_services)]
ExperimentId = Annotated[StorableStr, Path(max_length=36, description="the experiment's id")]


@router.post(
    "", status_code=201, response_model=ExperimentBrief, responses=problem_responses(409, 422)
)
async def create_experiment(
    body: ExperimentIn, services: ServicesDep, tenant: TenantDep
) -> ExperimentBrief:
    """Split the target's traffic between the arms by weight, from now on. 409 while
    another experiment on the same target runs; 422 for an arm the target cannot use."""
    return brief(await experiment_service.create_experiment(services, tenant, body))


@router.get("", response_model=list[ExperimentBrief])
async def list_experiments(
    services: ServicesDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ExperimentBrief]:
    """The tenant's experiments, newest first."""
    return await experiment_service.list_experiments(services, tenant, limit)


@router.get("/{experiment_id}", response_model=ExperimentOut, responses=problem_responses(404))
async def get_experiment(
    experiment_id: ExperimentId, services: ServicesDep, tenant: TenantDep
) -> ExperimentOut:
    """The arms compared on cost per request, latency, error rate and feedback score, with
    95% confidence intervals, and which differences from the first arm are significant."""
    return await experiment_service.get_experiment(services, tenant, experiment_id)


@router.post(
    "/{experiment_id}/stop",
    response_model=ExperimentOut,
    responses=problem_responses(404, 409, 422),
)
async def stop_experiment(
    experiment_id: ExperimentId, body: StopIn, services: ServicesDep, tenant: TenantDep
) -> ExperimentOut:
    """Stop the experiment: every later request of its target goes to `arm`. The
    comparison keeps the traffic served while it ran."""
    return await experiment_service.stop_experiment(services, tenant, experiment_id, body.arm)
