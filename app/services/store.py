"""Use cases on LangGraph's store (long-term memory shared across threads), per tenant.

Answers are in the shapes of LangGraph's server (`Item.dict()`, `{"items"}`,
`{"namespaces"}`); a namespace label that is empty or holds a '.' is refused as it refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from app.db.store import TenantStore
from app.services.container import Services
from app.services.errors import InvalidInput

MAX_LIMIT = 1000


def tenant_store(services: Services, tenant_id: str) -> TenantStore:
    """`tenant_id`'s view of the store: what its graphs get as their `store`."""
    return TenantStore(services.store, tenant_id)


def namespace_of(labels: Sequence[Any], *, field: str = "namespace") -> tuple[str, ...]:
    """A namespace as the store takes it, or InvalidInput naming the bad label."""
    for label in labels:
        if not isinstance(label, str) or not label or "." in label:
            raise InvalidInput(
                f"{field}: namespace labels must be non-empty strings without periods; "
                f"got {label!r}"
            )
    return tuple(labels)


async def put_item(
    services: Services,
    tenant_id: str,
    namespace: Sequence[str],
    key: str,
    value: dict[str, Any],
    *,
    index: Literal[False] | list[str] | None = None,
    ttl: float | None = None,
) -> None:
    """Store or replace `value` under (namespace, key)."""
    labels = namespace_of(namespace)
    if not labels:
        raise InvalidInput("namespace: an item needs a namespace of at least one label")
    if ttl is not None and not services.store.supports_ttl:
        raise InvalidInput("ttl: this store does not expire items")
    store = tenant_store(services, tenant_id)
    await store.aput(
        labels,
        key,
        value,
        index=index,
        **({"ttl": ttl} if ttl is not None else {}),
    )


async def get_item(
    services: Services,
    tenant_id: str,
    namespace: Sequence[str],
    key: str,
    *,
    refresh_ttl: bool | None = None,
) -> dict[str, Any] | None:
    """The item, or None (LangGraph's server answers `null` for a missing item)."""
    item = await tenant_store(services, tenant_id).aget(
        namespace_of(namespace), key, refresh_ttl=refresh_ttl
    )
    return None if item is None else item.dict()


async def delete_item(
    services: Services, tenant_id: str, namespace: Sequence[str], key: str
) -> None:
    """Delete (namespace, key); deleting a missing item is not an error."""
    await tenant_store(services, tenant_id).adelete(namespace_of(namespace), key)


async def search_items(
    services: Services,
    tenant_id: str,
    namespace_prefix: Sequence[str],
    *,
    filter: dict[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
    query: str | None = None,
    refresh_ttl: bool | None = None,
) -> dict[str, Any]:
    """`{"items": [...]}` under the prefix, filtered by exact values of their fields."""
    _check_page(limit, offset)
    if query is not None and getattr(services.store, "index_config", None) is None:
        # Without an embedding index the store would ignore the query and answer as if
        # none was given: refuse it instead.
        raise InvalidInput("query: semantic search needs an embedding index; this store has none")
    items = await tenant_store(services, tenant_id).asearch(
        namespace_of(namespace_prefix, field="namespace_prefix"),
        filter=filter,
        limit=limit,
        offset=offset,
        query=query,
        refresh_ttl=refresh_ttl,
    )
    return {"items": [item.dict() for item in items]}


async def list_namespaces(
    services: Services,
    tenant_id: str,
    *,
    prefix: Sequence[str] | None = None,
    suffix: Sequence[str] | None = None,
    max_depth: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """`{"namespaces": [[...], ...]}` of the tenant's items."""
    _check_page(limit, offset)
    if max_depth is not None and max_depth < 1:
        raise InvalidInput("max_depth: must be at least 1")
    namespaces = await tenant_store(services, tenant_id).alist_namespaces(
        prefix=namespace_of(prefix, field="prefix") if prefix else None,
        suffix=namespace_of(suffix, field="suffix") if suffix else None,
        max_depth=max_depth,
        limit=limit,
        offset=offset,
    )
    return {"namespaces": [list(namespace) for namespace in namespaces]}


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InvalidInput("offset: must not be negative")
