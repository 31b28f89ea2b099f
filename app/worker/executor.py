"""Executes one claimed run: graph with checkpointer, events per node, outcome recorded."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import psycopg
import pydantic
import sqlalchemy.exc
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError

from app.db.events_repo import append_event
from app.db.models import Run
from app.gateway.errors import AllModelsFailed, BudgetExceeded, RunCancelled
from app.services.container import Services
from app.services.run_state import transition
from app.worker.lease import LeaseKeeper
from nodes.context import RunContext

log = logging.getLogger(__name__)


# Infrastructure failures: the run is not at fault, so it is not failed. The worker gives
# it up; after the lease expires a worker resumes it from its last checkpoint.
DATABASE_ERRORS = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


class LeaseLost(Exception):
    """Another worker owns the run now; stop without writing an outcome."""


class RunTimedOut(Exception):
    pass


async def execute_run(services: Services, run: Run, worker_id: str) -> str:
    """Run (or resume) the graph of a claimed run and record how it ended."""
    settings = services.settings
    if run.attempt > settings.max_attempts:
        gave_up = f"gave up after {settings.max_attempts} attempts (each worker died or lost it)"
        await _finish(services, run.id, worker_id, "failed", run.output or {}, gave_up)
        return "failed"
    definition = services.graphs.get(run.graph)
    if definition is None:  # e.g. queued by a newer release than this worker runs
        unknown = f"this worker does not know graph {run.graph!r}"
        await _finish(services, run.id, worker_id, "failed", {}, unknown)
        return "failed"
    graph = services.compiled[run.graph]
    config: RunnableConfig = {
        "configurable": {"thread_id": run.thread_id},
        "recursion_limit": 200,
        "metadata": {"routegraph_run_id": run.id},
    }
    snapshot = await graph.aget_state(config)
    resuming = (
        run.attempt > 1
        and bool(snapshot.next)
        and (snapshot.metadata or {}).get("routegraph_run_id") == run.id
    )
    if resuming:
        graph_input: Any = None
        await append_event(
            services.sessions,
            run.id,
            "resumed",
            payload={"attempt": run.attempt, "next": list(snapshot.next)},
        )
    else:
        try:
            payload = definition.input_model.model_validate(run.input)
        except pydantic.ValidationError as exc:  # the graph's input schema changed since submit
            invalid = f"input no longer matches graph {run.graph!r}: {exc.errors()[0]['msg']}"
            await _finish(services, run.id, worker_id, "failed", {}, invalid)
            return "failed"
        graph_input = definition.initial_state(payload)
        await append_event(services.sessions, run.id, "started", payload={"attempt": run.attempt})

    context = RunContext(gateway=services.gateway, run_id=run.id)
    deadline = time.monotonic() + settings.run_timeout_seconds
    status, error = "succeeded", None
    async with LeaseKeeper(
        services.sessions, run_id=run.id, worker_id=worker_id, lease_seconds=settings.lease_seconds
    ) as lease:
        try:
            # durability="sync": each step's checkpoint is on disk before the next step
            # starts, so a killed worker loses at most the step in flight.
            async for part in graph.astream(
                graph_input,
                config,
                context=context,
                stream_mode="tasks",
                version="v2",
                durability="sync",
            ):
                data = cast(dict[str, Any], part["data"])
                await _record_task_event(services, run.id, data)
                if "result" in data:
                    # Between nodes: honour cancellation, the run timeout and a lost lease.
                    await lease.renew_now()
                    if lease.lost.is_set():
                        raise LeaseLost(run.id)
                    if lease.cancel_requested.is_set():
                        raise RunCancelled(f"run {run.id} was cancelled")
                    if time.monotonic() > deadline:
                        raise RunTimedOut(f"run exceeded {settings.run_timeout_seconds:.0f}s")
        except LeaseLost:
            log.warning("lost the lease on run %s; another worker continues it", run.id)
            return "lease_lost"
        except BudgetExceeded as exc:
            status, error = "budget_exceeded", str(exc)
        except RunCancelled as exc:
            status, error = "cancelled", str(exc)
        except (AllModelsFailed, RunTimedOut, GraphRecursionError) as exc:
            status, error = "failed", str(exc)
        except (asyncio.CancelledError, *DATABASE_ERRORS):
            raise
        except Exception as exc:  # a node bug must fail the run, not kill the worker
            log.exception("run %s failed", run.id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"

    values = (await graph.aget_state(config)).values or {}
    output = definition.output_of(values)
    await _finish(services, run.id, worker_id, status, output, error)
    return status


async def _record_task_event(services: Services, run_id: str, data: dict[str, Any]) -> None:
    if "result" in data or "error" in data:
        kind = "node_failed" if data.get("error") else "node_finished"
        error = data.get("error")
        payload = {"task_id": data.get("id"), "error": str(error) if error else None}
    else:
        kind, payload = "node_started", {"task_id": data.get("id")}
    await append_event(services.sessions, run_id, kind, node=data.get("name"), payload=payload)


async def _finish(
    services: Services,
    run_id: str,
    worker_id: str,
    status: str,
    output: dict[str, Any],
    error: str | None,
) -> None:
    async with services.sessions.begin() as session:
        run = await session.get(Run, run_id, with_for_update=True)
        if run is None or run.lease_owner != worker_id or run.status != "running":
            return  # lost the run in the meantime: its new owner decides
        transition(run, status, output=output, error=error)
        cost = run.cost_usd
    await append_event(
        services.sessions,
        run_id,
        status,
        payload={"cost_usd": cost, "error": error},
    )
