"""Threads of the LangGraph API: a conversation's checkpoints, runs and metadata.

A thread's status is derived, never stored: `busy` while one of its runs is queued or
running, `interrupted` while its latest state waits for a resume (an `interrupt()` or a
breakpoint left nodes to run), `error` when its last
run failed, else `idle`. Its graph is the one its first run named (`metadata.graph_id`,
as LangGraph's server records it).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import lg_repo
from app.db.journal import RunJournal
from app.db.langgraph_models import LgThread
from app.db.models import Run, utcnow
from app.db.tenant_scope import checkpoint_thread
from app.db.thread_checkpoints import copy_checkpoint
from app.run_status import RunStatus
from app.schemas.langgraph import ThreadCreate, ThreadPatch, ThreadSearch
from app.services.container import Services
from app.services.errors import ServiceError, UnknownGraph
from app.services.lg_state import pending_interrupts, state_config, thread_state
from graphs.registry import Compiled

FAILED = (RunStatus.FAILED, RunStatus.BUDGET_EXCEEDED)


class ThreadNotFound(ServiceError):
    status = 404
    title = "Thread not found"


class ThreadConflict(ServiceError):
    status = 409
    title = "Thread exists"


async def create_thread(services: Services, body: ThreadCreate, tenant_id: str) -> dict[str, Any]:
    if body.supersteps:
        raise ThreadConflict("supersteps are not supported by this server")
    thread_id = body.thread_id or str(uuid.uuid4())
    metadata = body.metadata or {}
    now = utcnow()
    try:  # the insert is the existence check: no read before it
        async with services.sessions.one_statement() as session:
            await lg_repo.insert_thread(session, tenant_id, thread_id, metadata, now)
    except IntegrityError:
        async with services.sessions() as session:
            existing = await lg_repo.get_thread(session, tenant_id, thread_id)
        if existing is None:  # not a duplicate id after all
            raise
        if body.if_exists == "do_nothing":
            return await thread_json(services, existing)
        raise ThreadConflict(f"Thread {thread_id} already exists") from None
    # Just created: no runs, no state (nothing to read).
    return {
        "thread_id": thread_id,
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
        "metadata": metadata,
        "status": "idle",
        "values": None,
        "interrupts": {},
        "config": {},
        "error": None,
    }


async def hold_thread(
    session: AsyncSession,
    tenant_id: str,
    thread_id: str,
    *,
    create: bool,
    tags: dict[str, str],
) -> None:
    """In the caller's transaction: the thread, locked (run creation on it is serialised),
    created when `create` (else 404), with what a run tells of it (`tags`: its graph and
    assistant) recorded in its metadata. One statement for a thread that exists."""
    if not await lg_repo.lock_thread(session, tenant_id, thread_id, tags):
        await _create_missing(session, tenant_id, thread_id, create=create, tags=tags)


async def _create_missing(
    session: AsyncSession, tenant_id: str, thread_id: str, *, create: bool, tags: dict[str, str]
) -> None:
    """A thread the lock did not find: created with `tags` as its metadata, or a 404."""
    if not create:
        raise ThreadNotFound(f"Thread {thread_id} not found")
    await lg_repo.insert_thread(session, tenant_id, thread_id, dict(tags), utcnow())


async def queue_on_thread(
    journal: RunJournal,
    session: AsyncSession,
    run: Run,
    payload: dict[str, Any],
    *,
    create: bool,
    tags: dict[str, str],
) -> None:
    """`hold_thread` for `run`'s thread, then `run` queued on it, in the caller's
    transaction: one statement for a thread that exists (the lock is the queueing's guard)."""
    lock = lg_repo.thread_lock(run.tenant_id, run.thread_id, tags)
    if not await journal.enqueue(session, run, payload, guard=lock):
        await _create_missing(session, run.tenant_id, run.thread_id, create=create, tags=tags)
        await journal.enqueue(session, run, payload)


async def get_thread_row(services: Services, thread_id: str, tenant_id: str) -> LgThread:
    async with services.sessions() as session:
        row = await lg_repo.get_thread(session, tenant_id, thread_id)
    if row is None:
        raise ThreadNotFound(f"Thread {thread_id} not found")
    return row


async def thread_graph(services: Services, thread: LgThread) -> Compiled | None:
    """The compiled graph of the thread's runs (None before its first run)."""
    graph_id = thread.metadata_.get("graph_id")
    if not isinstance(graph_id, str):
        return None
    try:
        graph = await services.registry.resolve(graph_id, tenant_id=thread.tenant_id)
    except UnknownGraph:
        return None
    return services.registry.compiled(graph)


async def thread_json(services: Services, thread: LgThread) -> dict[str, Any]:
    compiled = await thread_graph(services, thread)
    state = None
    if compiled is not None:
        state = await thread_state(compiled, thread.tenant_id, thread.thread_id)
    interrupts = pending_interrupts(state)
    async with services.sessions() as session:
        live = await lg_repo.live_runs(session, thread.tenant_id, thread.thread_id)
        last = (
            None if live else await lg_repo.latest_run(session, thread.tenant_id, thread.thread_id)
        )
    failed = last is not None and last.status in FAILED
    if live:
        status = "busy"
    elif interrupts:
        status = "interrupted"
    elif failed:
        status = "error"
    elif state is not None and state["next"]:
        status = "interrupted"  # a breakpoint (interrupt_before/after) left nodes to run
    else:
        status = "idle"
    error = last.error if status == "error" and last is not None else None
    return {
        "thread_id": thread.thread_id,
        "created_at": thread.created_at.isoformat(),
        "updated_at": thread.updated_at.isoformat(),
        "metadata": thread.metadata_,
        "status": status,
        "values": state["values"] if state else None,
        "interrupts": interrupts,
        "config": {},
        "error": error,
    }


async def get_thread(services: Services, thread_id: str, tenant_id: str) -> dict[str, Any]:
    return await thread_json(services, await get_thread_row(services, thread_id, tenant_id))


async def update_thread(
    services: Services, thread_id: str, body: ThreadPatch, tenant_id: str
) -> dict[str, Any]:
    async with services.sessions.begin() as session:
        row = await lg_repo.get_thread(session, tenant_id, thread_id)
        if row is None:
            raise ThreadNotFound(f"Thread {thread_id} not found")
        row.metadata_ = {**row.metadata_, **(body.metadata or {})}
        row.updated_at = utcnow()
    return await thread_json(services, row)


async def tag_thread(services: Services, thread: LgThread, metadata: dict[str, Any]) -> None:
    """Record what a run tells of the thread (its graph and assistant) in its metadata."""
    if all(thread.metadata_.get(k) == v for k, v in metadata.items()):
        return
    async with services.sessions.begin() as session:
        row = await lg_repo.get_thread(session, thread.tenant_id, thread.thread_id)
        if row is not None:
            row.metadata_ = {**row.metadata_, **metadata}
            row.updated_at = utcnow()
    thread.metadata_ = {**thread.metadata_, **metadata}


async def delete_thread(services: Services, thread_id: str, tenant_id: str) -> None:
    """The thread and its checkpoints; its runs stay in the ledger and the run list. A busy
    thread is refused (409): its running run would write checkpoints after they are gone."""
    await get_thread_row(services, thread_id, tenant_id)
    async with services.sessions() as session:
        live = await lg_repo.live_runs(session, tenant_id, thread_id)
    if live:
        raise ThreadConflict(f"Thread {thread_id} is busy with run {live[0].id}: cancel it first")
    await services.checkpointer.adelete_thread(checkpoint_thread(tenant_id, thread_id))
    async with services.sessions.begin() as session:
        await lg_repo.delete_thread(session, tenant_id, thread_id)


async def copy_thread(services: Services, thread_id: str, tenant_id: str) -> dict[str, Any]:
    """A new thread with the same metadata, starting from this thread's latest checkpoint."""
    source = await get_thread_row(services, thread_id, tenant_id)
    copied = await create_thread(services, ThreadCreate(metadata=source.metadata_), tenant_id)
    latest = await services.checkpointer.aget_tuple(state_config(tenant_id, thread_id))
    if latest is not None:
        await copy_checkpoint(
            services.checkpointer,
            latest,
            checkpoint_thread(tenant_id, copied["thread_id"]),
            metadata={**latest.metadata, "routegraph_copied_from": thread_id},
            with_writes=True,
        )
    return await get_thread(services, copied["thread_id"], tenant_id)


async def search_threads(
    services: Services, body: ThreadSearch, tenant_id: str
) -> list[dict[str, Any]]:
    """Newest first (or as `sort_order` says), filtered by ids, metadata, values, status."""
    async with services.sessions() as session:
        rows = await lg_repo.search_threads(
            session,
            tenant_id,
            ids=body.ids,
            limit=10_000,
            offset=0,
            newest_first=body.sort_order != "asc",
        )
    found = []
    for row in rows:
        if any(row.metadata_.get(k) != v for k, v in (body.metadata or {}).items()):
            continue
        thread = await thread_json(services, row)
        if body.status is not None and thread["status"] != body.status:
            continue
        values = thread["values"] or {}
        if any(values.get(k) != v for k, v in (body.values or {}).items()):
            continue
        found.append(thread)
        if len(found) >= body.offset + body.limit:
            break
    return found[body.offset :]


async def count_threads(services: Services, body: ThreadSearch, tenant_id: str) -> int:
    """How many threads match (up to 1,000), whatever `limit`/`offset` say."""
    everything = body.model_copy(update={"limit": 1000, "offset": 0})
    return len(await search_threads(services, everything, tenant_id))


async def graph_of_thread(services: Services, thread_id: str, tenant_id: str) -> Compiled | None:
    """The compiled graph of a thread's runs (ThreadNotFound; None before its first run)."""
    return await thread_graph(services, await get_thread_row(services, thread_id, tenant_id))
