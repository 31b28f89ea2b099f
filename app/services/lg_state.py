"""A thread's LangGraph state (values, next nodes, tasks, pending interrupts), its history
and updates to it, read and written through the compiled graph and routegraph's savers."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot

from app.db.tenant_scope import checkpoint_thread
from app.db.thread_checkpoints import unfenced
from app.services.lg_json import jsonable
from graphs.registry import Compiled


def state_config(
    tenant_id: str, thread_id: str, checkpoint_id: str | None = None, ns: str = ""
) -> RunnableConfig:
    configurable: dict[str, Any] = {
        "thread_id": checkpoint_thread(tenant_id, thread_id),
        "checkpoint_ns": ns,
    }
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def empty_state() -> dict[str, Any]:
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "metadata": {},
        "created_at": None,
        "checkpoint": None,
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }


def _checkpoint_ref(thread_id: str, config: RunnableConfig | None) -> dict[str, Any] | None:
    if not config:
        return None
    configurable = config.get("configurable", {})
    return {
        "thread_id": thread_id,
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


def snapshot_json(thread_id: str, snapshot: StateSnapshot) -> dict[str, Any]:
    """A `StateSnapshot` as LangGraph's server answers `GET /threads/{id}/state`."""
    tasks = []
    for task in snapshot.tasks:
        sub = task.state
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": jsonable(task.path),
                "error": str(task.error) if task.error else None,
                "interrupts": jsonable(list(task.interrupts)),
                "checkpoint": _checkpoint_ref(thread_id, sub)
                if sub is not None and not isinstance(sub, StateSnapshot)
                else None,
                "state": snapshot_json(thread_id, sub) if isinstance(sub, StateSnapshot) else None,
                "result": jsonable(task.result),
            }
        )
    checkpoint = _checkpoint_ref(thread_id, snapshot.config)
    parent = _checkpoint_ref(thread_id, snapshot.parent_config)
    return {
        "values": jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": jsonable(snapshot.metadata or {}),
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": jsonable(list(snapshot.interrupts)),
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


async def thread_state(
    compiled: Compiled,
    tenant_id: str,
    thread_id: str,
    *,
    checkpoint_id: str | None = None,
    subgraphs: bool = False,
) -> dict[str, Any] | None:
    """The state at `checkpoint_id` (the latest when None); None when there is none."""
    config = state_config(tenant_id, thread_id, checkpoint_id)
    snapshot = await compiled.aget_state(config, subgraphs=subgraphs)
    if snapshot.config is None or not snapshot.created_at:
        return None
    return snapshot_json(thread_id, snapshot)


async def thread_history(
    compiled: Compiled,
    tenant_id: str,
    thread_id: str,
    *,
    limit: int,
    before: str | None,
    metadata: dict[str, Any] | None,
    checkpoint_id: str | None,
) -> list[dict[str, Any]]:
    """States newest first."""
    config = state_config(tenant_id, thread_id, checkpoint_id)
    before_config = state_config(tenant_id, thread_id, before) if before else None
    return [
        snapshot_json(thread_id, snapshot)
        async for snapshot in compiled.aget_state_history(
            config, filter=metadata or None, before=before_config, limit=limit
        )
    ]


async def update_thread_state(
    compiled: Compiled,
    tenant_id: str,
    thread_id: str,
    values: Any,
    *,
    as_node: str | None,
    checkpoint_id: str | None,
) -> dict[str, Any]:
    """LangGraph's `update_state` (through the state's reducers); the new checkpoint."""
    config = state_config(tenant_id, thread_id, checkpoint_id)
    with unfenced():
        written = await compiled.aupdate_state(config, values, as_node=as_node)
    return {"checkpoint": _checkpoint_ref(thread_id, written)}


def pending_interrupts(state: dict[str, Any] | None) -> dict[str, list[Any]]:
    """`{task id: [interrupt, ...]}` of a state's tasks that wait for a resume."""
    if state is None:
        return {}
    return {task["id"]: task["interrupts"] for task in state["tasks"] if task["interrupts"]}
