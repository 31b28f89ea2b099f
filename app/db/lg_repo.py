"""SQL of the LangGraph API's own tables: assistants (and versions) and threads, per tenant,
plus the reads of `runs` the API needs by thread (the journal stays the writer of runs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.journal import Guard
from app.db.json_merge import json_merged
from app.db.langgraph_models import LgAssistant, LgAssistantVersion, LgThread
from app.db.models import JSONType, Run, utcnow
from app.run_status import RunStatus

LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


# -- assistants ---------------------------------------------------------------------------
async def get_assistant(
    session: AsyncSession, tenant_id: str, assistant_id: str
) -> LgAssistant | None:
    row = await session.get(LgAssistant, assistant_id)
    return row if row is not None and row.tenant_id == tenant_id else None


def add_assistant(session: AsyncSession, assistant: LgAssistant) -> None:
    session.add(assistant)
    session.add(_version_of(assistant))


def _version_of(assistant: LgAssistant) -> LgAssistantVersion:
    return LgAssistantVersion(
        assistant_id=assistant.assistant_id,
        version=assistant.version,
        graph_id=assistant.graph_id,
        name=assistant.name,
        description=assistant.description,
        config=assistant.config,
        context=assistant.context,
        metadata_=assistant.metadata_,
        created_at=assistant.updated_at,
    )


async def new_assistant_version(
    session: AsyncSession, assistant: LgAssistant, changes: dict[str, Any]
) -> LgAssistant:
    """Apply `changes` as the assistant's next version (and make it the current one)."""
    latest = await session.scalar(
        select(func.max(LgAssistantVersion.version)).where(
            LgAssistantVersion.assistant_id == assistant.assistant_id
        )
    )
    for name, value in changes.items():
        setattr(assistant, name, value)
    assistant.version = int(latest or 0) + 1
    assistant.updated_at = utcnow()
    session.add(_version_of(assistant))
    await session.flush()
    return assistant


async def assistant_versions(
    session: AsyncSession, assistant_id: str, *, limit: int, offset: int
) -> Sequence[LgAssistantVersion]:
    query = (
        select(LgAssistantVersion)
        .where(LgAssistantVersion.assistant_id == assistant_id)
        .order_by(LgAssistantVersion.version.desc())
        .limit(limit)
        .offset(offset)
    )
    return (await session.scalars(query)).all()


async def assistant_version(
    session: AsyncSession, assistant_id: str, version: int
) -> LgAssistantVersion | None:
    return await session.get(LgAssistantVersion, (assistant_id, version))


async def search_assistants(
    session: AsyncSession, tenant_id: str, *, graph_id: str | None, name: str | None
) -> Sequence[LgAssistant]:
    query = select(LgAssistant).where(LgAssistant.tenant_id == tenant_id)
    if graph_id is not None:
        query = query.where(LgAssistant.graph_id == graph_id)
    if name is not None:
        query = query.where(LgAssistant.name == name)
    return (await session.scalars(query.order_by(LgAssistant.created_at.desc()))).all()


async def delete_assistant(session: AsyncSession, assistant_id: str) -> None:
    await session.execute(
        delete(LgAssistantVersion).where(LgAssistantVersion.assistant_id == assistant_id)
    )
    await session.execute(delete(LgAssistant).where(LgAssistant.assistant_id == assistant_id))


# -- threads ------------------------------------------------------------------------------
async def get_thread(session: AsyncSession, tenant_id: str, thread_id: str) -> LgThread | None:
    return await session.get(LgThread, (tenant_id, thread_id))


_THREADS: Table = LgThread.__table__  # type: ignore[assignment]
# Built once: a statement constructed per call costs more than the round trip it makes.
_LOCK_THREAD = (
    update(_THREADS)
    .where(_THREADS.c.tenant_id == bindparam("tenant"), _THREADS.c.thread_id == bindparam("thread"))
    .values(
        updated_at=bindparam("now"),
        metadata=json_merged(_THREADS.c.metadata, bindparam("tags", type_=JSONType)),
    )
    .returning(_THREADS.c.thread_id)
)


