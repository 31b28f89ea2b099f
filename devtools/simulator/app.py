"""Builds the simulator's FastAPI app: OpenAI-compatible API, admin API and health check."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from devtools.simulator import admin, chat
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.errors import (
    UVICORN_ERROR_LOGGER,
    HideSimulatedDisconnects,
    install_error_handlers,
)
from devtools.simulator.responder import Responder
from devtools.simulator.state import SimulatorState


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    """While serving, connections cut on purpose are not logged as server crashes."""
    logger = logging.getLogger(UVICORN_ERROR_LOGGER)
    quiet = HideSimulatedDisconnects()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def create_app(config: SimulatorConfig, responder: Responder | None = None) -> FastAPI:
    """One simulator instance; its faults, request log and cache live on `app.state`."""
    app = FastAPI(
        title="routegraph provider simulator",
        description="OpenAI-compatible chat completions with scripted answers and faults.",
        lifespan=_lifespan,
    )
    app.state.simulator = SimulatorState.build(config, responder)
    install_error_handlers(app)
    app.include_router(chat.router)
    app.include_router(admin.router)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        state: SimulatorState = app.state.simulator
        return {"status": "ok", "models": len(state.served_models())}

    return app
