"""Replay: a finished run re-executed as a new run whose model calls come from its ledger.

The replay starts where its source started, in a thread of its own: a run that began from
its input is replayed from the same input on a copy of the checkpoint it found on its
thread (with its pending writes, exactly as it found it), so every later step has the
same step number and each call the same tape key; a fork (or a replay of one) is replayed
from a copy of its base checkpoint with its state patch applied again.
"""

from __future__ import annotations

from typing import Any

from app.db.models import Run
from app.db.tenant_scope import checkpoint_thread
from app.db.thread_checkpoints import (
    COPIED_FROM_KEY,
    checkpoint_id_of,
    copy_checkpoint,
    get_checkpoint,
    run_checkpoints,
)
from app.schemas.replay import ReplayRequest
from app.services import run_state
from app.services import runs as run_service
from app.services.branch_plan import BranchPlan, branch_thread_id
from app.services.branching import (
    BranchGraph,
    CannotBranch,
    Prepare,
    branch_graph,
    check_state_fits,
    enqueue_branch,
    ensure_payloads,
    new_branch_run,
    new_run_id,
    resume_from,
)
from app.services.container import Services
from app.services.errors import ServiceError
from graphs.registry import GraphInputInvalid


class RunNotFinished(ServiceError):
    status = 409
    title = "Run not finished"


async def submit_replay(
    services: Services, run_id: str, body: ReplayRequest, tenant_id: str
) -> Run:
    """Queue a replay of `run_id`; a worker executes it like any run."""
    source = await run_service.get_run(services, run_id, tenant_id)
    if not run_state.is_terminal(source.status):
        raise RunNotFinished(
            f"run {run_id} is {source.status}: only a finished run has a complete recording"
        )
    ensure_payloads(source)
    target = await branch_graph(services, source, body.graph_version)
    replay_id = new_run_id()
    thread_id = branch_thread_id("replay", replay_id)
    source_plan = BranchPlan.from_json(source.branch) if source.branch else None
    if source_plan is not None and not source_plan.from_input:
        plan, prepare = await _resume_like(services, target, source, source_plan, replay_id)
    else:
        plan, prepare = await _from_input(services, target, source, replay_id)
    plan = BranchPlan(**{**plan.to_json(), "on_divergence": body.on_divergence})
    run = new_branch_run(
        source,
        target.graph,
        plan,
        run_id=replay_id,
        thread_id=thread_id,
        budget_usd=source.budget_usd,
    )
    run.replay_of = source.id
    run.replay = {
        "source_run_id": source.id,
        "on_divergence": body.on_divergence,
        "reproduced": None,
        "source_status": source.status,
        "source_version": source.version,
    }
    event = {"graph": run.graph, "version": run.version, "replay_of": source.id}
    return await enqueue_branch(
        services, run, checkpoint_thread=run.checkpoint_thread, prepare=prepare, event=event
    )


async def _from_input(
    services: Services, target: BranchGraph, source: Run, replay_id: str
) -> tuple[BranchPlan, Prepare]:
    saver = services.checkpointer
    written = await run_checkpoints(saver, source.checkpoint_thread, source.id)
    if not written:
        raise CannotBranch(
            f"run {source.id} wrote no checkpoint (it ended before its first step): "
            "there is nothing to replay"
        )
    start_id = checkpoint_id_of(written[0].parent_config)
    start = await get_checkpoint(saver, source.checkpoint_thread, start_id) if start_id else None
    if start is not None and target.graph.version != source.version:
        check_state_fits(target.compiled, start, target.graph.version)
    if start_id and start is None:
        raise CannotBranch(
            f"the checkpoint run {source.id} started from ({start_id}) is gone: it was pruned "
            "with an earlier run of its thread"
        )
    try:
        target.graph.definition.validate_input(source.input)
    except GraphInputInvalid as exc:
        raise CannotBranch(
            f"run {source.id}'s input does not match version {target.graph.version} of "
            f"{target.graph.name!r}: {exc.errors[0]['msg'] if exc.errors else exc}"
        ) from exc
    thread = checkpoint_thread(source.tenant_id, branch_thread_id("replay", replay_id))

    async def prepare() -> dict[str, Any]:
        if start is not None:
            copied_from = {"thread_id": source.checkpoint_thread, "checkpoint_id": start_id}
            metadata = {**start.metadata, COPIED_FROM_KEY: copied_from}
            await copy_checkpoint(saver, start, thread, metadata=metadata, with_writes=True)
        return {}

    plan = BranchPlan(
        kind="replay",
        source_run_id=source.id,
        source_thread_id=source.thread_id,
        from_input=True,
        source_checkpoint_id=start_id,
        source_step=start.metadata.get("step") if start is not None else None,
        base_checkpoint_id=start_id,
        start_checkpoint_id=start_id,
    )
    return plan, prepare


async def _resume_like(
    services: Services, target: BranchGraph, source: Run, source_plan: BranchPlan, replay_id: str
) -> tuple[BranchPlan, Prepare]:
    """A source that resumed from a checkpoint (a fork): copy its base, patch it again."""
    base_id = source_plan.base_checkpoint_id
    base = (
        await get_checkpoint(services.checkpointer, source.checkpoint_thread, base_id)
        if base_id
        else None
    )
    if base is None:
        raise CannotBranch(f"run {source.id}'s starting checkpoint is gone")
    if target.graph.version != source.version:
        check_state_fits(target.compiled, base, target.graph.version)
    return resume_from(
        services,
        target,
        source,
        base,
        kind="replay",
        run_id=replay_id,
        base_id=base_id,
        state_patch=source_plan.state_patch,
        as_node=source_plan.as_node,
        model_overrides=source_plan.model_overrides,  # the routes the fork's calls took
    )
