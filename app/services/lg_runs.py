"""Runs of the LangGraph API: routegraph runs (queued, claimed by any worker, on the ledger)
with what LangGraph's run body asks for kept in `runs.lg` for the worker.

A thread takes one run at a time (the claim never starts a run on a thread with one
running), so `enqueue` is the queue itself; `reject` refuses while a run is queued or
running (409); `interrupt` and `rollback` cancel those runs first (`rollback` also starts
the new run from the checkpoint the cancelled runs started from).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import crons_repo, lg_repo, runs_repo
from app.db.models import Run, utcnow
from app.db.tenant_scope import checkpoint_thread
from app.db.thread_checkpoints import RUN_ID_KEY, run_checkpoints
from app.run_status import RunStatus
from app.schemas.langgraph import DEFAULT_DURABILITY, CancelMany, RunCreate
from app.services import lg_threads, run_state
from app.services.claim_here import ClaimHere
from app.services.container import Services
from app.services.errors import InvalidInput, RunNotFound, ServiceError
from app.services.lg_assistants import Assistant, get_assistant
from app.services.lg_json import jsonable
from app.services.lg_state import state_config
from graphs.registry import GraphInputInvalid

# routegraph's statuses as LangGraph's clients know them.
LG_STATUS = {
    RunStatus.QUEUED: "pending",
    RunStatus.RUNNING: "running",
    RunStatus.SUCCEEDED: "success",
    RunStatus.FAILED: "error",
    RunStatus.CANCELLED: "interrupted",
    RunStatus.BUDGET_EXCEEDED: "error",
}
STATUS_FILTER = {
    "pending": [RunStatus.QUEUED],
    "running": [RunStatus.RUNNING],
    "success": [RunStatus.SUCCEEDED],
    "error": [RunStatus.FAILED, RunStatus.BUDGET_EXCEEDED],
    "timeout": [RunStatus.FAILED],
    "interrupted": [RunStatus.CANCELLED],
}
TIMEOUT_PREFIX = "run exceeded"


class ThreadBusy(ServiceError):
    status = 409
    title = "Thread busy"


def lg_status(run: Run) -> str:
    if run.status == RunStatus.FAILED and (run.error or "").startswith(TIMEOUT_PREFIX):
        return "timeout"
    return LG_STATUS.get(RunStatus(run.status), "error")


def run_json(run: Run) -> dict[str, Any]:
    lg = run.lg or {}
    updated = run.finished_at or run.started_at or run.created_at
    return {
        "run_id": run.id,
        "thread_id": run.thread_id,
        "assistant_id": lg.get("assistant_id"),
        "created_at": run.created_at.isoformat(),
        "updated_at": updated.isoformat(),
        "status": lg_status(run),
        "metadata": lg.get("metadata") or {},
        "kwargs": lg.get("kwargs") or {},
        "multitask_strategy": lg.get("multitask_strategy"),
    }


def _budget(body: RunCreate, assistant: Assistant) -> tuple[float | None, int]:
    """routegraph's budget and priority, given in `context` or `config.configurable`."""
    sources = [
        body.context or {},
        (body.config or {}).get("configurable") or {},
        assistant.context,
        assistant.config.get("configurable") or {},
    ]
    budget = next((s["budget_usd"] for s in sources if "budget_usd" in s), None)
    priority = next((s["priority"] for s in sources if "priority" in s), 0)
    if budget is not None and (not isinstance(budget, int | float) or budget <= 0):
        raise InvalidInput("budget_usd must be a positive number")
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise InvalidInput("priority must be an integer")
    return (float(budget) if budget is not None else None), priority


def _options(body: RunCreate, assistant: Assistant, modes: list[str]) -> dict[str, Any]:
    config = {**assistant.config, **(body.config or {})}
    configurable = {
        **(assistant.config.get("configurable") or {}),
        **((body.config or {}).get("configurable") or {}),
    }
    configurable.pop("thread_id", None)
    checkpoint_id = body.checkpoint_id
    if checkpoint_id is None and body.checkpoint is not None:
        checkpoint_id = body.checkpoint.checkpoint_id
    kwargs = body.model_dump(exclude_none=True, exclude={"assistant_id", "metadata"})
    return {
        "assistant_id": assistant.assistant_id,
        "graph_id": assistant.graph_id,
        "metadata": body.metadata or {},
        "kwargs": jsonable(kwargs),
        "multitask_strategy": body.multitask_strategy or "enqueue",
        "command": body.command.model_dump() if body.command else None,
        "has_input": body.input is not None,
        "stream_modes": modes,
        "stream_subgraphs": body.stream_subgraphs,
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "checkpoint_id": checkpoint_id,
        "configurable": configurable,
        "recursion_limit": config.get("recursion_limit"),
        "durability": body.durability or DEFAULT_DURABILITY,
    }


