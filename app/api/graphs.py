"""Graphs: the ones this service can run, each with its version and input schema."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.schemas.runs import GraphOut
from app.services.container import Services

router = APIRouter(prefix="/v1/graphs", tags=["graphs"], route_class=ProblemRoute)


@router.get("", response_model=list[GraphOut])
async def list_graphs(services: Services = Depends(get_services)) -> list[GraphOut]:
    """The graphs this service can run, each at the version it runs."""
    return [
        GraphOut(
            name=graph.name,
            version=graph.version,
            source=graph.definition.source,
            description=graph.definition.description,
            input_schema=graph.definition.input_schema,
            nodes=graph.definition.nodes,
        )
        for graph in services.registry.loaded()
    ]
