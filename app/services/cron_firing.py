"""Firing due crons: what every worker does each `cron_poll_seconds`.

Each firing is claimed and its run queued in one transaction, so one run starts per
firing however many workers find the cron due at once. A cron that fires late (no worker
was up) fires once and moves on to its next time after now, as LangGraph's server does.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from app.db import crons_repo
from app.db.cron_table import Cron
from app.db.lg_repo import live_runs
from app.services.container import Services
from app.services.cron_runs import cron_run, firing_payload
from app.services.cron_threads import add_firing_thread, delete_ended_threads
from app.services.crons import next_firing, utc
from app.services.errors import ServiceError

log = logging.getLogger(__name__)


async def fire_due_crons(
    services: Services, *, now: datetime | None = None, limit: int = 50
) -> int:
    """Start a run for every due cron this worker claims; returns how many it started.
    Threads of stateless firings whose run has ended are deleted first."""
    await delete_ended_threads(services)
    now = now or datetime.now(UTC)
    async with services.worker_sessions() as session:
        due = await crons_repo.due_crons(session, now, limit)
    started = 0
    for cron in due:
        started += await _fire(services, cron, now)
    if started:
        services.notifier.runs_claimable()
    return started


async def _fire(services: Services, cron: Cron, now: datetime) -> int:
    due_at = utc(cron.next_run_date)
    assert due_at is not None  # due_crons only returns crons with a next firing
    following = next_firing(cron.schedule, cron.timezone, now, utc(cron.end_time))
    try:
        run = await cron_run(
            services,
            cron.tenant_id,
            firing_payload(cron),
            thread_id=cron.thread_id,
            cron_id=cron.cron_id,
        )
    except ServiceError as exc:
        # The graph is gone or its input changed since the cron was made: this firing is
        # skipped (and said so); the cron keeps its schedule.
        log.warning("cron %s: firing at %s skipped: %s", cron.cron_id, due_at, exc.detail)
        run = None
    async with services.worker_sessions.begin() as session:
        claimed = await crons_repo.claim_firing(
            session,
            cron,
            next_run_date=following,
            run_id=run.id if run is not None else None,
            now=now,
        )
        if not claimed:
            return 0  # another worker took this firing
        if run is None:
            return 0
        if (
            cron.thread_id is not None
            and cron.payload.get("multitask_strategy") == "reject"
            and await live_runs(session, cron.tenant_id, cron.thread_id)
        ):
            log.info("cron %s: firing at %s skipped: its thread is busy", cron.cron_id, due_at)
            return 0
        await services.journal.enqueue(
            session,
            run,
            {
                "graph": run.graph,
                "version": run.version,
                "cron_id": cron.cron_id,
                "scheduled_for": due_at.isoformat(),
            },
        )
        if cron.thread_id is None:
            add_firing_thread(session, cron, run)
    return 1
