"""Fork: a new run from one of a run's checkpoints, with a state patch and model overrides,
whose later steps call models live (the steps before the checkpoint are not run again).

The checkpoint is copied, without its pending writes, as the first checkpoint of the
fork's own thread, keeping its id and step number. A state patch is applied with
LangGraph's `aupdate_state` as the node that wrote the checkpoint: that is a checkpoint
of its own (source `update`) one step later, so the fork's later steps are numbered one
higher than the same steps of its parent (without a patch they keep their numbers).
"""

from __future__ import annotations

from langgraph.checkpoint.base import CheckpointTuple

from app.db.models import Run
from app.db.thread_checkpoints import checkpoint_id_of, run_checkpoints, thread_config
from app.schemas.replay import ForkRequest, ModelOverride
from app.services import runs as run_service
from app.services.branch_plan import BranchPlan, branch_thread_id
from app.services.branching import (
    BranchGraph,
    CheckpointNotFound,
    InvalidChange,
    branch_graph,
    check_state_fits,
    check_state_patch,
    enqueue_branch,
    ensure_payloads,
    new_branch_run,
    new_run_id,
    resume_from,
)
from app.services.container import Services


async def submit_fork(services: Services, run_id: str, body: ForkRequest, tenant_id: str) -> Run:
    """Queue a fork of `run_id` from the checkpoint `body` names."""
    source = await run_service.get_run(services, run_id, tenant_id)
    ensure_payloads(source)
    target = await branch_graph(services, source, body.graph_version)
    written = await run_checkpoints(services.checkpointer, source.checkpoint_thread, source.id)
    chosen = _chosen(written, body, run_id)
    if target.graph.version != source.version:
        check_state_fits(target.compiled, chosen, target.graph.version)
    check_state_patch(target.compiled, body.state_patch, chosen.checkpoint["channel_values"])
    overrides = _overrides(services, target, body)
    as_node = await _writer(target, chosen, body, source) if body.state_patch else None
    fork_id = new_run_id()
    chosen_id = checkpoint_id_of(chosen.config) or ""
    plan, prepare = resume_from(
        services,
        target,
        source,
        chosen,
        kind="fork",
        run_id=fork_id,
        base_id=chosen_id,
        state_patch=body.state_patch,
        as_node=as_node,
        model_overrides=overrides,
    )
    budget = body.budget_usd if body.budget_usd is not None else source.budget_usd
    run = new_branch_run(
        source,
        target.graph,
        plan,
        run_id=fork_id,
        thread_id=branch_thread_id("fork", fork_id),
        budget_usd=budget,
    )
    run.parent_run_id = source.id
    run.fork_checkpoint_id = chosen_id
    event = {
        "graph": run.graph,
        "version": run.version,
        "fork_of": source.id,
        "checkpoint_id": chosen_id,
        "step": plan.source_step,
    }
    return await enqueue_branch(
        services, run, checkpoint_thread=run.checkpoint_thread, prepare=prepare, event=event
    )


def _chosen(written: list[CheckpointTuple], body: ForkRequest, run_id: str) -> CheckpointTuple:
    for item in written:
        if body.checkpoint_id is not None and checkpoint_id_of(item.config) == body.checkpoint_id:
            return item
        if body.step is not None and item.metadata.get("step") == body.step:
            return item
    field, value = (
        ("checkpoint_id", body.checkpoint_id) if body.checkpoint_id else ("step", body.step)
    )
    steps = [item.metadata.get("step") for item in written]
    raise CheckpointNotFound(
        f"run {run_id} has no checkpoint with {field} {value!r} (its steps: {steps})",
        errors=[
            {"loc": ["body", field], "msg": "no such checkpoint of this run", "type": "unknown"}
        ],
    )


def _overrides(
    services: Services, target: BranchGraph, body: ForkRequest
) -> dict[str, dict[str, str]]:
    nodes = {name for name in target.compiled.nodes if not name.startswith("__")}
    overrides: dict[str, dict[str, str]] = {}
    errors = []
    for node, override in body.model_overrides.items():
        loc: list[str | int] = ["body", "model_overrides", node]
        if node not in nodes:
            errors.append(
                {"loc": loc, "msg": f"not a node of the graph {sorted(nodes)}", "type": "unknown"}
            )
        elif isinstance(override, ModelOverride):
            if override.model not in services.catalog.models:
                errors.append(
                    {"loc": [*loc, "model"], "msg": "not a catalog model", "type": "unknown"}
                )
            overrides[node] = {"model": override.model}
        else:
            if override.tier not in services.catalog.tiers:
                errors.append(
                    {"loc": [*loc, "tier"], "msg": "not a catalog tier", "type": "unknown"}
                )
            overrides[node] = {"tier": override.tier}
    if errors:
        raise InvalidChange(
            "model_overrides: " + "; ".join(str(e["msg"]) for e in errors), errors=errors
        )
    return overrides


async def _writer(
    target: BranchGraph, chosen: CheckpointTuple, body: ForkRequest, source: Run
) -> str | None:
    """The node a state patch is applied as: the one whose writes made the checkpoint."""
    source_kind = chosen.metadata.get("source")
    if source_kind == "input":
        raise InvalidChange(
            "state_patch: a run's input checkpoint has no node to patch as; fork from the "
            "next step (or submit a run with another input)",
            errors=[{"loc": ["body", "state_patch"], "msg": "patch at input", "type": "input"}],
        )
    if source_kind == "update" and source.branch:
        return BranchPlan.from_json(source.branch).as_node
    if chosen.parent_config is None:
        return None  # let LangGraph infer it from the checkpoint
    parent = await target.compiled.aget_state(
        thread_config(
            str(chosen.parent_config["configurable"]["thread_id"]),
            checkpoint_id_of(chosen.parent_config),
        )
    )
    writers = [task.name for task in parent.tasks]
    return writers[0] if writers else None
