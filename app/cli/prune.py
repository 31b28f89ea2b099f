"""`routegraph prune` on the database (the service may be down)."""

from __future__ import annotations

from app.db.engine import create_engine, create_session_factory
from app.db.journal import journal_for
from app.services.retention import prune_payloads


async def prune_database(database_url: str, older_than_days: float, *, dry_run: bool) -> str:
    """What was (or, dry, would be) pruned, as one line."""
    engine = create_engine(database_url)
    try:
        report = await prune_payloads(
            create_session_factory(engine),
            journal_for(database_url),
            older_than_days=older_than_days,
            dry_run=dry_run,
        )
    finally:
        await engine.dispose()
    when = report.cutoff.strftime("%Y-%m-%d %H:%M UTC")
    if dry_run:
        return f"{report.due} runs finished before {when} would be pruned"
    return (
        f"pruned {len(report.runs)} runs finished before {when}: "
        f"{report.checkpoints} checkpoints, bodies of {report.calls} ledger rows"
    )
