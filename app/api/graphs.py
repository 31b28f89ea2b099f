"""Graphs: the ones this service can run, each with its input schema."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.db import graphs_repo
from app.schemas.runs import GraphOut
from app.services.container import Services

router = APIRouter(prefix="/v1/graphs", tags=["graphs"], route_class=ProblemRoute)


@router.get("", response_model=list[GraphOut])
async def list_graphs(services: Services = Depends(get_services)) -> list[GraphOut]:
    """The graphs this service can run, each at its latest version."""
    async with services.sessions() as session:
        versions = await graphs_repo.list_latest_versions(session)
    return [
        GraphOut(
            name=v.name,
            version=v.version,
            description=v.spec.get("description", ""),
            input_schema=v.spec.get("input_schema", {}),
            nodes=v.spec.get("nodes", {}),
        )
        for v in versions
        if v.name in services.graphs
    ]
