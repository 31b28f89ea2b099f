"""`/assistants`: LangGraph's assistants over routegraph's graph registry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from app.api.deps import ServicesDep
from app.api.tenant import TenantDep
from app.schemas.langgraph import (
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    AssistantVersionsSearch,
    SetLatest,
)
from app.schemas.storable import StorableStr
from app.services import lg_assistants as assistants
from app.services.lg_graph_info import graph_drawing, graph_schemas

router = APIRouter(prefix="/assistants", tags=["langgraph"], include_in_schema=False)
AssistantRef = Annotated[StorableStr, Path(max_length=100)]


@router.post("")
async def create_assistant(
    body: AssistantCreate, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    return (await assistants.create_assistant(services, body, tenant)).json()


@router.post("/search")
async def search_assistants(
    body: AssistantSearch, services: ServicesDep, tenant: TenantDep
) -> list[dict[str, Any]]:
    return [a.json() for a in await assistants.search_assistants(services, body, tenant)]


@router.post("/count")
async def count_assistants(body: AssistantSearch, services: ServicesDep, tenant: TenantDep) -> int:
    return await assistants.count_assistants(services, body, tenant)


@router.get("/{assistant_id}")
async def get_assistant(
    assistant_id: AssistantRef, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    return (await assistants.get_assistant(services, assistant_id, tenant)).json()


@router.patch("/{assistant_id}")
async def update_assistant(
    assistant_id: AssistantRef, body: AssistantPatch, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    return (await assistants.update_assistant(services, assistant_id, body, tenant)).json()


@router.delete("/{assistant_id}", status_code=204)
async def delete_assistant(
    assistant_id: AssistantRef, services: ServicesDep, tenant: TenantDep
) -> Response:
    await assistants.delete_assistant(services, assistant_id, tenant)
    return Response(status_code=204)


@router.post("/{assistant_id}/versions")
async def assistant_versions(
    assistant_id: AssistantRef,
    body: AssistantVersionsSearch,
    services: ServicesDep,
    tenant: TenantDep,
) -> list[dict[str, Any]]:
    found = await assistants.assistant_versions(
        services, assistant_id, tenant, limit=body.limit, offset=body.offset
    )
    return [a.json() for a in found]


@router.post("/{assistant_id}/latest")
async def set_latest_version(
    assistant_id: AssistantRef, body: SetLatest, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    chosen = await assistants.set_latest_version(services, assistant_id, body.version, tenant)
    return chosen.json()


@router.get("/{assistant_id}/graph")
async def get_assistant_graph(
    assistant_id: AssistantRef,
    services: ServicesDep,
    tenant: TenantDep,
    xray: Annotated[int | bool, Query()] = False,
) -> dict[str, Any]:
    graph = await assistants.assistant_graph(services, assistant_id, tenant)
    return graph_drawing(services, graph, xray)


@router.get("/{assistant_id}/schemas")
async def get_assistant_schemas(
    assistant_id: AssistantRef, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    graph = await assistants.assistant_graph(services, assistant_id, tenant)
    return graph_schemas(services, graph)
