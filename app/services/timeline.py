"""A run's timeline: its steps from the checkpoint history, joined with its node events
(durations) and its ledger (model calls by tape key).

Each step is the checkpoint it wrote: the nodes that ran (the tasks of the checkpoint
before it, with their writes), the state they read (that checkpoint's values), what
changed, and each node's calls. A run that failed, was cancelled or ran out of budget
mid-step ends with the step that did not finish: its tasks come from the last checkpoint
(with their error, if they failed) and no checkpoint follows. Once a run's payloads are
pruned (or its graph is gone), the steps come from its node events instead, without state.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import PregelTask, StateSnapshot
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import events_repo, ledger_repo
from app.db.models import Run, RunEvent
from app.db.thread_checkpoints import COPIED_FROM_KEY, RUN_ID_KEY, checkpoint_id_of
from app.run_status import is_terminal
from app.schemas.replay import BranchOut
from app.schemas.replay_verdict import DivergenceOut
from app.schemas.runs import RunOut
from app.schemas.timeline import StepOut, TaskOut, TimelineOut, TimelineTotals
from app.services import runs as run_service
from app.services.branch_plan import BranchPlan
from app.services.container import Services
from app.services.run_history import compiled_for, run_snapshots
from app.services.state_diff import diff_states, shown
from app.services.timeline_calls import (
    NEVER,
    CallGroup,
    Execution,
    as_utc,
    executions,
    group_calls,
)

# "stream": the LangGraph API's stream chunks (their content is in the steps already).
LIFECYCLE_SKIP = ("node_started", "node_finished", "node_failed", "model_call", "stream")


async def run_timeline(
    services: Services, run_id: str, tenant_id: str | None, max_chars: int = 2000
) -> TimelineOut:
    """The run's timeline (RunNotFound for an unknown run or another tenant's)."""
    run = await run_service.get_run(services, run_id, tenant_id)
    async with services.sessions() as session:
        events = await _all_events(session, run.id)
        rows = await ledger_repo.calls_for_run(session, run.id)
    groups = group_calls(run.id, rows)
    found = executions(events, max_chars)
    history = await _history(services, run) if run.payloads_pruned_at is None else None
    plan = BranchPlan.from_json(run.branch) if run.branch else None
    if history is not None:
        steps = _steps_from_history(run, plan, history, found, groups, max_chars)
    else:
        steps = _steps_from_events(found, groups, max_chars)
    _mark_divergence(run, steps)
    claimed = {call.key for step in steps for task in step.tasks for call in task.calls}
    return TimelineOut(
        run=RunOut.model_validate(run),
        branched_from=_branch_out(plan),
        steps=steps,
        unattributed_calls=[g.out() for g in groups if g.key not in claimed],
        lifecycle=[_lifecycle(e, max_chars) for e in events if e.kind not in LIFECYCLE_SKIP],
        totals=_totals(groups),
        state_source="checkpoints" if history is not None else "events",
        max_chars=max_chars,
    )


async def _all_events(session: AsyncSession, run_id: str) -> list[RunEvent]:
    events: list[RunEvent] = []
    while True:
        page = await events_repo.events_after(session, run_id, events[-1].seq if events else 0)
        events.extend(page)
        if len(page) < 500:
            return events


async def _history(services: Services, run: Run) -> list[StateSnapshot] | None:
    """The run's checkpoints and the one it started from, oldest first; None when the graph
    cannot be resolved any more."""
    compiled = await compiled_for(services, run)
    if compiled is None:
        return None
    snapshots = await run_snapshots(compiled, run)
    if snapshots and snapshots[0].parent_config is not None:
        parent = await compiled.aget_state(snapshots[0].parent_config)
        if parent.metadata is not None:  # else: pruned with an earlier run of the thread
            snapshots.insert(0, parent)
    return snapshots


def _steps_from_history(
    run: Run,
    plan: BranchPlan | None,
    history: list[StateSnapshot],
    found: dict[str, Execution],
    groups: list[CallGroup],
    max_chars: int,
) -> list[StepOut]:
    steps: list[StepOut] = []
    previous: StateSnapshot | None = None
    for snapshot in history:
        metadata = snapshot.metadata or {}
        if metadata.get(RUN_ID_KEY) != run.id:
            previous = snapshot  # the checkpoint the run started from
            continue
        before = previous if _is_parent(previous, snapshot) else None
        steps.append(_step(run, plan, before, snapshot, found, groups, max_chars))
        previous = snapshot
    if (
        previous is not None
        and previous.tasks
        and (previous.metadata or {}).get(RUN_ID_KEY) == run.id
    ):
        steps.append(_unfinished_step(run, previous, found, groups, max_chars))
    return steps


def _is_parent(previous: StateSnapshot | None, snapshot: StateSnapshot) -> bool:
    return previous is not None and checkpoint_id_of(snapshot.parent_config) == checkpoint_id_of(
        previous.config
    )


def _step(
    run: Run,
    plan: BranchPlan | None,
    before: StateSnapshot | None,
    snapshot: StateSnapshot,
    found: dict[str, Execution],
    groups: list[CallGroup],
    max_chars: int,
) -> StepOut:
    metadata: dict[str, Any] = dict(snapshot.metadata or {})
    step = int(metadata.get("step", 0))
    source = metadata.get("source")
    common: dict[str, Any] = {
        "step": step,
        "checkpoint_id": checkpoint_id_of(snapshot.config),
        "parent_checkpoint_id": checkpoint_id_of(snapshot.parent_config),
        "created_at": snapshot.created_at,
    }
    if COPIED_FROM_KEY in metadata:
        return StepOut(kind="branch", nodes=[], copied_from=metadata[COPIED_FROM_KEY], **common)
    diff = diff_states(before.values, snapshot.values, max_chars) if before is not None else None
    read = shown(before.values, max_chars) if before is not None else None
    if source == "input":
        given = TaskOut(
            node="__input__",
            task_id=None,
            path=None,
            status="succeeded",
            wrote=shown(run.input, max_chars),
        )
        return StepOut(kind="input", nodes=[], tasks=[given], read=read, diff=diff, **common)
    if source == "update":
        node = plan.as_node if plan else None
        patch = TaskOut(
            node=node or "?",
            task_id=None,
            path=None,
            status="succeeded",
            wrote=shown(plan.state_patch if plan else None, max_chars),
        )
        return StepOut(
            kind="state_patch",
            nodes=[node] if node else [],
            tasks=[patch],
            read=read,
            diff=diff,
            **common,
        )
    tasks = [
        _task(t, step, "succeeded", found, groups, max_chars)
        for t in (before.tasks if before else ())
    ]
    return _with_totals(
        StepOut(
            kind="node", nodes=[t.node for t in tasks], tasks=tasks, read=read, diff=diff, **common
        )
    )


def _unfinished_step(
    run: Run,
    last: StateSnapshot,
    found: dict[str, Execution],
    groups: list[CallGroup],
    max_chars: int,
) -> StepOut:
    """The step after the last checkpoint: failed, cancelled, out of budget, or running."""
    step = int((last.metadata or {}).get("step", 0)) + 1
    tasks = []
    for task in last.tasks:
        execution = found.get(task.id)
        if task.error is not None:
            status = "failed"
        elif task.result is not None:
            status = "succeeded"
        elif not is_terminal(run.status):
            status = "running"
        elif execution is not None and execution.starts:
            status = "interrupted"
        else:
            status = "not_run"
        tasks.append(_task(task, step, status, found, groups, max_chars))
    return _with_totals(
        StepOut(
            step=step,
            kind="node",
            checkpoint_id=None,
            parent_checkpoint_id=checkpoint_id_of(last.config),
            nodes=[t.node for t in tasks],
            tasks=tasks,
            read=shown(last.values, max_chars),
        )
    )


def _made_by(
    group: CallGroup, node: str, step: int, path: str, execution: Execution | None
) -> bool:
    """A call's key names its task's own namespace (the node), step and path; a call of a
    subgraph inside the task names the subgraph's step, so it is placed by time."""
    position = group.position
    if position is None:
        return False
    names = position.namespace.split("/") if position.namespace else []
    if len(names) <= 1:
        return names in ([], [node]) and position.step == step and position.path == path
    return names[0] == node and execution is not None and execution.contains(group.first_at)


