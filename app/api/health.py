"""Liveness: the process answers and the database round-trips (503 when it does not)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.api.problems import HTTPProblem, problem_responses
from app.gateway.litellm_client import litellm_loaded
from app.services.container import Services

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"], route_class=ProblemRoute)


@router.get("/healthz", responses=problem_responses(503))
async def healthz(services: Services = Depends(get_services)) -> dict[str, str]:
    """Liveness plus a database round trip."""
    try:
        async with services.sessions() as session:
            await session.execute(text("SELECT 1"))
    except (DBAPIError, OSError) as exc:
        log.warning("health check: the database did not answer: %s", exc)
        raise HTTPProblem(503, "Database unavailable", "the database did not answer") from exc
    # LiteLLM imports in the background after start-up: until then model calls wait for it
    # (a catalog served only by the direct OpenAI-compatible client never needs it).
    needed = services.gateway.providers.needs_litellm(services.catalog.models.values())
    ready = litellm_loaded() or not needed
    return {"status": "ok", "model_client": "ready" if ready else "loading"}
