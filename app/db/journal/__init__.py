"""The run journal, chosen once for the database at start-up (see `contract.py`)."""

from __future__ import annotations

from app.db.journal.contract import RunJournal
from app.db.journal.records import ClaimedRun, Guard, LeaseState, SeqGrant

__all__ = ["ClaimedRun", "Guard", "LeaseState", "RunJournal", "SeqGrant", "journal_for"]


def journal_for(database_url: str) -> RunJournal:
    """The journal of the database `database_url` names."""
    from app.db.engine import is_sqlite

    if is_sqlite(database_url):
        from app.db.journal.sqlite import SqliteJournal

        return SqliteJournal()
    from app.db.journal.postgres import PostgresJournal

    return PostgresJournal()
