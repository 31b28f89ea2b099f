"""Removing a finished run's full payloads: its checkpoints (and their writes and blobs) and
its ledger's request/response bodies. Its runs row, events and ledger cost rows stay.

Checkpoints live in the LangGraph savers' own tables (`checkpoints` + `writes` on SQLite;
`checkpoints` + `checkpoint_writes` + `checkpoint_blobs` on Postgres), one set per thread
shared by the runs made on it; a run's are those whose metadata names it. Two of them are
kept: the thread's latest (a new run on the thread continues from it) and any checkpoint a
later run of the thread started from (so that run can still be replayed).
On Postgres a blob belongs to a channel version that many checkpoints of a thread can
point at: blobs are deleted only once no remaining checkpoint of the thread points at them.
`model_calls.request` is NOT NULL since migration 0001 (making it nullable would rebuild the
table on SQLite), so a pruned request is `{}` and a pruned response NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.journal import RunJournal
from app.db.models import ModelCall, Run
from app.run_status import TERMINAL

_RUN_OF = {
    "sqlite": "json_extract(CAST(metadata AS TEXT), '$.routegraph_run_id')",
    "postgresql": "metadata->>'routegraph_run_id'",
}
_WRITES = {"sqlite": "writes", "postgresql": "checkpoint_writes"}


@dataclass
class PrunedRun:
    run_id: str
    checkpoints: int
    calls: int


async def runs_due(session: AsyncSession, cutoff: datetime, limit: int | None) -> list[Run]:
    """Finished runs that ended before `cutoff` and still have their payloads."""
    query = (
        select(Run)
        .where(
            Run.status.in_(TERMINAL),
            Run.finished_at < cutoff,
            Run.payloads_pruned_at.is_(None),
        )
        .order_by(Run.finished_at)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def prune_run(session: AsyncSession, run: Run, journal: RunJournal) -> PrunedRun:
    """Delete the run's checkpoints (but the two kinds kept), null its bodies, mark it."""
    dialect = session.get_bind().dialect.name
    run_of, writes = _RUN_OF[dialect], _WRITES[dialect]
    ids = {"thread": run.checkpoint_thread, "run": run.id}
    doomed = f"""
        SELECT checkpoint_ns, checkpoint_id FROM checkpoints
        WHERE thread_id = :thread AND {run_of} = :run
          AND checkpoint_id NOT IN (
            SELECT checkpoint_id FROM checkpoints
            WHERE thread_id = :thread AND checkpoint_ns = ''
            ORDER BY checkpoint_id DESC LIMIT 1)
          AND checkpoint_id NOT IN (
            SELECT parent_checkpoint_id FROM checkpoints
            WHERE thread_id = :thread AND parent_checkpoint_id IS NOT NULL
              AND ({run_of} IS NULL OR {run_of} <> :run))"""
    rows = (await session.execute(text(doomed), ids)).all()
    for namespace, checkpoint_id in rows:
        key = {**ids, "ns": namespace, "id": checkpoint_id}
        where = "thread_id = :thread AND checkpoint_ns = :ns AND checkpoint_id = :id"
        await session.execute(text(f"DELETE FROM {writes} WHERE {where}"), key)
        await session.execute(text(f"DELETE FROM checkpoints WHERE {where}"), key)
    if dialect == "postgresql" and rows:
        await session.execute(
            text(
                """DELETE FROM checkpoint_blobs b WHERE b.thread_id = :thread AND NOT EXISTS (
                    SELECT 1 FROM checkpoints c
                    WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = b.checkpoint_ns
                      AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)"""
            ),
            ids,
        )
    calls = await session.execute(
        update(ModelCall)
        .where(ModelCall.run_id == run.id)
        .values(request={}, response=None)
        .execution_options(synchronize_session=False)
    )
    await journal.mark_pruned(session, run.id)
    return PrunedRun(run.id, len(rows), int(calls.rowcount or 0))  # type: ignore[attr-defined]
