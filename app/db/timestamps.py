"""Timestamps as SQLAlchemy stores `DateTime` in SQLite, for the few raw-SQL readers."""

from __future__ import annotations

from datetime import UTC, datetime


def sqlite_time(value: datetime) -> str:
    """A UTC datetime as text that compares like the stored values."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_sqlite_time(value: str | None) -> datetime | None:
    """A stored SQLite timestamp (UTC, naive text) as an aware datetime."""
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
