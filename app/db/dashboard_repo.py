"""The dashboard's figures, each one aggregation in the database over the ledger's rollups
(`ledger_rollup`, `ledger_latency_hist`), the runs table or the feedback table.

Every query is scoped to one tenant and a half-open range of whole UTC hours, and reads
the rollups through their (tenant_id, hour) index: its cost grows with hours x keys in the
range, never with the number of calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    and_,
    case,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, ApiKeySpend, Feedback, Run
from app.db.rollup_models import LatencyBin, LatencyHistogram, LedgerRollup

R = LedgerRollup
H = LatencyHistogram
SUMS = (
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


@dataclass(frozen=True)
class Window:
    """A tenant's half-open range of whole hours [since, until)."""

    tenant_id: str
    since: datetime
    until: datetime


def _in_window(window: Window) -> ColumnElement[bool]:
    return and_(R.tenant_id == window.tenant_id, R.hour >= window.since, R.hour < window.until)


def _sums() -> list[Any]:
    return [func.coalesce(func.sum(getattr(R, name)), 0).label(name) for name in SUMS]


def _bucket(session: AsyncSession, column: Any, unit: str) -> Any:
    """`column` (an hour) truncated to `unit` (hour | day), as a datetime on both databases."""
    if unit == "hour":
        return column
    if session.get_bind().dialect.name == "sqlite":
        expr = func.substr(column, 1, 10).op("||")(literal_column("' 00:00:00.000000'"))
        return type_coerce(expr, DateTime(timezone=True))
    return func.date_trunc("day", column.op("AT TIME ZONE")(literal_column("'UTC'"))).op(
        "AT TIME ZONE"
    )(literal_column("'UTC'"))


async def _rows(session: AsyncSession, query: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in await session.execute(query)]


async def totals_by_status(session: AsyncSession, window: Window) -> list[dict[str, Any]]:
    """Per call status (and source: run or chat): the summed ledger."""
    query = (
        select(R.status, R.source, *_sums()).where(_in_window(window)).group_by(R.status, R.source)
    )
    return await _rows(session, query)


async def series_by_status(
    session: AsyncSession, window: Window, unit: str
) -> list[dict[str, Any]]:
    """Per time bucket and status: calls and spend."""
    bucket = _bucket(session, R.hour, unit).label("bucket")
    query = (
        select(
            bucket,
            R.status,
            func.sum(R.calls).label("calls"),
            func.sum(R.cost_usd).label("cost_usd"),
        )
        .where(_in_window(window))
        .group_by(bucket, R.status)
        .order_by(bucket)
    )
    return await _rows(session, query)


async def totals_by_model(session: AsyncSession, window: Window) -> list[dict[str, Any]]:
    """Per model, tier and status: the summed ledger."""
    query = (
        select(R.model, R.tier, R.status, *_sums())
        .where(_in_window(window))
        .group_by(R.model, R.tier, R.status)
    )
    return await _rows(session, query)


async def percentiles(
    session: AsyncSession, window: Window, by_model: bool, quantiles: tuple[float, ...]
) -> list[dict[str, Any]]:
    """Nearest-rank percentiles of latency and TTFT per model (or tier), each the bounds of
    the histogram bin holding it: the smallest bin whose running count reaches q x total."""
    keys = [H.model, H.tier] if by_model else [H.tier]
    counts = (
        select(*keys, H.metric, H.bin, func.sum(H.calls).label("n"))
        .where(H.tenant_id == window.tenant_id, H.hour >= window.since, H.hour < window.until)
        .group_by(*keys, H.metric, H.bin)
        .subquery()
    )
    group = [counts.c[k.key] for k in keys] + [counts.c.metric]
    running = select(
        *group,
        counts.c.bin,
        func.sum(counts.c.n).over(partition_by=group, order_by=counts.c.bin).label("cum"),
        func.sum(counts.c.n).over(partition_by=group).label("total"),
    ).subquery()
    rgroup = [running.c[c.key] for c in group]
    picks = [
        func.min(case((running.c.cum >= q * running.c.total, running.c.bin))).label(f"bin_{i}")
        for i, q in enumerate(quantiles)
    ]
    picked = (
        select(*rgroup, func.max(running.c.total).label("total"), *picks)
        .where(running.c.total > 0)
        .group_by(*rgroup)
    )
    return await _rows(session, picked)


async def bin_bounds(session: AsyncSession) -> list[float]:
    """Each bin's lower bound, in bin order (bin i spans [bounds[i], bounds[i + 1]))."""
    rows = await session.execute(select(LatencyBin.lo).order_by(LatencyBin.bin))
    return [float(lo) for (lo,) in rows]


async def mix_series(session: AsyncSession, window: Window, unit: str) -> list[dict[str, Any]]:
    """Per time bucket, task class and tier: requests (first attempts; replays left out)."""
    bucket = _bucket(session, R.hour, unit).label("bucket")
    query = (
        select(bucket, R.task_class, R.tier, func.sum(R.first_attempts).label("calls"))
        .where(_in_window(window), R.status != "replayed")
        .group_by(bucket, R.task_class, R.tier)
        .order_by(bucket)
    )
    return await _rows(session, query)


async def feedback_quality(session: AsyncSession, window: Window) -> list[dict[str, Any]]:
    """Per task class, model and source: feedback events and their mean score."""
    query = (
        select(
            Feedback.task_class,
            Feedback.model,
            Feedback.source,
            func.count().label("events"),
            func.avg(Feedback.score).label("mean_score"),
        )
        .where(
            Feedback.tenant_id == window.tenant_id,
            Feedback.created_at >= window.since,
            Feedback.created_at < window.until,
        )
        .group_by(Feedback.task_class, Feedback.model, Feedback.source)
    )
    return await _rows(session, query)


async def spend_by_key(session: AsyncSession, window: Window) -> dict[str, float]:
    """Per API key ('' for calls made by runs): the spend in the window."""
    query = (
        select(R.api_key_id, func.sum(R.cost_usd)).where(_in_window(window)).group_by(R.api_key_id)
    )
    return {str(key): float(spent or 0.0) for key, spent in await session.execute(query)}


async def keys_with_spend(
    session: AsyncSession, tenant_id: str, periods: dict[str, str]
) -> list[tuple[ApiKey, float]]:
    """The tenant's live keys with what each spent in its current period (`periods`: the
    period key per budget period, e.g. {"day": "2026-12-07", "month": "2026-12"})."""
    period = case(
        *((ApiKey.budget_period == name, value) for name, value in periods.items()),
        else_=periods.get("month", ""),
    )
    spend = (
        select(func.coalesce(func.sum(ApiKeySpend.spent_usd), 0.0))
        .where(ApiKeySpend.key_id == ApiKey.id, ApiKeySpend.period == period)
        .scalar_subquery()
    )
    query = (
        select(ApiKey, spend)
        .where(ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at)
    )
    return [(key, float(spent)) for key, spent in await session.execute(query)]


async def runs_by_status(session: AsyncSession, window: Window) -> dict[str, int]:
    """Runs created in the window, per status (`ix_runs_tenant_created`)."""
    query = (
        select(Run.status, func.count())
        .where(
            Run.tenant_id == window.tenant_id,
            Run.created_at >= window.since,
            Run.created_at < window.until,
        )
        .group_by(Run.status)
    )
    return {str(status): int(count) for status, count in await session.execute(query)}