async def create_run(
    services: Services,
    body: RunCreate,
    tenant_id: str,
    thread_id: str | None,
    *,
    stream_modes: list[str],
) -> Run:
    """Queue the run on `thread_id` (None: a stateless run on a thread of its own)."""
    assistant = await get_assistant(services, body.assistant_id, tenant_id)
    graph = await services.registry.resolve(assistant.graph_id, tenant_id=tenant_id)
    run_input: dict[str, Any] = {}
    if body.input is not None:
        if not isinstance(body.input, dict):
            raise InvalidInput("input must be a JSON object")
        try:
            graph.definition.validate_input(body.input)
        except GraphInputInvalid as exc:
            raise InvalidInput(str(exc), errors=exc.errors) from exc
        run_input = body.input
    budget, priority = _budget(body, assistant)
    lg = _options(body, assistant, stream_modes)
    stateless = thread_id is None
    if stateless and body.on_completion == "keep":  # the client will read the thread back
        thread_id = str(uuid.uuid4())
    run = Run(
        id=runs_repo.new_run_id(),
        tenant_id=tenant_id,
        thread_id=thread_id or str(uuid.uuid4()),
        graph=graph.name,
        version=graph.version,
        input=run_input,
        priority=priority,
        budget_usd=budget if budget is not None else graph.definition.budget_usd,
        epoch=0,
        cost_usd=0.0,
        cancel_requested=False,
        lg=lg,
        not_before=utcnow() + timedelta(seconds=body.after_seconds) if body.after_seconds else None,
    )
    cancelled: list[str] = []
    tags = {"graph_id": assistant.graph_id, "assistant_id": assistant.assistant_id}
    here = ClaimHere(services, due_now=not body.after_seconds)
    try:
        async with services.sessions.begin() as session:
            payload = {"graph": run.graph, "version": run.version}
            strategy = lg["multitask_strategy"]
            # `enqueue` (and a stateless run) needs no look at the thread's other runs.
            make_way = not stateless and strategy != "enqueue"
            create = stateless or body.if_not_exists == "create"
            if thread_id is not None and not make_way:
                await lg_threads.queue_on_thread(
                    services.journal, session, run, payload, create=create, tags=tags
                )
            else:
                if thread_id is not None:
                    await lg_threads.hold_thread(
                        session, tenant_id, thread_id, create=create, tags=tags
                    )
                if stateless and thread_id is None:  # on_completion "delete": gone at its end
                    crons_repo.add_temporary_thread(session, tenant_id, run.thread_id, run.id)
                if make_way:
                    cancelled = await _make_way(services, session, run, strategy, lg)
                await services.journal.enqueue(session, run, payload)
            await here.claim(session)
    except BaseException:
        here.abandoned()
        raise
    for run_id in cancelled:
        services.notifier.cancel_requested(run_id)
    here.committed(run.id)
    if body.after_seconds:  # wake this process's worker then (others poll, or are woken)
        loop = asyncio.get_running_loop()
        loop.call_later(body.after_seconds, services.notifier.runs_claimable)
    return run


async def _make_way(
    services: Services, session: AsyncSession, run: Run, strategy: str, lg: dict[str, Any]
) -> list[str]:
    """`reject` refuses a second live run on the thread (ThreadBusy); `interrupt` and
    `rollback` cancel the live ones (returned), `rollback` noting them for the new run."""
    live = await lg_repo.live_runs(session, run.tenant_id, run.thread_id)
    if live and strategy == "reject":
        raise ThreadBusy(
            f"Thread {run.thread_id} is busy with run {live[0].id}: "
            "multitask_strategy 'reject' refuses a second run"
        )
    cancelled: list[str] = []
    if live and strategy in ("interrupt", "rollback"):
        for other in live:
            locked = await session.get(Run, other.id, with_for_update=True)
            if locked is None or run_state.is_terminal(locked.status):
                continue
            if await run_state.cancel(services.journal, session, locked):
                cancelled.append(locked.id)
        if strategy == "rollback":
            lg["rollback_runs"] = [other.id for other in live]
    return cancelled


