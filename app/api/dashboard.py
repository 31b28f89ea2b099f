"""The dashboard's JSON (`/v1/dashboard/...`) and its static page (`/dashboard`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.staticfiles import StaticFiles

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.api.tenant import TenantDep
from app.db.dashboard_repo import Window
from app.services import dashboard
from app.services.container import Services
from app.services.dashboard_window import DATE_TIME, DATE_TIME_SCHEMA, make_window, parse_time

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"], route_class=ProblemRoute)
ServicesDep = Annotated[Services, Depends(get_services)]
STATIC_DIR = Path(__file__).resolve().parent.parent / "dashboard"


SinceQuery = Annotated[
    str | None,
    Query(
        pattern=DATE_TIME,
        json_schema_extra=DATE_TIME_SCHEMA,
        description="RFC 3339 date-time; rounded down to its hour (default: until - 24 h)",
    ),
]
UntilQuery = Annotated[
    str | None,
    Query(
        pattern=DATE_TIME,
        json_schema_extra=DATE_TIME_SCHEMA,
        description="RFC 3339 date-time; rounded up to an hour (default: now)",
    ),
]


async def window(tenant: TenantDep, since: SinceQuery = None, until: UntilQuery = None) -> Window:
    """The tenant's range of whole UTC hours [since, until) a figure covers (a reversed range
    is empty, one over 400 days keeps its last 400: the answer's `range` says which)."""
    return make_window(tenant, parse_time(since, "since"), parse_time(until, "until"))


WindowDep = Annotated[Window, Depends(window)]


@router.get("/overview")
async def dashboard_overview(services: ServicesDep, span: WindowDep) -> dict[str, Any]:
    """Requests, runs, spend, cost per successful request, savings against the frontier tier,
    error, fallback and cache-hit rates, money saved by the cache, and a series over time."""
    return await dashboard.overview(services, span)


@router.get("/models")
async def dashboard_models(services: ServicesDep, span: WindowDep) -> dict[str, Any]:
    """Per model and per tier: calls, p50/p95 latency and TTFT, error rate by kind, spend."""
    return await dashboard.models(services, span)


@router.get("/task-classes")
async def dashboard_task_classes(services: ServicesDep, span: WindowDep) -> dict[str, Any]:
    """Per task class: the routing mix over time and the quality signal from feedback."""
    return await dashboard.task_classes(services, span)


@router.get("/budgets")
async def dashboard_budgets(services: ServicesDep, tenant: TenantDep) -> dict[str, Any]:
    """Each key's spend against its budget, and the tenant's, with burn rates."""
    return await dashboard.budgets(services, tenant)


def static_pages() -> StaticFiles:
    """The page itself (HTML, CSS, JS modules): it asks for the API key and calls the JSON."""
    return StaticFiles(directory=STATIC_DIR, html=True)
