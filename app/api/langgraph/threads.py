"""`/threads`: create, read, search, copy, delete threads; their state and history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from langgraph.errors import InvalidUpdateError

from app.api.deps import ServicesDep
from app.api.tenant import TenantDep
from app.schemas.langgraph import (
    ThreadCreate,
    ThreadHistory,
    ThreadPatch,
    ThreadSearch,
    ThreadStateQuery,
    ThreadStateUpdate,
)
from app.schemas.storable import StorableStr
from app.services import lg_state, lg_threads
from app.services.container import Services
from app.services.errors import InvalidInput

router = APIRouter(prefix="/threads", tags=["langgraph"], include_in_schema=False)
ThreadId = Annotated[StorableStr, Path(max_length=150)]


@router.post("")
async def create_thread(
    body: ThreadCreate, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    return await lg_threads.create_thread(services, body, tenant)


@router.post("/search")
async def search_threads(
    body: ThreadSearch, services: ServicesDep, tenant: TenantDep
) -> list[dict[str, Any]]:
    return await lg_threads.search_threads(services, body, tenant)


@router.post("/count")
async def count_threads(body: ThreadSearch, services: ServicesDep, tenant: TenantDep) -> int:
    return await lg_threads.count_threads(services, body, tenant)


@router.get("/{thread_id}")
async def get_thread(
    thread_id: ThreadId, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    return await lg_threads.get_thread(services, thread_id, tenant)


@router.patch("/{thread_id}")
async def update_thread(
    thread_id: ThreadId, body: ThreadPatch, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    return await lg_threads.update_thread(services, thread_id, body, tenant)


@router.delete("/{thread_id}", status_code=204)
async def delete_thread(thread_id: ThreadId, services: ServicesDep, tenant: TenantDep) -> Response:
    await lg_threads.delete_thread(services, thread_id, tenant)
    return Response(status_code=204)


@router.post("/{thread_id}/copy")
async def copy_thread(
    thread_id: ThreadId, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    return await lg_threads.copy_thread(services, thread_id, tenant)


async def _state(
    services: Services,
    thread_id: str,
    tenant: str,
    checkpoint_id: str | None,
    subgraphs: bool,
) -> dict[str, Any]:
    compiled = await lg_threads.graph_of_thread(services, thread_id, tenant)
    if compiled is None:
        return lg_state.empty_state()
    state = await lg_state.thread_state(
        compiled, tenant, thread_id, checkpoint_id=checkpoint_id, subgraphs=subgraphs
    )
    return state if state is not None else lg_state.empty_state()


@router.get("/{thread_id}/state")
async def get_thread_state(
    thread_id: ThreadId,
    services: ServicesDep,
    tenant: TenantDep,
    subgraphs: bool = False,
) -> dict[str, Any]:
    return await _state(services, thread_id, tenant, None, subgraphs)


@router.get("/{thread_id}/state/{checkpoint_id}")
async def get_thread_state_at(
    thread_id: ThreadId,
    checkpoint_id: Annotated[StorableStr, Path(max_length=64)],
    services: ServicesDep,
    tenant: TenantDep,
    subgraphs: bool = False,
) -> dict[str, Any]:
    return await _state(services, thread_id, tenant, checkpoint_id, subgraphs)


@router.post("/{thread_id}/state/checkpoint")
async def get_thread_state_at_checkpoint(
    thread_id: ThreadId, body: ThreadStateQuery, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    checkpoint_id = body.checkpoint.checkpoint_id if body.checkpoint else None
    return await _state(services, thread_id, tenant, checkpoint_id, body.subgraphs)


@router.post("/{thread_id}/state")
async def update_thread_state(
    thread_id: ThreadId, body: ThreadStateUpdate, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    compiled = await lg_threads.graph_of_thread(services, thread_id, tenant)
    if compiled is None:
        raise InvalidInput(f"thread {thread_id} has no graph yet: run an assistant on it first")
    checkpoint_id = body.checkpoint_id or (
        body.checkpoint.checkpoint_id if body.checkpoint else None
    )
    try:
        return await lg_state.update_thread_state(
            compiled,
            tenant,
            thread_id,
            body.values,
            as_node=body.as_node,
            checkpoint_id=checkpoint_id,
        )
    except (InvalidUpdateError, ValueError, KeyError, TypeError) as exc:  # unknown node, bad values
        raise InvalidInput(f"cannot update the state: {exc}") from exc


@router.post("/{thread_id}/history")
async def thread_history(
    thread_id: ThreadId, body: ThreadHistory, services: ServicesDep, tenant: TenantDep
) -> list[dict[str, Any]]:
    compiled = await lg_threads.graph_of_thread(services, thread_id, tenant)
    if compiled is None:
        return []
    before = body.before
    if isinstance(before, dict):  # a Checkpoint, or a config holding one
        configurable = before.get("configurable") or {}
        before = before.get("checkpoint_id") or configurable.get("checkpoint_id")
    return await lg_state.thread_history(
        compiled,
        tenant,
        thread_id,
        limit=body.limit,
        before=str(before) if before else None,
        metadata=body.metadata,
        checkpoint_id=body.checkpoint.checkpoint_id if body.checkpoint else None,
    )


@router.get("/{thread_id}/history")
async def thread_history_get(
    thread_id: ThreadId,
    services: ServicesDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> list[dict[str, Any]]:
    return await thread_history(thread_id, ThreadHistory(limit=limit), services, tenant)
