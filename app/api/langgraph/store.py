"""`/store`: LangGraph's long-term memory (items in namespaces), the tenant's own."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from app.api.deps import get_services
from app.api.tenant import TenantDep
from app.schemas.lg_store import StoreDelete, StoreListNamespaces, StorePut, StoreSearch
from app.schemas.storable import StorableStr
from app.services import store
from app.services.container import Services

router = APIRouter(prefix="/store", tags=["langgraph"], include_in_schema=False)
ServicesDep = Annotated[Services, Depends(get_services)]


@router.put("/items", status_code=204)
async def put_item(body: StorePut, services: ServicesDep, tenant: TenantDep) -> Response:
    await store.put_item(
        services, tenant, body.namespace, body.key, body.value, index=body.index, ttl=body.ttl
    )
    return Response(status_code=204)


@router.get("/items")
async def get_item(
    services: ServicesDep,
    tenant: TenantDep,
    key: Annotated[StorableStr, Query(min_length=1, max_length=1000)],
    namespace: Annotated[StorableStr, Query(max_length=10_000)] = "",
    refresh_ttl: bool | None = None,
) -> dict[str, Any] | None:
    """The item, or `null` when there is none (as LangGraph's server answers)."""
    labels = namespace.split(".") if namespace else []
    return await store.get_item(services, tenant, labels, key, refresh_ttl=refresh_ttl)


@router.delete("/items", status_code=204)
async def delete_item(body: StoreDelete, services: ServicesDep, tenant: TenantDep) -> Response:
    await store.delete_item(services, tenant, body.namespace, body.key)
    return Response(status_code=204)


@router.post("/items/search")
async def search_items(body: StoreSearch, services: ServicesDep, tenant: TenantDep) -> Any:
    return await store.search_items(
        services,
        tenant,
        body.namespace_prefix,
        filter=body.filter,
        limit=body.limit,
        offset=body.offset,
        query=body.query,
        refresh_ttl=body.refresh_ttl,
    )


@router.post("/namespaces")
async def list_namespaces(
    body: StoreListNamespaces, services: ServicesDep, tenant: TenantDep
) -> Any:
    return await store.list_namespaces(
        services,
        tenant,
        prefix=body.prefix,
        suffix=body.suffix,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
