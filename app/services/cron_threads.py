"""The thread of a stateless cron's firing: made with the firing's run, and deleted with
its checkpoints once that run has ended unless the cron says `on_run_completed: "keep"`
(LangGraph's server does the same: "delete", the default, removes the thread after the
run; "keep" leaves a thread per firing for the client to read and clean up).

A stateless `POST /runs` (and `/runs/wait`, `/runs/stream`) with `on_completion: "delete"`
(the default) queues its thread here the same way (`app.services.lg_runs.create_run`).

The threads to delete are rows in the database, so a worker that dies between the run's
end and the deletion leaves the work to whichever worker polls next.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import crons_repo, lg_repo
from app.db.cron_table import Cron
from app.db.langgraph_models import LgThread
from app.db.models import Run, utcnow
from app.db.tenant_scope import checkpoint_thread
from app.services.container import Services

log = logging.getLogger(__name__)


def add_firing_thread(session: AsyncSession, cron: Cron, run: Run) -> None:
    """The stateless firing's own thread, in the transaction that queues `run` on it."""
    now = utcnow()
    metadata = {"graph_id": run.graph, "assistant_id": cron.assistant_id, "cron_id": cron.cron_id}
    thread = LgThread(
        tenant_id=run.tenant_id,
        thread_id=run.thread_id,
        metadata_=metadata,
        created_at=now,
        updated_at=now,
    )
    lg_repo.add_thread(session, thread)
    if cron.on_run_completed != "keep":
        crons_repo.add_temporary_thread(session, run.tenant_id, run.thread_id, run.id)


async def delete_ended_threads(services: Services, limit: int = 50) -> int:
    """Delete the threads whose firing's run has ended; returns how many went."""
    async with services.worker_sessions() as session:
        ended = await crons_repo.ended_temporary_threads(session, limit)
    deleted = 0
    for tenant_id, thread_id in ended:
        async with services.worker_sessions() as session:
            if await lg_repo.live_runs(session, tenant_id, thread_id):
                continue  # a client started another run on it: delete it after that one
        await services.checkpointer.adelete_thread(checkpoint_thread(tenant_id, thread_id))
        async with services.worker_sessions.begin() as session:
            await lg_repo.delete_thread(session, tenant_id, thread_id)
            await crons_repo.forget_temporary_thread(session, tenant_id, thread_id)
        deleted += 1
    if deleted:
        log.debug("deleted %d threads of stateless cron firings", deleted)
    return deleted