def _task(
    task: PregelTask,
    step: int,
    status: str,
    found: dict[str, Execution],
    groups: list[CallGroup],
    max_chars: int,
) -> TaskOut:
    execution = found.get(task.id)
    path = ".".join(str(part) for part in task.path if part != "__pregel_pull")
    calls = [g for g in groups if _made_by(g, task.name, step, path, execution)]
    return TaskOut(
        node=task.name,
        task_id=task.id,
        path=path,
        status=status,  # type: ignore[arg-type]
        error=(execution.error if execution and execution.error else _described(task.error))
        if task.error is not None
        else (execution.error if execution else None),
        started_at=execution.starts[-1] if execution and execution.starts else None,
        finished_at=execution.finished_at if execution else None,
        duration_ms=execution.duration_ms if execution else None,
        executions=len(execution.starts) if execution else 0,
        wrote=shown(task.result, max_chars) if task.result is not None else None,
        calls=[g.out() for g in calls],
        events=execution.events if execution else [],
    )


def _steps_from_events(
    found: dict[str, Execution], groups: list[CallGroup], max_chars: int
) -> list[StepOut]:
    """Without checkpoints: one step per node execution, in the order they started; its
    step number from its calls' keys when it made any."""
    steps = []
    for execution in sorted(found.values(), key=lambda e: e.starts[0] if e.starts else NEVER):
        calls = [
            g
            for g in groups
            if g.position is not None
            and g.position.node == execution.node
            and execution.contains(g.first_at)
        ]
        status = (
            "failed"
            if execution.error
            else ("succeeded" if execution.finished_at else "interrupted")
        )
        task = TaskOut(
            node=execution.node,
            task_id=execution.task_id,
            path=None,
            status=status,  # type: ignore[arg-type]
            error=execution.error,
            started_at=execution.starts[-1] if execution.starts else None,
            finished_at=execution.finished_at,
            duration_ms=execution.duration_ms,
            executions=len(execution.starts),
            calls=[g.out() for g in calls],
            events=execution.events,
        )
        step = calls[0].position.step if calls and calls[0].position else None
        steps.append(
            _with_totals(
                StepOut(
                    step=step,
                    kind="node",
                    checkpoint_id=None,
                    parent_checkpoint_id=None,
                    nodes=[execution.node],
                    tasks=[task],
                )
            )
        )
    return steps


