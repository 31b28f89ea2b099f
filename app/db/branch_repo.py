"""Queries for replays, forks and threads: divergence events, verdicts, models per run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ModelCall, RunEvent


async def divergence_events(session: AsyncSession, run_id: str) -> list[RunEvent]:
    """A replay's `replay_divergence` events (an earlier attempt of it may have found one)."""
    query = (
        select(RunEvent)
        .where(RunEvent.run_id == run_id, RunEvent.kind == "replay_divergence")
        .order_by(RunEvent.seq)
    )
    return list((await session.execute(query)).scalars())


async def recorded_tool_results(session: AsyncSession, run_id: str) -> dict[str, Any]:
    """The results of a run's recorded tool calls (`mcp_call` events), by call key."""
    query = (
        select(RunEvent.payload)
        .where(RunEvent.run_id == run_id, RunEvent.kind == "mcp_call")
        .order_by(RunEvent.seq)
    )
    return {
        str(payload.get("key")): payload.get("result")
        for payload in (await session.execute(query)).scalars()
    }


async def answering_models(session: AsyncSession, run_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per run, the models whose answers it used (ok or replayed), in the order it used them."""
    if not run_ids:
        return {}
    query = (
        select(ModelCall.run_id, ModelCall.model)
        .where(ModelCall.run_id.in_(run_ids), ModelCall.status.in_(("ok", "replayed")))
        .order_by(ModelCall.created_at, ModelCall.attempt)
    )
    models: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
    for run_id, model in (await session.execute(query)).all():
        if run_id is not None and model not in models[run_id]:
            models[run_id].append(model)
    return models
