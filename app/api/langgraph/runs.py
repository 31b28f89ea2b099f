"""Runs of the LangGraph API: on a thread (`/threads/{id}/runs...`) and stateless
(`/runs...`): create, stream, wait, list, get, delete, cancel, join, join stream."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.admission import release_slot
from app.api.deps import get_services
from app.api.langgraph.errors import LangGraphAPIError
from app.api.langgraph.sse import open_lg_stream
from app.api.tenant import TenantDep
from app.db.models import Run
from app.schemas.langgraph import CancelMany, RunCreate, StreamModeName
from app.schemas.storable import StorableStr
from app.services import lg_runs
from app.services.container import Services
from app.services.runs import wait_for_run, wait_for_run_state
from app.services.stream_ids import START, StreamId, parse_id

router = APIRouter(tags=["langgraph"], include_in_schema=False)
ServicesDep = Annotated[Services, Depends(get_services)]
ThreadId = Annotated[StorableStr, Path(max_length=150)]
RunId = Annotated[StorableStr, Path(max_length=36)]
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def last_stream_id(
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
) -> StreamId:
    """The chunk to resume after (`<epoch>-<n>`, as the stream's ids): from the start
    when the header is absent."""
    if last_event_id is None or not last_event_id.strip():
        return START
    parsed = parse_id(last_event_id.strip())
    if parsed is None:
        raise LangGraphAPIError(422, f"Last-Event-ID {last_event_id!r} is not an id of this stream")
    return parsed


LastStreamId = Annotated[StreamId, Depends(last_stream_id)]


def _location(run: Run) -> str:
    return f"/threads/{run.thread_id}/runs/{run.id}"


async def _create(
    services: Services, body: RunCreate, tenant: str, thread_id: str | None, modes: list[str]
) -> Run:
    return await lg_runs.create_run(services, body, tenant, thread_id, stream_modes=modes)


async def _stream_response(services: Services, run: Run, body: RunCreate) -> StreamingResponse:
    on_disconnect = None
    if body.on_disconnect == "cancel":

        async def on_disconnect() -> None:
            await lg_runs.cancel_runs(services, [run])

    stream = await open_lg_stream(
        services, run.id, run_modes=body.stream_modes(), on_disconnect=on_disconnect
    )
    headers = {
        **STREAM_HEADERS,
        "Location": f"{_location(run)}/stream",
        "Content-Location": _location(run),
    }
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _wait_response(
    request: Request, services: Services, run: Run, *, just_queued: bool = True
) -> JSONResponse:
    release_slot(request)  # waiting for the worker, not working
    timeout = services.settings.run_timeout_seconds + 60
    # A run just queued, with nothing awaited since its commit, needs no second read.
    enqueued = run if just_queued else None
    finished, left = await wait_for_run_state(
        services, run.id, timeout, enqueued=enqueued, needs_output=False
    )
    headers = {"Location": f"{_location(run)}/join", "Content-Location": _location(run)}
    return JSONResponse(await lg_runs.run_result(services, finished, left), headers=headers)


# -- on a thread ----------------------------------------------------------------------------
@router.post("/threads/{thread_id}/runs")
async def create_run(
    thread_id: ThreadId, body: RunCreate, services: ServicesDep, tenant: TenantDep
) -> JSONResponse:
    run = await _create(services, body, tenant, thread_id, body.stream_modes())
    return JSONResponse(lg_runs.run_json(run), headers={"Content-Location": _location(run)})


@router.post("/threads/{thread_id}/runs/stream")
async def stream_run(
    thread_id: ThreadId, body: RunCreate, services: ServicesDep, tenant: TenantDep
) -> StreamingResponse:
    run = await _create(services, body, tenant, thread_id, body.stream_modes())
    return await _stream_response(services, run, body)


@router.post("/threads/{thread_id}/runs/wait")
async def wait_run(
    request: Request, thread_id: ThreadId, body: RunCreate, services: ServicesDep, tenant: TenantDep
) -> JSONResponse:
    run = await _create(services, body, tenant, thread_id, [])
    return await _wait_response(request, services, run)


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: ThreadId,
    services: ServicesDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: Literal["pending", "running", "error", "success", "timeout", "interrupted"]
    | None = None,
) -> list[dict[str, Any]]:
    runs = await lg_runs.list_thread_runs(
        services, thread_id, tenant, limit=limit, offset=offset, status=status
    )
    return [lg_runs.run_json(run) for run in runs if not (run.lg or {}).get("deleted")]


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(
    thread_id: ThreadId, run_id: RunId, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    return lg_runs.run_json(await lg_runs.get_thread_run(services, thread_id, run_id, tenant))


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204)
async def delete_run(
    thread_id: ThreadId, run_id: RunId, services: ServicesDep, tenant: TenantDep
) -> Response:
    await lg_runs.delete_run(services, thread_id, run_id, tenant)
    return Response(status_code=204)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(
    request: Request,
    thread_id: ThreadId,
    run_id: RunId,
    services: ServicesDep,
    tenant: TenantDep,
    wait: Annotated[bool, Query()] = False,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:
    run = await lg_runs.get_thread_run(services, thread_id, run_id, tenant)
    await lg_runs.cancel_runs(services, [run])
    if action == "rollback":
        await lg_runs.delete_after_cancel(services, run)
    if wait:
        release_slot(request)
        await wait_for_run(services, run.id, services.settings.run_timeout_seconds + 60)
        return Response(status_code=204)
    return Response(status_code=202)


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(
    request: Request, thread_id: ThreadId, run_id: RunId, services: ServicesDep, tenant: TenantDep
) -> JSONResponse:
    run = await lg_runs.get_thread_run(services, thread_id, run_id, tenant)
    return await _wait_response(request, services, run, just_queued=False)


@router.get("/threads/{thread_id}/runs/{run_id}/stream")
async def join_stream(
    thread_id: ThreadId,
    run_id: RunId,
    services: ServicesDep,
    tenant: TenantDep,
    after: LastStreamId,
    stream_mode: Annotated[list[StreamModeName | Literal[""]] | None, Query()] = None,
    cancel_on_disconnect: bool = False,
) -> StreamingResponse:
    run = await lg_runs.get_thread_run(services, thread_id, run_id, tenant)
    on_disconnect = None
    if cancel_on_disconnect:

        async def on_disconnect() -> None:
            await lg_runs.cancel_runs(services, [run])

    stream = await open_lg_stream(
        services,
        run.id,
        after=after,
        run_modes=list((run.lg or {}).get("stream_modes") or []),
        modes={m for m in stream_mode or [] if m} or None,  # the SDK sends "" for none
        on_disconnect=on_disconnect,
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=STREAM_HEADERS)


# -- stateless --------------------------------------------------------------------------------
@router.post("/runs")
async def create_stateless_run(
    body: RunCreate, services: ServicesDep, tenant: TenantDep
) -> JSONResponse:
    run = await _create(services, body, tenant, None, body.stream_modes())
    return JSONResponse(lg_runs.run_json(run), headers={"Content-Location": _location(run)})


@router.post("/runs/stream")
async def stream_stateless_run(
    body: RunCreate, services: ServicesDep, tenant: TenantDep
) -> StreamingResponse:
    run = await _create(services, body, tenant, None, body.stream_modes())
    return await _stream_response(services, run, body)


@router.post("/runs/wait")
async def wait_stateless_run(
    request: Request, body: RunCreate, services: ServicesDep, tenant: TenantDep
) -> JSONResponse:
    run = await _create(services, body, tenant, None, [])
    return await _wait_response(request, services, run)


@router.post("/runs/batch")
async def create_runs_batch(
    body: list[RunCreate], services: ServicesDep, tenant: TenantDep
) -> list[dict[str, Any]]:
    runs = [await _create(services, item, tenant, None, item.stream_modes()) for item in body]
    return [lg_runs.run_json(run) for run in runs]


@router.post("/runs/cancel", status_code=204)
async def cancel_many(body: CancelMany, services: ServicesDep, tenant: TenantDep) -> Response:
    await lg_runs.cancel_many(services, body, tenant)
    return Response(status_code=204)
