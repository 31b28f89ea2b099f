"""Builds the process's long-lived objects at start-up and closes them at shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import graphs_repo
from app.db.checkpoints import open_checkpointer
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.gateway.gateway import Gateway
from app.gateway.litellm_client import load_litellm
from app.routing.catalog import Catalog, load_catalog
from app.routing.classifier import TaskClassifier
from app.settings import Settings
from graphs.registry import GraphDefinition, builtin_graphs


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    graphs: dict[str, GraphDefinition]
    gateway: Gateway
    checkpointer: BaseCheckpointSaver[Any]
    compiled: dict[str, CompiledStateGraph[Any, Any, Any, Any]]


async def register_builtin_graphs(
    sessions: async_sessionmaker[AsyncSession], graphs: dict[str, GraphDefinition]
) -> None:
    """Store each built-in graph's current version (a changed graph gets a new one)."""
    for definition in graphs.values():
        await graphs_repo.register_version(
            sessions,
            name=definition.name,
            spec=definition.spec(),
            source="builtin",
            fingerprint=definition.fingerprint(),
        )


@asynccontextmanager
async def build_services(settings: Settings) -> AsyncIterator[Services]:
    """Everything a server or worker process needs, built once and passed down."""
    if settings.auto_migrate:
        upgrade_database(settings.database_url)
    catalog = load_catalog(settings.catalog_path)
    engine = create_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    sessions = create_session_factory(engine)
    graphs = builtin_graphs()
    # LiteLLM's import takes seconds: pay it at start-up, not inside the first call.
    await asyncio.to_thread(load_litellm)
    try:
        await register_builtin_graphs(sessions, graphs)
        classifier = TaskClassifier.load(settings.router_model_path)
        gateway = Gateway(
            catalog=catalog,
            classifier=classifier,
            session_factory=sessions,
            simulator_url=settings.simulator_url,
            timeout_s=settings.model_timeout_seconds,
            default_max_output_tokens=settings.default_max_output_tokens,
        )
        async with open_checkpointer(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        ) as checkpointer:
            # Compiled once per process with its checkpointer, not once per run.
            compiled = {name: d.build(checkpointer) for name, d in graphs.items()}
            yield Services(
                settings, engine, sessions, catalog, graphs, gateway, checkpointer, compiled
            )
    finally:
        await engine.dispose()
