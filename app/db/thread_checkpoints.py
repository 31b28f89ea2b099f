"""A run's LangGraph checkpoints, read and copied through the official savers' own API.

Checkpoints belong to threads, and a thread holds the runs made on it one after another:
each checkpoint a run writes carries `routegraph_run_id` in its metadata (the worker puts
it in the run's config). Replays and forks copy one checkpoint into a thread of their own,
so their runs never write to the thread they came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointMetadata, CheckpointTuple

from app.db.fencing import current_lease

ROOT_NAMESPACE = ""  # subgraphs checkpoint under their own namespaces; runs start at the root
RUN_ID_KEY = "routegraph_run_id"
COPIED_FROM_KEY = "routegraph_copied_from"


@contextmanager
def unfenced() -> Iterator[None]:
    """Checkpoint writes that prepare a new run's thread belong to no lease (the caller's
    context may still carry one, e.g. a test that ran a worker in the same task)."""
    token = current_lease.set(None)
    try:
        yield
    finally:
        current_lease.reset(token)


def thread_config(thread_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ROOT_NAMESPACE}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def checkpoint_id_of(config: RunnableConfig | None) -> str | None:
    if config is None:
        return None
    value = config.get("configurable", {}).get("checkpoint_id")
    return str(value) if value is not None else None


async def run_checkpoints(
    saver: BaseCheckpointSaver[Any], thread_id: str, run_id: str
) -> list[CheckpointTuple]:
    """The root-namespace checkpoints `run_id` wrote (or was given), oldest first."""
    found = [
        item async for item in saver.alist(thread_config(thread_id), filter={RUN_ID_KEY: run_id})
    ]
    found.reverse()  # the savers list newest first
    return found


async def get_checkpoint(
    saver: BaseCheckpointSaver[Any], thread_id: str, checkpoint_id: str
) -> CheckpointTuple | None:
    return await saver.aget_tuple(thread_config(thread_id, checkpoint_id))


async def copy_checkpoint(
    saver: BaseCheckpointSaver[Any],
    source: CheckpointTuple,
    thread_id: str,
    *,
    metadata: dict[str, Any],
    with_writes: bool,
) -> RunnableConfig:
    """Store `source` as the first checkpoint of `thread_id`, with the same id, step and
    channel versions (so the steps after it are numbered as they were in the source).

    Every channel version is passed as new: the Postgres saver stores a checkpoint's
    blobs only for the versions it is told are new, and the target thread has none yet.
    With `with_writes`, the pending writes go along (task paths are not kept: they only
    order the writes of one task).
    """
    checkpoint = source.checkpoint
    with unfenced():
        target = await saver.aput(
            thread_config(thread_id),
            checkpoint,
            cast(CheckpointMetadata, metadata),
            dict(checkpoint["channel_versions"]),
        )
        if with_writes and source.pending_writes:
            by_task: dict[str, list[tuple[str, Any]]] = defaultdict(list)
            for task_id, channel, value in source.pending_writes:
                by_task[task_id].append((channel, value))
            for task_id, writes in by_task.items():
                await saver.aput_writes(target, writes, task_id)
    return target
