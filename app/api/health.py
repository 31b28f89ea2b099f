"""Liveness: the process answers and the database round-trips."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import text

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.services.container import Services

router = APIRouter(tags=["health"], route_class=ProblemRoute)


@router.get("/healthz")
async def healthz(services: Services = Depends(get_services)) -> dict[str, str]:
    """Liveness plus a database round trip."""
    async with services.sessions() as session:
        await session.execute(text("SELECT 1"))
    return {"status": "ok"}
