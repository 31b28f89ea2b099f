"""Folding the rollups' delta rows (written by the `model_calls` triggers) into one row per
key and hour, so readers sum a table that grows with hours and keys, not with calls.

Readers always sum every row, folded or not, so folding changes no figure. On PostgreSQL
the rows of an hour are deleted and re-inserted summed in one statement (one snapshot: a
delta committed meanwhile is neither lost nor counted twice, it stays a delta); on SQLite
the write transaction holds the database's only write lock.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

ROLLUP_KEYS = "tenant_id, hour, model, tier, task_class, status, api_key_id, source"
ROLLUP_SUMS = (
    "calls",
    "first_attempts",
    "fallbacks",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost_usd",
    "saved_usd",
    "latency_ms_sum",
)
HIST_KEYS = "tenant_id, hour, model, tier, metric, bin"
TABLES = {
    "ledger_rollup": (ROLLUP_KEYS, ROLLUP_SUMS),
    "ledger_latency_hist": (HIST_KEYS, ("calls",)),
}


def _postgres_fold(table: str, keys: str, sums: tuple[str, ...]) -> str:
    summed = ", ".join(f"SUM({name})" for name in sums)
    return (
        f"WITH hours AS (SELECT DISTINCT hour FROM {table} WHERE NOT compacted), "
        f"moved AS (DELETE FROM {table} t USING hours h WHERE t.hour = h.hour RETURNING t.*) "
        f"INSERT INTO {table} (compacted, {keys}, {', '.join(sums)}) "
        f"SELECT true, {keys}, {summed} FROM moved GROUP BY {keys} HAVING SUM(calls) <> 0"
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
    """Fold every hour that has delta rows (call inside `sessions.begin()`)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    for table, (keys, sums) in TABLES.items():
        if not sqlite:
            await session.execute(text(_postgres_fold(table, keys, sums)))
            continue
        last = (await session.execute(text(f"SELECT MAX(id) FROM {table}"))).scalar()
        for statement in _sqlite_fold(table, keys, sums):
            await session.execute(text(statement), {"last": last or 0})
