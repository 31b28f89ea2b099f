"""Assistants of the LangGraph API: a graph with a configuration, versioned.

Every graph a tenant can run has a default assistant that is derived, not stored: its id
is the one LangGraph derives (`uuid5(NAMESPACE_GRAPH, graph_id)`), so a client that
computes it finds it, and the graph's name is accepted wherever an assistant id is.
Assistants a client creates are stored per tenant, each update a new version.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.db import lg_repo
from app.db.langgraph_models import LgAssistant, LgAssistantVersion
from app.db.models import utcnow
from app.schemas.langgraph import AssistantCreate, AssistantPatch, AssistantSearch
from app.services.container import Services
from app.services.errors import InvalidInput, ServiceError, UnknownGraph
from app.services.graph_registry import ResolvedGraph

# LangGraph's namespace for default assistant ids (langgraph_api's NAMESPACE_GRAPH).
NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
SYSTEM_CREATED = datetime(2026, 1, 1, tzinfo=utcnow().tzinfo)


class AssistantNotFound(ServiceError):
    status = 404
    title = "Assistant not found"


class AssistantConflict(ServiceError):
    status = 409
    title = "Assistant exists"


def default_assistant_id(graph_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE_GRAPH, graph_id))


@dataclass(frozen=True)
class Assistant:
    """An assistant as the API shows it (stored, or a graph's default)."""

    assistant_id: str
    graph_id: str
    name: str
    version: int = 1
    description: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=lambda: {"created_by": "system"})
    created_at: datetime = SYSTEM_CREATED
    updated_at: datetime = SYSTEM_CREATED
    stored: bool = False

    def json(self) -> dict[str, Any]:
        return {
            "assistant_id": self.assistant_id,
            "graph_id": self.graph_id,
            "config": self.config,
            "context": self.context,
            "metadata": self.metadata,
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _from_row(row: LgAssistant | LgAssistantVersion, stored: bool = True) -> Assistant:
    updated = row.updated_at if isinstance(row, LgAssistant) else row.created_at
    return Assistant(
        assistant_id=row.assistant_id,
        graph_id=row.graph_id,
        name=row.name,
        version=row.version,
        description=row.description,
        config=row.config,
        context=row.context,
        metadata=row.metadata_,
        created_at=row.created_at,
        updated_at=updated,
        stored=stored,
    )


async def graph_names(services: Services, tenant_id: str) -> list[str]:
    """Every graph the tenant can run (loaded code and its own specs)."""
    names = set(services.registry.loaded_names())
    names.update(graph.name for graph in await services.registry.spec_graphs(tenant_id))
    return sorted(names)


async def _graph(services: Services, graph_id: str, tenant_id: str) -> ResolvedGraph:
    try:
        return await services.registry.resolve(graph_id, tenant_id=tenant_id)
    except UnknownGraph as exc:
        available = await graph_names(services, tenant_id)
        raise InvalidInput(
            f"no graph named {graph_id!r}; graphs: {', '.join(available)}", available=available
        ) from exc


async def get_assistant(services: Services, ref: str, tenant_id: str) -> Assistant:
    """By id, default-assistant id or graph name; 404 for an unknown id, 422 for a name
    that is no graph. Loaded graphs are answered without a query."""
    for name in services.registry.loaded_names():
        if ref in (name, default_assistant_id(name)):
            return Assistant(default_assistant_id(name), name, name)
    async with services.sessions() as session:
        row = await lg_repo.get_assistant(session, tenant_id, ref)
    if row is not None:
        return _from_row(row)
    names = await graph_names(services, tenant_id)
    for name in names:
        if ref in (name, default_assistant_id(name)):
            return Assistant(default_assistant_id(name), name, name)
    if _is_uuid(ref):
        raise AssistantNotFound(f"Assistant {ref} not found")
    raise InvalidInput(
        f"{ref!r} is neither an assistant id nor a graph; graphs: {', '.join(names)}",
        available=names,
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def create_assistant(services: Services, body: AssistantCreate, tenant_id: str) -> Assistant:
    await _graph(services, body.graph_id, tenant_id)
    assistant_id = body.assistant_id or str(uuid.uuid4())
    if not _is_uuid(assistant_id):
        raise InvalidInput(f"assistant_id {assistant_id!r} is not a UUID")
    if assistant_id in {default_assistant_id(n) for n in await graph_names(services, tenant_id)}:
        raise AssistantConflict(f"Assistant {assistant_id} is a graph's default assistant")
    async with services.sessions.begin() as session:
        existing = await session.get(LgAssistant, assistant_id)
        if existing is not None:
            if body.if_exists == "do_nothing" and existing.tenant_id == tenant_id:
                return _from_row(existing)
            raise AssistantConflict(f"Assistant {assistant_id} already exists")
        now = utcnow()
        row = LgAssistant(
            assistant_id=assistant_id,
            tenant_id=tenant_id,
            graph_id=body.graph_id,
            name=body.name or "Untitled",
            description=body.description,
            config=body.config or {},
            context=body.context or {},
            metadata_=body.metadata or {},
            version=1,
            created_at=now,
            updated_at=now,
        )
        lg_repo.add_assistant(session, row)
    return _from_row(row)


async def _stored(services: Services, ref: str, tenant_id: str) -> Assistant:
    assistant = await get_assistant(services, ref, tenant_id)
    if not assistant.stored:
        raise AssistantConflict(
            f"assistant {assistant.assistant_id} is graph {assistant.graph_id!r}'s default; "
            "create an assistant to configure it"
        )
    return assistant


async def update_assistant(
    services: Services, ref: str, body: AssistantPatch, tenant_id: str
) -> Assistant:
    assistant = await _stored(services, ref, tenant_id)
    if body.graph_id is not None:
        await _graph(services, body.graph_id, tenant_id)
    changes = {
        key if key != "metadata" else "metadata_": value
        for key, value in body.model_dump(exclude_unset=True).items()
        if value is not None
    }
    if "metadata_" in changes:
        changes["metadata_"] = {**assistant.metadata, **changes["metadata_"]}
    async with services.sessions.begin() as session:
        row = await lg_repo.get_assistant(session, tenant_id, assistant.assistant_id)
        if row is None:
            raise AssistantNotFound(f"Assistant {ref} not found")
        row = await lg_repo.new_assistant_version(session, row, changes)
        return _from_row(row)


async def delete_assistant(services: Services, ref: str, tenant_id: str) -> None:
    assistant = await _stored(services, ref, tenant_id)
    async with services.sessions.begin() as session:
        await lg_repo.delete_assistant(session, assistant.assistant_id)


async def search_assistants(
    services: Services, body: AssistantSearch, tenant_id: str
) -> list[Assistant]:
    """Defaults of every graph first, then stored ones, filtered; `limit`/`offset` apply."""
    found = [
        Assistant(default_assistant_id(name), name, name)
        for name in await graph_names(services, tenant_id)
    ]
    async with services.sessions() as session:
        rows = await lg_repo.search_assistants(session, tenant_id, graph_id=None, name=None)
    found.extend(_from_row(row) for row in rows)
    matching = [a for a in found if _matches(a, body)]
    return matching[body.offset : body.offset + body.limit]


async def count_assistants(services: Services, body: AssistantSearch, tenant_id: str) -> int:
    """How many assistants match (up to 10,000), whatever `limit`/`offset` say."""
    everything = body.model_copy(update={"limit": 10_000, "offset": 0})
    return len(await search_assistants(services, everything, tenant_id))


def _matches(assistant: Assistant, body: AssistantSearch) -> bool:
    if body.graph_id is not None and assistant.graph_id != body.graph_id:
        return False
    if body.name is not None and body.name.lower() not in assistant.name.lower():
        return False
    return all(assistant.metadata.get(k) == v for k, v in (body.metadata or {}).items())


async def assistant_versions(
    services: Services, ref: str, tenant_id: str, *, limit: int, offset: int
) -> list[Assistant]:
    assistant = await get_assistant(services, ref, tenant_id)
    if not assistant.stored:
        return [assistant] if offset == 0 else []
    async with services.sessions() as session:
        rows = await lg_repo.assistant_versions(
            session, assistant.assistant_id, limit=limit, offset=offset
        )
    return [_from_row(row) for row in rows]


async def set_latest_version(
    services: Services, ref: str, version: int, tenant_id: str
) -> Assistant:
    assistant = await _stored(services, ref, tenant_id)
    async with services.sessions.begin() as session:
        chosen = await lg_repo.assistant_version(session, assistant.assistant_id, version)
        row = await lg_repo.get_assistant(session, tenant_id, assistant.assistant_id)
        if chosen is None or row is None:
            raise AssistantNotFound(f"Assistant {ref} has no version {version}")
        row.version = chosen.version
        row.graph_id, row.name, row.description = chosen.graph_id, chosen.name, chosen.description
        row.config, row.context, row.metadata_ = chosen.config, chosen.context, chosen.metadata_
        row.updated_at = utcnow()
        return _from_row(row)


async def assistant_graph(services: Services, ref: str, tenant_id: str) -> ResolvedGraph:
    assistant = await get_assistant(services, ref, tenant_id)
    return await _graph(services, assistant.graph_id, tenant_id)