def thread_lock(tenant_id: str, thread_id: str, tags: dict[str, str]) -> Guard:
    """The statement that locks the thread for the transaction (run creation on it is
    serialised) and sets `tags` in its metadata; it finds no row when there is no such
    thread. Also a guard for queueing a run on the thread in the same statement."""
    params = {"tenant": tenant_id, "thread": thread_id, "now": utcnow(), "tags": tags}
    return Guard(_LOCK_THREAD, params)


async def lock_thread(
    session: AsyncSession, tenant_id: str, thread_id: str, tags: dict[str, str]
) -> bool:
    """`thread_lock`, on its own; False when there is no such thread."""
    lock = thread_lock(tenant_id, thread_id, tags)
    return (await session.execute(lock.statement, lock.params)).first() is not None


def add_thread(session: AsyncSession, thread: LgThread) -> None:
    session.add(thread)


_INSERT_THREAD = insert(_THREADS).values(
    tenant_id=bindparam("tenant"),
    thread_id=bindparam("thread"),
    metadata=bindparam("metadata", type_=JSONType),
    created_at=bindparam("now"),
    updated_at=bindparam("now"),
)


async def insert_thread(
    session: AsyncSession,
    tenant_id: str,
    thread_id: str,
    metadata: dict[str, Any],
    now: datetime,
) -> None:
    """A new thread, inserted at once (IntegrityError if it exists): one statement built
    once, without the ORM's flush of an object nobody reads back."""
    params = {"tenant": tenant_id, "thread": thread_id, "metadata": metadata, "now": now}
    await session.execute(_INSERT_THREAD, params)


async def search_threads(
    session: AsyncSession,
    tenant_id: str,
    *,
    ids: Sequence[str] | None,
    limit: int,
    offset: int,
    newest_first: bool,
) -> Sequence[LgThread]:
    query = select(LgThread).where(LgThread.tenant_id == tenant_id)
    if ids is not None:
        query = query.where(LgThread.thread_id.in_(list(ids)))
    order = LgThread.created_at.desc() if newest_first else LgThread.created_at.asc()
    return (await session.scalars(query.order_by(order).limit(limit).offset(offset))).all()


async def delete_thread(session: AsyncSession, tenant_id: str, thread_id: str) -> None:
    await session.execute(
        delete(LgThread).where(LgThread.tenant_id == tenant_id, LgThread.thread_id == thread_id)
    )


# -- runs by thread -------------------------------------------------------------------------
async def thread_runs(
    session: AsyncSession,
    tenant_id: str,
    thread_id: str,
    *,
    limit: int = 100,
    offset: int = 0,
    statuses: Sequence[str] | None = None,
) -> Sequence[Run]:
    """The thread's runs, newest first."""
    query = select(Run).where(
        Run.tenant_id == tenant_id, Run.thread_id == thread_id, Run.lg.is_not(None)
    )
    if statuses is not None:
        query = query.where(Run.status.in_(list(statuses)))
    query = query.order_by(Run.created_at.desc(), Run.id.desc()).limit(limit).offset(offset)
    return (await session.scalars(query)).all()


async def live_runs(session: AsyncSession, tenant_id: str, thread_id: str) -> Sequence[Run]:
    """The thread's queued and running runs, oldest first."""
    query = (
        select(Run)
        .where(Run.tenant_id == tenant_id, Run.thread_id == thread_id, Run.status.in_(LIVE))
        .order_by(Run.created_at)
    )
    return (await session.scalars(query)).all()


async def latest_run(session: AsyncSession, tenant_id: str, thread_id: str) -> Run | None:
    runs = await thread_runs(session, tenant_id, thread_id, limit=1)
    return runs[0] if runs else None


async def live_tenant_runs(
    session: AsyncSession,
    tenant_id: str,
    *,
    thread_id: str | None,
    run_ids: Sequence[str] | None,
    statuses: Sequence[str],
) -> Sequence[Run]:
    query = select(Run).where(Run.tenant_id == tenant_id, Run.status.in_(list(statuses)))
    if thread_id is not None:
        query = query.where(Run.thread_id == thread_id)
    if run_ids is not None:
        query = query.where(Run.id.in_(list(run_ids)))
    return (await session.scalars(query.limit(10_000))).all()


async def latest_thread_run(session: AsyncSession, tenant_id: str, thread_id: str) -> Run | None:
    """The thread's newest run, whichever API started it."""
    query = (
        select(Run)
        .where(Run.tenant_id == tenant_id, Run.thread_id == thread_id)
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()
