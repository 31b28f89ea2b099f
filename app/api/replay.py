"""Debugging runs: the timeline, deterministic replay, fork, and the checkpoints to fork from."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from app.api.deps import ServicesDep
from app.api.json_route import ProblemRoute
from app.api.new_run import Timeout, new_run_responses, run_links
from app.api.problems import problem_responses
from app.api.tenant import TenantDep
from app.db.models import Run
from app.run_status import is_terminal
from app.schemas.replay import CheckpointOut, ForkRequest, ReplayRequest
from app.schemas.runs import RunOut
from app.schemas.storable import StorableStr
from app.schemas.timeline import TimelineOut
from app.services import runs as run_service
from app.services.container import Services
from app.services.forks import submit_fork
from app.services.replays import submit_replay
from app.services.run_history import list_checkpoints
from app.services.timeline import run_timeline

router = APIRouter(prefix="/v1/runs", tags=["debugging"], route_class=ProblemRoute)
RunId = Annotated[StorableStr, Path(description="the run's id")]
Wait = Annotated[
    bool, Query(description="answer when the new run has ended (or after `timeout` seconds)")
]
_NEW_RUN_LINKS = run_links(
    [
        ("GetRun", "get_run"),
        ("RunTimeline", "get_run_timeline"),
        ("RunCheckpoints", "list_run_checkpoints"),
        ("ListModelCalls", "list_model_calls"),
    ]
)
# Replay and fork both answer with the new run they queued.
_NEW_RUN_ROUTE: dict[str, Any] = {
    "status_code": 202,
    "response_model": RunOut,
    "responses": {
        **new_run_responses(
            queued="Queued (or still running after `timeout`)",
            done="With wait: the new run has ended",
            location="the new run's URL",
            links=_NEW_RUN_LINKS,
        ),
        **problem_responses(404, 409),
    },
}


async def _answer(
    services: Services, run: Run, response: Response, wait: bool, timeout_s: float
) -> RunOut:
    response.headers["Location"] = f"/v1/runs/{run.id}"
    if wait:
        run = await run_service.wait_for_run(services, run.id, timeout_s)
        response.status_code = 200 if is_terminal(run.status) else 202
    return RunOut.model_validate(run)


@router.get("/{run_id}/timeline", response_model=TimelineOut, responses=problem_responses(404))
async def get_run_timeline(
    run_id: RunId,
    services: ServicesDep,
    tenant: TenantDep,
    max_chars: Annotated[
        int, Query(ge=40, le=100_000, description="strings longer than this are cut")
    ] = 2000,
) -> TimelineOut:
    """Every step in order: its nodes, the state they read, what changed, how long it took,
    and each model call with its route, reason, tokens, cost, latency, fallbacks and errors."""
    return await run_timeline(services, run_id, tenant, max_chars)


@router.get(
    "/{run_id}/checkpoints",
    response_model=list[CheckpointOut],
    responses=problem_responses(404, 409),
)
async def list_run_checkpoints(
    run_id: RunId, services: ServicesDep, tenant: TenantDep
) -> list[CheckpointOut]:
    """The checkpoints the run wrote, oldest first: where a fork can start."""
    return await list_checkpoints(services, run_id, tenant)


@router.post("/{run_id}/replay", **_NEW_RUN_ROUTE)
async def replay_run(
    run_id: RunId,
    body: ReplayRequest,
    response: Response,
    services: ServicesDep,
    tenant: TenantDep,
    wait: Wait = False,
    timeout_s: Timeout = 60.0,
) -> RunOut:
    """Re-execute a finished run as a new run (`replay_of`) whose model calls are answered
    from the run's ledger: no provider is called, it costs $0. Its `replay` says whether it
    reproduced the run and, if not, the first step where it diverged and how."""
    run = await submit_replay(services, run_id, body, tenant)
    return await _answer(services, run, response, wait, timeout_s)


@router.post("/{run_id}/fork", **_NEW_RUN_ROUTE)
async def fork_run(
    run_id: RunId,
    body: ForkRequest,
    response: Response,
    services: ServicesDep,
    tenant: TenantDep,
    wait: Wait = False,
    timeout_s: Timeout = 60.0,
) -> RunOut:
    """Start a new run (`parent_run_id`) from one of the run's checkpoints, with the state
    patch applied and nodes pinned to other tiers or models; the steps after the checkpoint
    call models live."""
    run = await submit_fork(services, run_id, body, tenant)
    return await _answer(services, run, response, wait, timeout_s)
