"""Node spans from LangGraph's `tasks` stream: a task's start opens its span, its result
or error ends it."""

from __future__ import annotations

from typing import Any

from app.observability.tracing import Tracing


def trace_task(tracing: Tracing, run_id: str, data: dict[str, Any]) -> None:
    node = str(data.get("name"))
    task_id = str(data.get("id"))
    if "result" in data or "error" in data:
        error = data.get("error")
        tracing.node_finished(run_id, node, task_id, str(error) if error else None)
    else:
        tracing.node_started(run_id, node, task_id)
