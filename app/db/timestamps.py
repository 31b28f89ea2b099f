"""Timestamps as SQLAlchemy stores `DateTime` in SQLite, for the few raw-SQL readers."""

from __future__ import annotations

from datetime import datetime


def sqlite_time(value: datetime) -> str:
    """A UTC datetime as text that compares like the stored values."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")
