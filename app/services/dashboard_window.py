"""The time range a dashboard figure covers: whole UTC hours, as the rollups keep them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.dashboard_repo import Window
from app.services.errors import InvalidInput

DEFAULT_RANGE = timedelta(hours=24)
MAX_RANGE = timedelta(days=400)
DAY_BUCKETS_AFTER = timedelta(hours=72)  # longer ranges chart per day, shorter per hour


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """A client's time in UTC (a naive one is taken as UTC)."""
    try:
        return None if moment is None else _utc(moment)
    except OverflowError as exc:
        raise InvalidInput("times must be between years 1 and 9999 in UTC") from exc


def floor_hour(moment: datetime) -> datetime:
    return _utc(moment).replace(minute=0, second=0, microsecond=0)


def make_window(
    tenant_id: str, since: datetime | None, until: datetime | None, now: datetime | None = None
) -> Window:
    """[since rounded down to its hour, until rounded up to the next hour); by default the
    last 24 hours up to the end of the current hour. A naive time is UTC."""
    if since is not None and until is not None and as_utc(since) >= as_utc(until):  # type: ignore[operator]
        raise InvalidInput("since must be before until")
    try:
        end = _utc(until) if until is not None else _utc(now or datetime.now(UTC))
        end_hour = floor_hour(end)
        if end_hour != end:
            end_hour += timedelta(hours=1)
        start = floor_hour(since) if since is not None else end_hour - DEFAULT_RANGE
    except OverflowError as exc:
        raise InvalidInput("since and until must be between years 1 and 9999") from exc
    if start >= end_hour:
        raise InvalidInput("since must be before until")
    if end_hour - start > MAX_RANGE:
        raise InvalidInput(f"the range may span at most {MAX_RANGE.days} days")
    return Window(tenant_id, start, end_hour)


def bucket_unit(window: Window) -> str:
    """`hour` for ranges up to three days, else `day`."""
    return "day" if window.until - window.since > DAY_BUCKETS_AFTER else "hour"


def describe(window: Window) -> dict[str, str]:
    return {
        "since": window.since.isoformat(),
        "until": window.until.isoformat(),
        "bucket": bucket_unit(window),
    }


def iso(moment: datetime) -> str:
    return _utc(moment).isoformat()
