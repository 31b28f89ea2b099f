"""What replays and forks share: their errors, the graph they run, the thread they start in,
and queueing them as ordinary runs (a worker executes them under a lease like any run)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.errors import InvalidUpdateError

from app.db import runs_repo
from app.db.models import Run
from app.db.tenant_scope import checkpoint_thread
from app.db.thread_checkpoints import (
    COPIED_FROM_KEY,
    RUN_ID_KEY,
    checkpoint_id_of,
    copy_checkpoint,
    thread_config,
    unfenced,
)
from app.services.branch_plan import BranchKind, BranchPlan, branch_thread_id
from app.services.container import Services
from app.services.errors import ServiceError
from app.services.graph_registry import ResolvedGraph
from app.services.state_patch import state_patch_problems
from graphs.registry import Compiled

INTERNAL_CHANNEL_PREFIXES = ("__", "branch:")
# Prepares a branch's thread before it is queued; returns what it learnt for the plan
# (e.g. the patched checkpoint's id).
Prepare = Callable[[], Awaitable[dict[str, Any]]]


class PayloadsPruned(ServiceError):
    status = 409
    title = "Payloads pruned"


class CannotBranch(ServiceError):
    status = 409
    title = "Run cannot be replayed or forked"


class InvalidChange(ServiceError):
    """A fork's state patch or model override does not fit the graph (409: the body is well
    formed; it conflicts with the graph it would run)."""

    status = 409
    title = "Fork change does not fit the graph"


class StatePatchInvalid(ServiceError):
    """A fork's state patch names a key the state lacks or a value of the wrong type."""

    status = 422
    title = "Invalid state patch"


class CheckpointNotFound(ServiceError):
    status = 404
    title = "Checkpoint not found"


def ensure_payloads(run: Run) -> None:
    """Replay and fork read the run's checkpoints and recorded calls: 409 once pruned."""
    if run.payloads_pruned_at is not None:
        when = run.payloads_pruned_at.strftime("%Y-%m-%d %H:%M UTC")
        raise PayloadsPruned(
            f"payloads of run {run.id} (checkpoints, request and response bodies) were pruned "
            f"on {when}: it can no longer be replayed or forked",
            pruned_at=run.payloads_pruned_at.isoformat(),
        )


@dataclass(frozen=True)
class BranchGraph:
    graph: ResolvedGraph
    compiled: Compiled


async def branch_graph(services: Services, source: Run, version: int | None) -> BranchGraph:
    """The graph a replay or fork of `source` runs: its pinned version unless `version`
    names another (a stored spec version; loaded code runs only at its loaded version)."""
    graph = await services.registry.resolve(
        source.graph, version or source.version, tenant_id=source.tenant_id
    )
    compiled = services.registry.compiled(graph)
    delta = [name for name, ch in compiled.channels.items() if isinstance(ch, DeltaChannel)]
    if delta:
        raise CannotBranch(
            f"graph {graph.name!r} keeps {', '.join(sorted(delta))} in a DeltaChannel, whose "
            "checkpoints depend on their ancestors: a copy cannot start a new thread"
        )
    return BranchGraph(graph, compiled)


def state_channels(compiled: Compiled) -> set[str]:
    return {name for name in compiled.channels if not name.startswith(INTERNAL_CHANNEL_PREFIXES)}


def check_state_fits(compiled: Compiled, checkpoint: CheckpointTuple, version: int) -> None:
    """A checkpoint written by one graph version can start another when every state key it
    holds is a key of the new state and every node it triggers exists in the new graph."""
    values = checkpoint.checkpoint["channel_values"]
    unknown = sorted(
        name
        for name in values
        if not name.startswith(INTERNAL_CHANNEL_PREFIXES) and name not in compiled.channels
    )
    versions, seen = (
        checkpoint.checkpoint["channel_versions"],
        checkpoint.checkpoint["versions_seen"],
    )
    triggered = [  # nodes whose trigger is newer than what they have seen: they run next
        name.removeprefix("branch:to:")
        for name, version in versions.items()
        if name.startswith("branch:to:")
        and str(version) > str(seen.get(name.removeprefix("branch:to:"), {}).get(name, ""))
    ]
    missing = sorted(node for node in triggered if node not in compiled.nodes)
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"state keys {unknown} are not in its state")
        if missing:
            parts.append(f"nodes {missing} are not in the graph")
        raise CannotBranch(
            f"checkpoint {checkpoint_id_of(checkpoint.config)} does not fit version {version}: "
            + "; ".join(parts)
        )


