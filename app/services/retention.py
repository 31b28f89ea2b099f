"""`routegraph prune`: drop the full payloads of runs finished longer ago than the retention.

What goes: checkpoints (with their writes and blobs) and the ledger's request/response
bodies. What stays: the run (input, output, status, cost), its events, and every ledger row
with its tokens, cost, model and reason, so costs add up forever. A pruned run's timeline
comes from its events; replay and fork of it answer 409.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import retention_repo
from app.db.journal import RunJournal
from app.db.models import utcnow
from app.db.retention_repo import PrunedRun

BATCH = 100


@dataclass
class PruneReport:
    cutoff: datetime
    runs: list[PrunedRun] = field(default_factory=list)
    due: int = 0  # with dry_run: how many runs would be pruned

    @property
    def checkpoints(self) -> int:
        return sum(run.checkpoints for run in self.runs)

    @property
    def calls(self) -> int:
        return sum(run.calls for run in self.runs)


async def prune_payloads(
    sessions: async_sessionmaker[AsyncSession],
    journal: RunJournal,
    *,
    older_than_days: float,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PruneReport:
    """Prune every run finished more than `older_than_days` ago, one transaction per run."""
    report = PruneReport(cutoff=(now or utcnow()) - timedelta(days=older_than_days))
    if dry_run:
        async with sessions() as session:
            report.due = len(await retention_repo.runs_due(session, report.cutoff, None))
        return report
    while True:
        async with sessions() as session:
            due = await retention_repo.runs_due(session, report.cutoff, BATCH)
        for run in due:
            async with sessions.begin() as session:
                report.runs.append(await retention_repo.prune_run(session, run, journal))
        report.due += len(due)
        if len(due) < BATCH:
            return report
