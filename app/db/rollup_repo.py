"""Folding the rollups' delta rows (written by the `model_calls` triggers) into one row per
key and hour, so readers sum a table that grows with hours and keys, not with calls.

Readers always sum every row, folded or not, so folding changes no figure. Each fold also
recomputes `{table}_daily` for the days it touched, from their folded hourly rows (folds
take turns: an advisory lock on PostgreSQL), so a long range reads whole days there plus
the deltas not folded yet. On PostgreSQL
the rows of an hour are deleted and re-inserted summed in one statement (one snapshot: a
delta committed meanwhile is neither lost nor counted twice, it stays a delta); on SQLite
the write transaction holds the database's only write lock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.rollup_models import ROLLUP_SUMS
from app.db.timestamps import sqlite_time

ROLLUP_KEYS = "tenant_id, hour, model, tier, task_class, status, api_key_id, source"
HIST_KEYS = "tenant_id, hour, model, tier, metric, bin"
TABLES = {
    "ledger_rollup": (ROLLUP_KEYS, ROLLUP_SUMS),
    "ledger_latency_hist": (HIST_KEYS, ("calls",)),
}


def _postgres_fold(table: str, keys: str, sums: tuple[str, ...]) -> str:
    """Fold every hour with deltas in one statement; answers the hours it folded."""
    summed = ", ".join(f"SUM({name})" for name in sums)
    return (
        f"WITH hours AS (SELECT DISTINCT hour FROM {table} WHERE NOT compacted), "
        f"moved AS (DELETE FROM {table} t USING hours h WHERE t.hour = h.hour RETURNING t.*), "
        f"folded AS (INSERT INTO {table} (compacted, {keys}, {', '.join(sums)}) "
        f"SELECT true, {keys}, {summed} FROM moved GROUP BY {keys} HAVING SUM(calls) <> 0) "
        "SELECT hour FROM hours"
    )


def _sqlite_fold(table: str, keys: str, sums: tuple[str, ...]) -> list[str]:
    summed = ", ".join(f"SUM({name})" for name in sums)
    rows = (
        f"hour IN (SELECT DISTINCT hour FROM {table} WHERE NOT compacted AND id <= :last) "
        "AND id <= :last"
    )
    return [
        f"INSERT INTO {table} (compacted, {keys}, {', '.join(sums)}) "
        f"SELECT 1, {keys}, {summed} FROM {table} WHERE {rows} "
        f"GROUP BY {keys} HAVING SUM(calls) <> 0",
        f"DELETE FROM {table} WHERE {rows}",
    ]


async def compact(session: AsyncSession) -> None:
    """Fold every hour that has delta rows, then recompute the daily rows of the days those
    hours are in (call inside `sessions.begin()`)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if not sqlite:  # one folder at a time: a day's sums are read from folded rows only
        await session.execute(text("SELECT pg_advisory_xact_lock(7270014)"))
    for table, (keys, sums) in TABLES.items():
        if sqlite:
            last = (await session.execute(text(f"SELECT MAX(id) FROM {table}"))).scalar() or 0
            hours = await session.execute(
                text(f"SELECT DISTINCT hour FROM {table} WHERE NOT compacted AND id <= :last"),
                {"last": last},
            )
            touched = [_as_datetime(h) for (h,) in hours]
            for statement in _sqlite_fold(table, keys, sums):
                await session.execute(text(statement), {"last": last})
        else:
            folded = await session.execute(text(_postgres_fold(table, keys, sums)))
            touched = [_as_datetime(h) for (h,) in folded]
        for day in sorted({h.replace(hour=0) for h in touched}):
            await _recompute_day(session, table, keys, sums, day, sqlite)


def _as_datetime(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _recompute_day(
    session: AsyncSession,
    table: str,
    keys: str,
    sums: tuple[str, ...],
    day: datetime,
    sqlite: bool,
) -> None:
    """`{table}_daily`'s rows of `day`: the sums of that day's folded hourly rows."""
    start: object = sqlite_time(day) if sqlite else day
    end: object = sqlite_time(day + timedelta(days=1)) if sqlite else day + timedelta(days=1)
    other = keys.replace("hour, ", "")
    summed = ", ".join(f"SUM({name})" for name in sums)
    await session.execute(text(f"DELETE FROM {table}_daily WHERE hour = :day"), {"day": start})
    await session.execute(
        text(
            f"INSERT INTO {table}_daily ({keys}, {', '.join(sums)}) "
            f"SELECT {other.split(', ')[0]}, :day, {', '.join(other.split(', ')[1:])}, {summed} "
            f"FROM {table} WHERE compacted AND hour >= :day AND hour < :end "
            f"GROUP BY {other} HAVING SUM(calls) <> 0"
        ),
        {"day": start, "end": end},
    )
