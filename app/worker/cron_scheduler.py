"""The worker's cron task: every `cron_poll_seconds`, fire the due crons."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.services.container import Services
from app.services.cron_firing import fire_due_crons
from app.worker.run_executor import DATABASE_ERRORS

log = logging.getLogger(__name__)


async def run_cron_scheduler(services: Services, stop: asyncio.Event) -> None:
    """Until `stop`: fire due crons, then wait a poll."""
    poll = services.settings.cron_poll_seconds
    while not stop.is_set():
        try:
            await fire_due_crons(services)
        except DATABASE_ERRORS as exc:  # the database went away: try again next poll
            log.warning("crons: database unavailable (%s); retrying", exc)
        except Exception:  # a bug firing one cron must not stop the worker's runs
            log.exception("crons: unexpected error while firing")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll)
