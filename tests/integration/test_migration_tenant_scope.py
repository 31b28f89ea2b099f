"""Migration 0009 moves idempotency keys and checkpoint threads behind their tenant without
losing a checkpoint, a pending write or a key, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import operator
from datetime import timedelta
from typing import Annotated, Any, TypedDict

import sqlalchemy as sa
from langgraph.graph import END, START, StateGraph
from sqlalchemy import select

from app.db.checkpoints import open_checkpointer
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import Run, utcnow


class Counter(TypedDict):
    n: int
    seen: Annotated[list[str], operator.add]


def counter_graph(saver: Any) -> Any:
    graph = StateGraph(Counter)
    graph.add_node("bump", lambda state: {"n": state["n"] + 1, "seen": ["bump"]})
    graph.add_edge(START, "bump")
    graph.add_edge("bump", END)
    return graph.compile(checkpointer=saver)


# The runs table as migration 0008 left it (the ORM model is the latest schema).
RUNS_0008 = sa.table(
    "runs",
    *(
        sa.column(name)
        for name in (
            "id",
            "tenant_id",
            "thread_id",
            "graph",
            "version",
            "input",
            "status",
            "priority",
            "idempotency_key",
            "attempt",
            "event_seq",
            "cost_usd",
            "cancel_requested",
            "created_at",
        )
    ),
)


def run_row(run_id: str, tenant: str, thread: str, key: str | None, minutes: int) -> dict[str, Any]:
    return {
        "id": run_id,
        "tenant_id": tenant,
        "thread_id": thread,
        "graph": "plan_execute",
        "version": 1,
        "input": "{}",
        "status": "succeeded",
        "priority": 0,
        "idempotency_key": key,
        "attempt": 1,
        "event_seq": 0,
        "cost_usd": 0.0,
        "cancel_requested": False,
        "created_at": utcnow() + timedelta(minutes=minutes),
    }


def config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


async def test_keys_and_threads_move_behind_their_tenant(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade_database, empty_database_url, "0008")
    engine = create_engine(empty_database_url)
    sessions = create_session_factory(engine)
    try:
        async with sessions.begin() as session:
            await session.execute(
                sa.insert(RUNS_0008),
                [
                    run_row("a1", "acme", "shared", "job-1", 0),
                    run_row("g1", "globex", "shared", "job-2", 1),  # a later sharer
                    run_row("g2", "globex", "own", None, 2),
                ],
            )
        async with open_checkpointer(empty_database_url) as saver:
            graph = counter_graph(saver)
            for thread, start in (("shared", 1), ("own", 10), ("orphan", 100)):
                await graph.ainvoke({"n": start, "seen": []}, config(thread))
            # A pending write on the shared thread, as an interrupted step leaves it.
            latest = await saver.aget_tuple(config("shared"))
            assert latest is not None
            await saver.aput_writes(latest.config, [("seen", ["pending"])], "task-1")

        await asyncio.to_thread(upgrade_database, empty_database_url)

        async with sessions() as session:
            keys = dict((await session.execute(select(Run.id, Run.idempotency_key))).all())
        assert keys == {"a1": "acme/job-1", "g1": "globex/job-2", "g2": None}
        async with open_checkpointer(empty_database_url) as saver:
            graph = counter_graph(saver)
            for thread, values in (
                ("acme/shared", {"n": 2, "seen": ["bump"]}),
                ("globex/own", {"n": 11, "seen": ["bump"]}),
                ("default/orphan", {"n": 101, "seen": ["bump"]}),
            ):
                state = await graph.aget_state(config(thread))
                assert state.values == values, thread
            moved = await saver.aget_tuple(config("acme/shared"))
            assert moved is not None
            assert ("task-1", "seen", ["pending"]) in moved.pending_writes
            for gone in ("shared", "own", "orphan", "globex/shared"):
                assert await saver.aget_tuple(config(gone)) is None, gone
    finally:
        await engine.dispose()