def _with_totals(step: StepOut) -> StepOut:
    durations = [t.duration_ms for t in step.tasks if t.duration_ms is not None]
    step.duration_ms = max(durations) if durations else None
    step.cost_usd = round(sum(c.cost_usd for t in step.tasks for c in t.calls), 10)
    return step


def _mark_divergence(run: Run, steps: list[StepOut]) -> None:
    divergence = (run.replay or {}).get("divergence")
    if not divergence:
        return
    for step in steps:
        if step.step == divergence.get("step") and step.kind == "node":
            step.divergence = DivergenceOut.model_validate(divergence)
            return


def _branch_out(plan: BranchPlan | None) -> BranchOut | None:
    if plan is None:
        return None
    return BranchOut(
        kind=plan.kind,
        source_run_id=plan.source_run_id,
        source_checkpoint_id=plan.source_checkpoint_id,
        source_step=plan.source_step,
        state_patch=plan.state_patch,
        as_node=plan.as_node,
        model_overrides=plan.model_overrides,
    )


def _lifecycle(event: RunEvent, max_chars: int) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": as_utc(event.at).isoformat(),
        "kind": event.kind,
        "node": event.node,
        "payload": shown(event.payload, max_chars),
    }


def _totals(groups: list[CallGroup]) -> TimelineTotals:
    rows = [row for group in groups for row in group.rows]
    return TimelineTotals(
        cost_usd=round(sum(r.cost_usd for r in rows), 10),
        calls=len(groups),
        attempts=len(rows),
        failed_attempts=sum(r.status in ("error", "invalid_output") for r in rows),
        lost_attempts=sum(r.status == "lost" for r in rows),
        replayed=sum(r.status == "replayed" for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
    )


def _described(error: object) -> str:
    """A node's error as its event wrote it (`KeyError: 'question'`)."""
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)
