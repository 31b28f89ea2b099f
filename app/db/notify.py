"""The Postgres channel that tells idle workers a run was queued."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

RUNS_CHANNEL = "routegraph_runs"


async def notify_run_queued(session: AsyncSession) -> None:
    """Inside the submitting transaction: delivered on commit, dropped on rollback."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"NOTIFY {RUNS_CHANNEL}"))