async def start_thread(
    target: BranchGraph,
    services: Services,
    *,
    base: CheckpointTuple,
    checkpoint_thread: str,
    run_id: str,
    state_patch: dict[str, Any] | None,
    as_node: str | None,
) -> tuple[str, str]:
    """Copy `base` into the new thread (without pending writes: every step after it runs
    again) as a checkpoint of `run_id`, then apply `state_patch` as `as_node` wrote it.
    Returns (base checkpoint id, the checkpoint the run starts from)."""
    source_config = base.config["configurable"]
    metadata = {
        **base.metadata,
        RUN_ID_KEY: run_id,
        COPIED_FROM_KEY: {
            "thread_id": source_config.get("thread_id"),
            "checkpoint_id": source_config.get("checkpoint_id"),
            "run_id": base.metadata.get(RUN_ID_KEY),
        },
    }
    copied = await copy_checkpoint(
        services.checkpointer, base, checkpoint_thread, metadata=metadata, with_writes=False
    )
    base_id = checkpoint_id_of(copied) or ""
    if not state_patch:
        return base_id, base_id
    config: RunnableConfig = {
        **thread_config(checkpoint_thread),
        "metadata": {RUN_ID_KEY: run_id},
    }
    try:
        with unfenced():
            patched = await target.compiled.aupdate_state(config, state_patch, as_node=as_node)
    except InvalidUpdateError as exc:
        raise InvalidChange(
            f"state_patch: {exc}",
            errors=[{"loc": ["body", "state_patch"], "msg": str(exc), "type": "invalid_update"}],
        ) from exc
    return base_id, checkpoint_id_of(patched) or base_id


def resume_from(
    services: Services,
    target: BranchGraph,
    source: Run,
    base: CheckpointTuple,
    *,
    kind: BranchKind,
    run_id: str,
    base_id: str | None,
    state_patch: dict[str, Any] | None,
    as_node: str | None,
    model_overrides: dict[str, dict[str, str]],
) -> tuple[BranchPlan, Prepare]:
    """The plan of a branch `run_id` that resumes from `base` (checkpoint `base_id` of the
    source's thread) with `state_patch` applied as `as_node`, and the preparation of its
    thread (`start_thread`; the patched checkpoint's id is learnt then)."""
    thread = checkpoint_thread(source.tenant_id, branch_thread_id(kind, run_id))

    async def prepare() -> dict[str, Any]:
        _base, start_id = await start_thread(
            target,
            services,
            base=base,
            checkpoint_thread=thread,
            run_id=run_id,
            state_patch=state_patch,
            as_node=as_node,
        )
        return {"start_checkpoint_id": start_id}

    plan = BranchPlan(
        kind=kind,
        source_run_id=source.id,
        source_thread_id=source.thread_id,
        from_input=False,
        source_checkpoint_id=base_id,
        source_step=base.metadata.get("step"),
        base_checkpoint_id=base_id,  # the copy keeps the checkpoint's id
        start_checkpoint_id=None,  # known once the patch is applied (prepare)
        state_patch=state_patch,
        as_node=as_node,
        model_overrides=model_overrides,
    )
    return plan, prepare


def check_state_patch(
    compiled: Compiled, patch: dict[str, Any] | None, current: Mapping[str, Any]
) -> None:
    """Every key of `patch` is a state key and fits its type (`current`: the values of the
    checkpoint it is applied to); else StatePatchInvalid (422) naming each key."""
    if not patch:
        return
    known = state_channels(compiled)
    unknown = sorted(key for key in patch if key not in known)
    if unknown:
        raise StatePatchInvalid(
            f"state_patch: {unknown} are not keys of the graph's state ({sorted(known)})",
            errors=[
                {"loc": ["body", "state_patch", key], "msg": "not a state key", "type": "unknown"}
                for key in unknown
            ],
        )
    problems = state_patch_problems(compiled, patch, current)
    if problems:
        raise StatePatchInvalid(
            "state_patch: " + "; ".join(f"{p['loc'][-1]} {p['msg']}" for p in problems),
            errors=problems,
        )


async def enqueue_branch(
    services: Services,
    run: Run,
    *,
    checkpoint_thread: str,
    prepare: Callable[[], Awaitable[dict[str, Any]]],
    event: dict[str, Any],
) -> Run:
    """Prepare the run's thread (`prepare` returns what it adds to the plan), then queue
    the run; a thread left by a failed queueing is deleted (nothing else can reach it: its
    name is the unqueued run's id)."""
    try:
        learnt = await prepare()
        if learnt:
            run.branch = {**(run.branch or {}), **learnt}
        async with services.sessions.begin() as session:
            await services.journal.enqueue(session, run, event)
    except BaseException:
        await services.checkpointer.adelete_thread(checkpoint_thread)
        raise
    services.notifier.runs_claimable()
    return run


def new_branch_run(
    source: Run,
    graph: ResolvedGraph,
    plan: BranchPlan,
    *,
    run_id: str,
    thread_id: str,
    budget_usd: float | None,
) -> Run:
    return Run(
        id=run_id,
        tenant_id=source.tenant_id,
        thread_id=thread_id,
        graph=graph.name,
        version=graph.version,
        input=source.input,
        priority=source.priority,
        budget_usd=budget_usd,
        epoch=0,
        cost_usd=0.0,
        cancel_requested=False,
        branch=plan.to_json(),
        api_key_id=source.api_key_id,  # a fork calls models under its source's key's rules
    )


def new_run_id() -> str:
    return runs_repo.new_run_id()
