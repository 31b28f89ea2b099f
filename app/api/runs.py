"""Runs: submit, read, list, cancel, model calls, and the SSE event stream."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import StreamingResponse

from app.api.deps import get_services
from app.api.run_events import open_run_events
from app.db import ledger_repo, runs_repo
from app.schemas.runs import ModelCallOut, RunOut, RunPage, RunStatus, SubmitRun
from app.services import runs as run_service
from app.services.container import Services
from app.services.errors import InvalidInput, RunNotFound

router = APIRouter(prefix="/v1/runs", tags=["runs"])
ServicesDep = Annotated[Services, Depends(get_services)]


@router.post("", status_code=202, response_model=RunOut)
async def submit_run(
    body: SubmitRun,
    response: Response,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    wait: Annotated[
        bool, Query(description="answer when the run has ended (or after `timeout` seconds)")
    ] = False,
    timeout_s: Annotated[
        float, Query(alias="timeout", gt=0, le=600, description="with wait: seconds")
    ] = 60.0,
) -> RunOut:
    """Queue a run; a worker executes it. Same `Idempotency-Key`, same run. With
    `?wait=true` the answer is the finished run (200), or the run as it is after `timeout`
    (202)."""
    run, created = await run_service.submit_run(services, body, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/v1/runs/{run.id}"
    if wait:
        run = await run_service.wait_for_run(services, run.id, timeout_s)
        response.status_code = 200 if run.status not in ("queued", "running") else 202
    elif not created:
        response.status_code = 200
    return RunOut.model_validate(run)


@router.get("", response_model=RunPage)
async def list_runs(
    services: ServicesDep,
    status: RunStatus | None = None,
    graph: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=500),
) -> RunPage:
    """Newest first; follow `next_cursor` for more."""
    try:
        async with services.sessions() as session:
            rows, next_cursor = await runs_repo.list_runs(
                session, status=status, graph=graph, limit=limit, cursor=cursor
            )
    except ValueError as exc:
        raise InvalidInput(f"cursor: {exc}") from exc
    return RunPage(items=[RunOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{run_id}", response_model=RunOut)
async def get_run(run_id: str, services: ServicesDep) -> RunOut:
    return RunOut.model_validate(await run_service.get_run(services, run_id))


@router.post("/{run_id}/cancel", status_code=202, response_model=RunOut)
async def cancel_run(run_id: str, services: ServicesDep) -> RunOut:
    """Cancel now if queued; a running run stops before its next node or model call."""
    return RunOut.model_validate(await run_service.cancel_run(services, run_id))


@router.get("/{run_id}/calls", response_model=list[ModelCallOut])
async def list_model_calls(run_id: str, services: ServicesDep) -> list[ModelCallOut]:
    """The run's ledger: every model attempt with tokens, cost, latency and route reason."""
    await run_service.get_run(services, run_id)
    async with services.sessions() as session:
        calls = await ledger_repo.calls_for_run(session, run_id)
    return [ModelCallOut.model_validate(c) for c in calls]


@router.get("/{run_id}/events", response_class=StreamingResponse)
async def run_events(
    run_id: str,
    services: ServicesDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events until the run ends; resumes after `Last-Event-ID`."""
    after = 0
    if last_event_id:
        text = last_event_id.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 9):
            raise InvalidInput("Last-Event-ID must be an event sequence number")
        after = int(text)
    stream = await open_run_events(services, run_id, after)
    if stream is None:
        raise RunNotFound(f"no run with id {run_id!r}")
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
