"""Runs compiled specs in-process on a real gateway, database, checkpointer and simulator."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.checkpoints import open_checkpointer
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import ModelCall, Run
from app.gateway.gateway import Gateway
from app.routing.catalog import load_catalog
from graphs.spec import (
    CompiledSpec,
    SpecEnvironment,
    compile_spec,
    parse_spec_text,
    validate_spec,
)
from nodes.context import RunContext
from nodes.tools import EgressPolicy, SpecTool, default_tools

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"


@dataclass
class SpecRun:
    """What one run produced: output, custom-stream events, node updates, ledger rows."""

    output: dict[str, Any]
    events: list[dict[str, Any]]
    updates: list[dict[str, Any]]
    calls: list[ModelCall]

    def decisions(self, name: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("kind") == "decision" and (name is None or e.get("decision") == name)
        ]

    def calls_of(self, node: str) -> list[ModelCall]:
        return [call for call in self.calls if call.node == node]


@dataclass
class SpecRig:
    gateway: Gateway
    sessions: async_sessionmaker[AsyncSession]
    checkpointer: Any
    stored: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    tools: dict[str, SpecTool] = field(default_factory=default_tools)

    @property
    def env(self) -> SpecEnvironment:
        return SpecEnvironment(
            catalog=self.gateway.catalog,
            tools=self.tools,
            resolve_subgraph=lambda name, version: self.stored.get((name, version)),
        )

    def compile(self, source: str | dict[str, Any]) -> CompiledSpec:
        document = parse_spec_text(source) if isinstance(source, str) else source
        return compile_spec(validate_spec(document, self.env), self.env)

    def example(self, name: str) -> CompiledSpec:
        return self.compile((EXAMPLES / name).read_text(encoding="utf-8"))

    async def new_run(self, graph: str, budget_usd: float | None = None) -> str:
        run_id = str(uuid.uuid4())
        async with self.sessions.begin() as session:
            session.add(
                Run(
                    id=run_id,
                    thread_id=run_id,
                    graph=graph,
                    version=1,
                    input={},
                    status="running",
                    budget_usd=budget_usd,
                )
            )
        return run_id

    async def run(
        self, compiled: CompiledSpec, payload: dict[str, Any] | None, run_id: str | None = None
    ) -> SpecRun:
        """Run to the end; with the `run_id` of a run that stopped and no payload, resume it."""
        run_id = run_id or await self.new_run(compiled.name, compiled.budget_usd)
        graph = compiled.build(self.checkpointer)
        config: Any = {
            "configurable": {"thread_id": run_id},
            "recursion_limit": compiled.recursion_limit,
        }
        start = None
        if payload is not None:
            start = compiled.initial_state(compiled.validate_input(payload))
        events: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        async for mode, chunk in graph.astream(
            start,
            config,
            context=RunContext(gateway=self.gateway, run_id=run_id),
            stream_mode=["custom", "updates"],
        ):
            (events if mode == "custom" else updates).append(chunk)
        state = (await graph.aget_state(config)).values
        return SpecRun(compiled.output_of(state), events, updates, await self.ledger(run_id))

    async def ledger(self, run_id: str) -> list[ModelCall]:
        async with self.sessions() as session:
            query = (
                select(ModelCall)
                .where(ModelCall.run_id == run_id)
                .order_by(ModelCall.created_at, ModelCall.attempt)
            )
            return list((await session.execute(query)).scalars())


@asynccontextmanager
async def spec_rig(
    database_url: str, simulator_url: str, *, egress: EgressPolicy | None = None
) -> AsyncIterator[SpecRig]:
    """A migrated database, a gateway on the simulator, and a checkpointer on the database;
    tools connect where `egress` allows (public addresses only by default)."""
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    gateway = Gateway(
        catalog=load_catalog(), session_factory=sessions, simulator_url=simulator_url, timeout_s=10
    )
    try:
        async with open_checkpointer(database_url) as checkpointer:
            yield SpecRig(gateway, sessions, checkpointer, tools=default_tools(egress))
    finally:
        await engine.dispose()