async def get_thread_run(services: Services, thread_id: str, run_id: str, tenant_id: str) -> Run:
    async with services.sessions() as session:
        run = await runs_repo.get_run(session, run_id)
    if run is None or run.tenant_id != tenant_id or run.thread_id != thread_id:
        raise RunNotFound(f"Run {run_id} not found")
    return run


async def list_thread_runs(
    services: Services,
    thread_id: str,
    tenant_id: str,
    *,
    limit: int,
    offset: int,
    status: str | None,
) -> list[Run]:
    await lg_threads.get_thread_row(services, thread_id, tenant_id)
    statuses = STATUS_FILTER.get(status) if status else None
    async with services.sessions() as session:
        runs = await lg_repo.thread_runs(
            session, tenant_id, thread_id, limit=limit, offset=offset, statuses=statuses
        )
    return list(runs)


async def cancel_runs(services: Services, runs: list[Run]) -> None:
    """Ask each live run to stop (queued ones are cancelled at once)."""
    asked = []
    async with services.sessions.begin() as session:
        for run in runs:
            locked = await session.get(Run, run.id, with_for_update=True)
            if locked is None or run_state.is_terminal(locked.status):
                continue
            if await run_state.cancel(services.journal, session, locked) == "cancel_requested":
                asked.append(locked.id)
    for run_id in asked:
        services.notifier.cancel_requested(run_id)


async def delete_run(services: Services, thread_id: str, run_id: str, tenant_id: str) -> None:
    """A finished run leaves the thread's run list (its ledger rows stay)."""
    run = await get_thread_run(services, thread_id, run_id, tenant_id)
    if not run_state.is_terminal(run.status):
        raise ThreadBusy(f"Run {run_id} is still {lg_status(run)}: cancel it first")
    async with services.sessions.begin() as session:
        await services.journal.mark_deleted(session, run.id)


async def run_result(
    services: Services, run: Run, left: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What `/runs/wait` and `join` answer: the state the run left (with `__interrupt__`
    when it paused), or `__error__` when it failed. `left`: that state as this process's
    worker handed it over at the end (`Notifier.leave_state`), so nothing is read."""
    if run.status in (RunStatus.FAILED, RunStatus.BUDGET_EXCEEDED):
        kind = "BudgetExceeded" if run.status == RunStatus.BUDGET_EXCEEDED else "RunError"
        return {"__error__": {"error": kind, "message": run.error or ""}}
    if left is not None and run.status == RunStatus.SUCCEEDED:
        return dict(left)
    graph = await services.registry.resolve(run.graph, run.version, tenant_id=run.tenant_id)
    compiled = services.registry.compiled(graph)
    # Usually the run wrote the thread's latest checkpoint: one read.
    snapshot = await compiled.aget_state(state_config(run.tenant_id, run.thread_id))
    if (snapshot.metadata or {}).get(RUN_ID_KEY) != run.id:
        thread = checkpoint_thread(run.tenant_id, run.thread_id)
        written = await run_checkpoints(services.checkpointer, thread, run.id)
        if not written:
            return {}
        checkpoint_id = written[-1].config["configurable"]["checkpoint_id"]
        config = state_config(run.tenant_id, run.thread_id, checkpoint_id)
        snapshot = await compiled.aget_state(config)
    values = jsonable(snapshot.values)
    result: dict[str, Any] = values if isinstance(values, dict) else {"value": values}
    if snapshot.interrupts:
        result["__interrupt__"] = jsonable(list(snapshot.interrupts))
    return result


async def delete_after_cancel(services: Services, run: Run) -> None:
    """`cancel?action=rollback`: the cancelled run also leaves its thread's run list."""
    async with services.sessions.begin() as session:
        await services.journal.mark_deleted(session, run.id)


async def cancel_many(services: Services, body: CancelMany, tenant_id: str) -> None:
    """Cancel the tenant's live runs of a thread, or by id, or every pending/running one."""
    statuses = {
        "pending": [RunStatus.QUEUED],
        "running": [RunStatus.RUNNING],
        "all": [RunStatus.QUEUED, RunStatus.RUNNING],
        None: [RunStatus.QUEUED, RunStatus.RUNNING],
    }[body.status]
    async with services.sessions() as session:
        runs = await lg_repo.live_tenant_runs(
            session, tenant_id, thread_id=body.thread_id, run_ids=body.run_ids, statuses=statuses
        )
    await cancel_runs(services, list(runs))
