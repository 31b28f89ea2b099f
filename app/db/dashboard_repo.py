"""The dashboard's figures, each one aggregation in the database over the ledger's rollups
(`ledger_rollup`, `ledger_latency_hist`), the runs table or the feedback table.

Every query is scoped to one tenant and a half-open range of whole UTC hours, and reads
the rollups through their (tenant_id, hour) indexes: hourly rows for ranges up to three
days, beyond that the daily rows of whole days plus the hourly rows of the partial days
(and the deltas not folded yet). Its cost grows with the keys in the range, never with
the number of calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    Subquery,
    Table,
    case,
    func,
    literal_column,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, ApiKeySpend, Feedback, Run
from app.db.rollup_models import (
    HIST_DAILY,
    ROLLUP_DAILY,
    ROLLUP_SUMS,
    LatencyBin,
    LatencyHistogram,
    LedgerRollup,
)

DAILY_AFTER = timedelta(hours=72)  # as `dashboard_window.bucket_unit`: longer ranges per day


@dataclass(frozen=True)
class Window:
    """A tenant's half-open range of whole hours [since, until)."""

    tenant_id: str
    since: datetime
    until: datetime


def _whole_days(window: Window) -> tuple[datetime, datetime] | None:
    """The whole UTC days inside a range longer than three days (read from the daily rows)."""
    if window.until - window.since <= DAILY_AFTER:
        return None
    first = window.since.replace(hour=0)
    if first < window.since:
        first += timedelta(days=1)
    end = window.until.replace(hour=0)
    return (first, end) if first < end else None


def _source(hourly: Table, daily: Table, window: Window) -> Subquery:
    """The rows of `window`: hourly rows (folded and deltas), or for a long range the daily
    rows of its whole days, the hourly rows of its partial days and the unfolded deltas."""
    names = [c.name for c in daily.columns]

    def rows(table: Table, *where: ColumnElement[bool]) -> Select[Any]:
        return select(*(table.c[n] for n in names)).where(
            table.c.tenant_id == window.tenant_id, *where
        )

    h = hourly.c
    days = _whole_days(window)
    if days is None:
        return rows(hourly, h.hour >= window.since, h.hour < window.until).subquery()
    first, end = days
    return union_all(
        rows(daily, daily.c.hour >= first, daily.c.hour < end),
        rows(hourly, h.hour >= window.since, h.hour < first),
        rows(hourly, h.hour >= end, h.hour < window.until),
        rows(hourly, ~h.compacted, h.hour >= first, h.hour < end),  # the partial index
    ).subquery()


def _rollup(window: Window) -> Subquery:
    return _source(LedgerRollup.__table__, ROLLUP_DAILY, window)  # type: ignore[arg-type]


def _sums(src: Subquery) -> list[Any]:
    return [func.coalesce(func.sum(src.c[name]), 0).label(name) for name in ROLLUP_SUMS]


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
    src = _rollup(window)
    query = select(src.c.status, src.c.source, *_sums(src)).group_by(src.c.status, src.c.source)
    return await _rows(session, query)


async def series_by_status(
    session: AsyncSession, window: Window, unit: str
) -> list[dict[str, Any]]:
    """Per time bucket and status: calls and spend."""
    src = _rollup(window)
    bucket = _bucket(session, src.c.hour, unit).label("bucket")
    calls, cost = func.sum(src.c.calls).label("calls"), func.sum(src.c.cost_usd).label("cost_usd")
    query = (
        select(bucket, src.c.status, calls, cost).group_by(bucket, src.c.status).order_by(bucket)
    )
    return await _rows(session, query)


async def totals_by_model(session: AsyncSession, window: Window) -> list[dict[str, Any]]:
    """Per model, tier and status: the summed ledger."""
    src = _rollup(window)
    keys = (src.c.model, src.c.tier, src.c.status)
    query = select(*keys, *_sums(src)).group_by(*keys)
    return await _rows(session, query)


async def percentiles(
    session: AsyncSession, window: Window, quantiles: tuple[float, ...]
) -> list[dict[str, Any]]:
    """Nearest-rank percentiles of latency and TTFT per model and per tier (rows with
    `model` None), each as the histogram bin holding it: the smallest bin whose running
    count reaches q x total. One scan of the histogram rows serves both."""
    src = _source(LatencyHistogram.__table__, HIST_DAILY, window)  # type: ignore[arg-type]
    per_model = (
        select(src.c.model, src.c.tier, src.c.metric, src.c.bin, func.sum(src.c.calls).label("n"))
        .group_by(src.c.model, src.c.tier, src.c.metric, src.c.bin)
        .cte("per_model")
    )
    per_tier = select(
        literal_column("NULL").label("model"),
        per_model.c.tier,
        per_model.c.metric,
        per_model.c.bin,
        func.sum(per_model.c.n).label("n"),
    ).group_by(per_model.c.tier, per_model.c.metric, per_model.c.bin)
    counts = union_all(select(per_model), per_tier).subquery()
    group = [counts.c.model, counts.c.tier, counts.c.metric]
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
    src = _rollup(window)
    bucket = _bucket(session, src.c.hour, unit).label("bucket")
    keys = (bucket, src.c.task_class, src.c.tier)
    query = (
        select(*keys, func.sum(src.c.first_attempts).label("calls"))
        .where(src.c.status != "replayed")
        .group_by(*keys)
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
    src = _rollup(window)
    query = select(src.c.api_key_id, func.sum(src.c.cost_usd)).group_by(src.c.api_key_id)
    return {str(key): float(spent or 0.0) for key, spent in await session.execute(query)}


async def keys_with_spend(
    session: AsyncSession, tenant_id: str, periods: dict[str, str]
) -> list[tuple[ApiKey, float]]:
    """The tenant's live keys with what each spent in its current period (`periods`: the
    period key per budget period, e.g. {"day": "2026-12-07", "month": "2026-12"})."""
    period = case(
        *((ApiKey.budget_period == name, value) for name, value in periods.items()),
        else_=periods.get("day", ""),  # a key without a period books per day (`period_key`)
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
