"""A run's timeline (`GET /v1/runs/{id}/timeline`) as a tree in the terminal."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.tree import Tree

from app.schemas.timeline import LogicalCallOut, StepOut, TaskOut, TimelineOut

STATUS_STYLE = {"succeeded": "green", "ok": "green", "replayed": "cyan", "running": "yellow"}


def timeline_tree(timeline: TimelineOut) -> Tree:
    """The timeline as a tree: steps, their nodes, each node's calls and their attempts."""
    run = timeline.run
    style = STATUS_STYLE.get(run.status, "red")
    tree = Tree(
        f"[bold]{run.id}[/] {escape(run.graph)} v{run.version}: [{style}]{run.status}[/]  "
        f"${run.cost_usd:.6f}  {timeline.totals.calls} calls / {timeline.totals.attempts} attempts"
    )
    if timeline.branched_from is not None:
        b = timeline.branched_from
        tree.add(f"[magenta]{b.kind} of {b.source_run_id}[/] from step {b.source_step}")
    if run.replay is not None:
        verdict = run.replay
        if verdict.reproduced:
            tree.add("[green]reproduced its source run[/]")
        elif verdict.divergence is not None:
            d = verdict.divergence
            tree.add(f"[red]diverged at step {d.step} ({d.node}): {d.kind}: {escape(d.detail)}[/]")
    for step in timeline.steps:
        _add_step(tree, step)
    if run.error:
        tree.add(f"[red]{escape(run.error)}[/]")
    if timeline.state_source == "events":
        tree.add("[yellow]payloads pruned (or graph gone): steps from node events, no state[/]")
    return tree


def _add_step(tree: Tree, step: StepOut) -> None:
    label = f"step {step.step}" if step.step is not None else "step ?"
    timing = f" · {step.duration_ms / 1000:.2f}s" if step.duration_ms is not None else ""
    cost = f" · ${step.cost_usd:.6f}" if step.cost_usd else ""
    what = ", ".join(step.nodes) or step.kind
    node = tree.add(f"[bold]{label}[/] {escape(what)}{timing}{cost}")
    if step.kind == "branch" and step.copied_from:
        node.add(f"copy of checkpoint {step.copied_from.get('checkpoint_id')}")
    if step.divergence is not None:
        node.add(f"[red]diverged: {step.divergence.kind}: {escape(step.divergence.detail)}[/]")
    for task in step.tasks:
        _add_task(node, task)
    if step.diff:
        node.add("changed: " + escape(", ".join(step.diff)))


def _add_task(parent: Tree, task: TaskOut) -> None:
    style = STATUS_STYLE.get(task.status, "red")
    again = f" (started {task.executions}x)" if task.executions > 1 else ""
    node = parent.add(f"{escape(task.node)} [{style}]{task.status}[/]{again}")
    if task.error:
        node.add(f"[red]{escape(task.error[:300])}[/]")
    for call in task.calls:
        _add_call(node, call)
    for event in task.events:
        payload = event.get("payload") or {}
        node.add(f"[dim]{event['kind']}: {escape(json.dumps(payload)[:200])}[/]")


def _add_call(parent: Tree, call: LogicalCallOut) -> None:
    style = STATUS_STYLE.get(call.status, "red")
    answer = f"{call.answered_by or '-'} ({call.tier or '-'})"
    node = parent.add(
        f"call {call.index}: [{style}]{call.status}[/] {answer}"
        f" · {call.prompt_tokens}+{call.completion_tokens} tok · ${call.cost_usd:.6f}"
        f" · {call.latency_ms:.0f} ms"
    )
    node.add(f"[dim]{escape(call.routing_reason[:200])}[/]")
    for note in call.notes:
        node.add(escape(note[:300]))
    if len(call.attempts) > 1:
        for attempt in call.attempts:
            node.add(
                f"[dim]attempt {attempt.attempt} {attempt.model}: {attempt.status}"
                + (f" ({escape((attempt.error or '')[:120])})" if attempt.error else "")
                + "[/]"
            )
