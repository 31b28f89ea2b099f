"""A run's checkpoints (where a fork can start) and a thread's runs in order."""

from __future__ import annotations

from langgraph.types import StateSnapshot

from app.db import branch_repo, runs_repo
from app.db.models import Run
from app.db.thread_checkpoints import COPIED_FROM_KEY, RUN_ID_KEY, checkpoint_id_of, thread_config
from app.schemas.replay import CheckpointOut, ThreadRunOut, ThreadRunPage
from app.schemas.runs import RunOut
from app.services import runs as run_service
from app.services.branching import ensure_payloads
from app.services.container import Services
from app.services.errors import InvalidInput, RunNotFound, ServiceError
from graphs.registry import Compiled

MAX_CHECKPOINTS = 1000


async def compiled_for(services: Services, run: Run) -> Compiled | None:
    """The run's pinned version; for loaded code no longer at that version, the loaded one
    (it reads the same checkpoints, with the state keys it knows). None: the graph is gone."""
    try:
        graph = await services.registry.resolve(run.graph, run.version, tenant_id=run.tenant_id)
    except ServiceError:
        try:
            graph = await services.registry.resolve(run.graph, tenant_id=run.tenant_id)
        except ServiceError:
            return None
    return services.registry.compiled(graph)


async def run_snapshots(compiled: Compiled, run: Run) -> list[StateSnapshot]:
    """The checkpoints the run wrote (or was given), oldest first."""
    snapshots = [
        snapshot
        async for snapshot in compiled.aget_state_history(
            thread_config(run.checkpoint_thread), filter={RUN_ID_KEY: run.id}, limit=MAX_CHECKPOINTS
        )
    ]
    snapshots.reverse()
    return snapshots


async def list_checkpoints(services: Services, run_id: str, tenant_id: str) -> list[CheckpointOut]:
    run = await run_service.get_run(services, run_id, tenant_id)
    ensure_payloads(run)
    compiled = await compiled_for(services, run)
    if compiled is None:
        return []
    snapshots = await run_snapshots(compiled, run)
    listed = []
    previous: StateSnapshot | None = None
    for snapshot in snapshots:
        metadata = dict(snapshot.metadata or {})
        parent = checkpoint_id_of(snapshot.parent_config)
        writers = []
        follows = previous is not None and parent == checkpoint_id_of(previous.config)
        if follows and previous is not None and metadata.get("source") == "loop":
            writers = [task.name for task in previous.tasks]
        listed.append(
            CheckpointOut(
                checkpoint_id=checkpoint_id_of(snapshot.config) or "",
                parent_checkpoint_id=parent,
                step=metadata.get("step"),
                source=metadata.get("source"),
                written_by=writers,
                next=list(snapshot.next),
                created_at=snapshot.created_at,
                copied_from=metadata.get(COPIED_FROM_KEY),
            )
        )
        previous = snapshot
    return listed


async def thread_runs(
    services: Services, thread_id: str, tenant_id: str, *, limit: int, cursor: str | None
) -> ThreadRunPage:
    """Oldest first: the conversation in the order it happened, with the models each run
    used (so a change of model between runs shows)."""
    try:
        async with services.sessions() as session:
            rows, next_cursor = await runs_repo.list_runs(
                session,
                thread_id=thread_id,
                tenant_id=tenant_id,
                limit=limit,
                cursor=cursor,
                oldest_first=True,
            )
            models = await branch_repo.answering_models(session, [run.id for run in rows])
    except ValueError as exc:
        raise InvalidInput(f"cursor: {exc}") from exc
    if not rows and cursor is None:
        raise RunNotFound(f"no runs on thread {thread_id!r}")
    items = [
        ThreadRunOut(**RunOut.model_validate(run).model_dump(), models=models.get(run.id, []))
        for run in rows
    ]
    return ThreadRunPage(thread_id=thread_id, items=items, next_cursor=next_cursor)
