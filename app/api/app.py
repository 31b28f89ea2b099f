"""The FastAPI application factory; services are built in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api import (
    chat_completions,
    dashboard,
    experiments,
    feedback,
    graphs,
    health,
    interrupts,
    keys,
    metrics,
    models,
    replay,
    routing,
    rules,
    runs,
    threads,
)
from app.api.admission import Admission
from app.api.body_limit import BodySizeLimit
from app.api.langgraph.mount import langgraph_routers
from app.api.openai_errors import install_openai_error_handler, rest_resources
from app.api.openapi import install_openapi
from app.api.problems import install_problem_handlers
from app.api.request_id import RequestId
from app.api.server_errors import ServerErrorGuard
from app.observability.http_metrics import HttpMetrics
from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker

API_DESCRIPTION = (
    "Errors are RFC 9457 `application/problem+json` (schema `Problem`). Every path answers "
    "a method it does not support with 405 and an `Allow` header listing the ones it does."
)


def _operation_id(route: APIRoute) -> str:
    """The endpoint function's name (`submit_run`, `get_run`): stable for links and clients."""
    return route.name


def create_app(settings: Settings, *, embedded_worker: bool = False) -> FastAPI:
    """`embedded_worker` runs one worker in the API process (the SQLite default)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_services(settings) as services:
            app.state.services = services
            await services.auth.start()
            stop = asyncio.Event()
            worker_task = None
            if embedded_worker:
                worker_task = asyncio.create_task(Worker(services).run_forever(stop))
            try:
                yield
            finally:
                # Graceful: running runs reach a checkpoint and hand their leases back.
                stop.set()
                if worker_task is not None:
                    await asyncio.gather(worker_task, return_exceptions=True)

    app = FastAPI(
        title="routegraph",
        version="0.1.0",
        summary="Multi-step LLM workflows, each call routed to the cheapest model that will do.",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    install_problem_handlers(app)
    install_openai_error_handler(app)
    install_openapi(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Outermost: a request waits for its turn before any of its work (body included).
    app.add_middleware(Admission, limit=settings.api_max_active_requests)
    # Outside admission: a handler that raises gets one sound 500, and every response
    # (that 500 too) carries its x-request-id.
    app.add_middleware(ServerErrorGuard)
    app.add_middleware(RequestId)
    if settings.metrics_enabled:
        app.add_middleware(HttpMetrics)  # outermost: every response is counted
    # The LangGraph API's routes first: its paths (/assistants, /threads, /runs, /store)
    # share no first segment with the others, so the order changes no match, and each of
    # its requests (two per LangGraph run) no longer tries the 60 routes under /v1 first.
    for router in langgraph_routers():
        app.include_router(router)
    rest = [health.router, runs.router, graphs.router, feedback.router, replay.router]
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    rest.extend([threads.router, interrupts.router, dashboard.router, routing.router])
    rest.extend([experiments.router, rules.router, keys.router])
    for router in [*rest, chat_completions.router, models.router]:
        app.include_router(router)
    # Errors under /v1 outside these resources are answered in OpenAI's shape.
    app.state.rest_resources = rest_resources(rest)
    app.mount("/dashboard", dashboard.static_pages(), name="dashboard")
    return app
