"""Human in the loop over routegraph's own API: a thread's pending interrupts, and a new
run that resumes a paused one (LangGraph's `Command`), on any worker, paying nothing twice
(`app/worker/lg_options.py` gives it the paused run's call keys)."""

from __future__ import annotations

from typing import Any

from app.db import lg_repo, runs_repo
from app.db.models import Run
from app.run_status import is_terminal
from app.schemas.interrupts import ResumeRun
from app.services.container import Services
from app.services.errors import RunAlreadyFinished, RunNotFound, ServiceError
from app.services.lg_json import jsonable
from app.services.lg_state import state_config
from app.services.runs import get_run


class NothingToResume(ServiceError):
    status = 409
    title = "Nothing to resume"


async def _snapshot(services: Services, run: Run) -> Any:
    graph = await services.registry.resolve(run.graph, run.version, tenant_id=run.tenant_id)
    compiled = services.registry.compiled(graph)
    return await compiled.aget_state(state_config(run.tenant_id, run.thread_id))


async def thread_interrupts(services: Services, thread_id: str, tenant_id: str) -> dict[str, Any]:
    """The tasks of the thread's latest state that wait for a resume."""
    async with services.sessions() as session:
        run = await lg_repo.latest_thread_run(session, tenant_id, thread_id)
    if run is None:
        raise RunNotFound(f"no run on thread {thread_id!r}")
    snapshot = await _snapshot(services, run)
    tasks = [
        {"task_id": task.id, "node": task.name, "interrupts": jsonable(list(task.interrupts))}
        for task in snapshot.tasks
        if task.interrupts
    ]
    paused_by = (snapshot.metadata or {}).get("routegraph_run_id") if tasks else None
    return {"thread_id": thread_id, "paused_by_run": paused_by, "tasks": tasks}


async def resume_run(services: Services, run_id: str, body: ResumeRun, tenant_id: str) -> Run:
    """Queue a run that continues `run_id`'s thread from its interrupt with `body`."""
    source = await get_run(services, run_id, tenant_id)
    if not is_terminal(source.status):
        raise RunAlreadyFinished(f"run {run_id} is still {source.status}: it has not paused")
    snapshot = await _snapshot(services, source)
    if not snapshot.interrupts:
        raise NothingToResume(f"thread {source.thread_id!r} waits on no interrupt")
    command = body.model_dump(include={"resume", "update", "goto"})
    run = Run(
        id=runs_repo.new_run_id(),
        tenant_id=tenant_id,
        thread_id=source.thread_id,
        graph=source.graph,
        version=source.version,
        input={},
        priority=0,
        budget_usd=body.budget_usd if body.budget_usd is not None else source.budget_usd,
        epoch=0,
        cost_usd=0.0,
        cancel_requested=False,
        lg={"command": command, "has_input": False, "resumes": source.id},
    )
    async with services.sessions.begin() as session:
        payload = {"graph": run.graph, "version": run.version, "resumes": source.id}
        await services.journal.enqueue(session, run, payload)
    services.notifier.runs_claimable()
    return run
