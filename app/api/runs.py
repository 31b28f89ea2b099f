"""Runs: submit, read, list, cancel, model calls, and the SSE event stream."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.api.admission import release_slot
from app.api.auth import Principal, get_principal
from app.api.deps import ServicesDep
from app.api.headers import IdempotencyKey, LastEventSeq
from app.api.json_route import ProblemRoute
from app.api.new_run import Timeout, new_run_responses, run_links
from app.api.problems import problem_responses
from app.api.run_events import open_run_events
from app.api.tenant import TenantDep
from app.run_status import is_terminal
from app.schemas.runs import (
    ModelCallOut,
    RunEventOut,
    RunOut,
    RunPage,
    RunStatus,
    SubmitRun,
)
from app.schemas.storable import StorableStr
from app.services import runs as run_service
from app.services.dashboard_window import DATE_TIME, DATE_TIME_SCHEMA, parse_time
from app.services.errors import RunNotFound
from app.services.runs import CURSOR_PATTERN

router = APIRouter(prefix="/v1/runs", tags=["runs"], route_class=ProblemRoute)
PrincipalDep = Annotated[Principal, Depends(get_principal)]
RunId = Annotated[StorableStr, Path(description="the run's id")]

# What a client (and schemathesis' stateful phase) can do next with a run it submitted.
_RUN_LINKS = run_links(
    [
        ("GetRun", "get_run"),
        ("CancelRun", "cancel_run"),
        ("ListModelCalls", "list_model_calls"),
        ("RunEvents", "run_events"),
        ("RateRun", "rate_run"),
        ("RunTimeline", "get_run_timeline"),
        ("RunCheckpoints", "list_run_checkpoints"),
        ("ReplayRun", "replay_run"),
    ]
)
_SUBMITTED = new_run_responses(
    queued="Queued",
    done="This Idempotency-Key already queued this run",
    location="the run's URL",
    links=_RUN_LINKS,
)
_EVENT_STREAM = {
    "description": "Server-Sent Events until the run ends; each event's `data` is a RunEventOut",
    "content": {
        "text/event-stream": {
            "schema": {
                "type": "object",
                "required": ["id", "event", "data"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[0-9]+$"},
                    "event": {"type": "string"},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": RunEventOut.model_json_schema(),
                    },
                },
            }
        }
    },
}


@router.post(
    "",
    status_code=202,
    response_model=RunOut,
    responses={**_SUBMITTED, **problem_responses(404, 409)},
)
async def submit_run(
    body: SubmitRun,
    request: Request,
    response: Response,
    services: ServicesDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
    wait: Annotated[
        bool, Query(description="answer when the run has ended (or after `timeout` seconds)")
    ] = False,
    timeout_s: Timeout = 60.0,
) -> RunOut:
    """Queue a run; a worker executes it. Same `Idempotency-Key`, same run. With
    `?wait=true` the answer is the finished run (200), or the run as it is after `timeout`
    (202)."""
    run, created = await run_service.submit_run(
        services,
        body,
        idempotency_key=idempotency_key,
        tenant_id=principal.tenant_id,
        key_id=principal.key_id,
        user=principal.key_id,
    )
    response.headers["Location"] = f"/v1/runs/{run.id}"
    if wait:
        release_slot(request)  # waiting for the worker, not working
        enqueued = run if created else None  # nothing awaited since its commit
        run = await run_service.wait_for_run(services, run.id, timeout_s, enqueued=enqueued)
        response.status_code = 200 if is_terminal(run.status) else 202
    elif not created:
        response.status_code = 200
    return RunOut.model_validate(run)


@router.get("", response_model=RunPage)
async def list_runs(
    services: ServicesDep,
    tenant: TenantDep,
    status: RunStatus | None = None,
    graph: Annotated[StorableStr | None, Query(max_length=100)] = None,
    limit: int = Query(50, ge=1, le=200),
    cursor: Annotated[
        str | None,
        Query(pattern=CURSOR_PATTERN, description="`next_cursor` of the last page"),
    ] = None,
    since: Annotated[
        str | None,
        Query(
            pattern=DATE_TIME,
            json_schema_extra=DATE_TIME_SCHEMA,
            description="created at or after (RFC 3339)",
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            pattern=DATE_TIME,
            json_schema_extra=DATE_TIME_SCHEMA,
            description="created before (RFC 3339)",
        ),
    ] = None,
) -> RunPage:
    """Newest first; follow `next_cursor` for more."""
    rows, next_cursor = await run_service.list_runs(
        services,
        tenant,
        status=status,
        graph=graph,
        limit=limit,
        cursor=cursor,
        created_since=parse_time(since, "since"),
        created_until=parse_time(until, "until"),
    )
    return RunPage(items=[RunOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{run_id}", response_model=RunOut, responses=problem_responses(404))
async def get_run(run_id: RunId, services: ServicesDep, tenant: TenantDep) -> RunOut:
    return RunOut.model_validate(await run_service.get_run(services, run_id, tenant))


@router.post(
    "/{run_id}/cancel",
    status_code=202,
    response_model=RunOut,
    responses=problem_responses(404, 409),
)
async def cancel_run(run_id: RunId, services: ServicesDep, tenant: TenantDep) -> RunOut:
    """Cancel now if queued; a running run stops before its next node or model call."""
    return RunOut.model_validate(await run_service.cancel_run(services, run_id, tenant))


@router.get("/{run_id}/calls", response_model=list[ModelCallOut], responses=problem_responses(404))
async def list_model_calls(
    run_id: RunId, services: ServicesDep, tenant: TenantDep
) -> list[ModelCallOut]:
    """The run's ledger: every model attempt with tokens, cost, latency and route reason."""
    calls = await run_service.run_calls(services, run_id, tenant)
    return [ModelCallOut.model_validate(c) for c in calls]


@router.get(
    "/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: _EVENT_STREAM, **problem_responses(404)},
)
async def run_events(
    run_id: RunId, services: ServicesDep, tenant: TenantDep, after: LastEventSeq
) -> StreamingResponse:
    """Server-Sent Events until the run ends; resumes after `Last-Event-ID`."""
    await run_service.get_run(services, run_id, tenant)  # 404 for another tenant's run
    stream = await open_run_events(services, run_id, after)
    if stream is None:
        raise RunNotFound(f"no run with id {run_id!r}")
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
