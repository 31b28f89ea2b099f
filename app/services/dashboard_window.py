"""The time range a dashboard figure covers: whole UTC hours, as the rollups keep them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.db.dashboard_repo import Window
from app.services.errors import InvalidInput

DEFAULT_RANGE = timedelta(hours=24)
MAX_RANGE = timedelta(days=400)
FIRST_HOUR = datetime(1, 1, 1, tzinfo=UTC)
LAST_HOUR = datetime(9999, 12, 31, 23, tzinfo=UTC)
# RFC 3339 date-time, as OpenAPI's `format: date-time` means it.
DATE_TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
DATE_TIME_SCHEMA: dict[str, object] = {"format": "date-time"}  # the pattern alone allows 13/45
DAY_BUCKETS_AFTER = timedelta(hours=72)  # longer ranges chart per day, shorter per hour


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def floor_hour(moment: datetime) -> datetime:
    return _utc(moment).replace(minute=0, second=0, microsecond=0)


def make_window(
    tenant_id: str, since: datetime | None, until: datetime | None, now: datetime | None = None
) -> Window:
    """[since rounded down to its hour, until rounded up to the next hour); by default the
    last 24 hours up to the end of the current hour. A naive time is UTC. A reversed range
    is empty; a range over `MAX_RANGE` keeps its last `MAX_RANGE` (the answer's `range`
    says which hours a figure covers)."""
    end = _utc(until) if until is not None else _utc(now or datetime.now(UTC))
    end_hour = floor_hour(end)
    if end_hour != end and end_hour < LAST_HOUR:
        end_hour += timedelta(hours=1)
    if since is None:
        start = end_hour - DEFAULT_RANGE if end_hour - FIRST_HOUR > DEFAULT_RANGE else FIRST_HOUR
    else:
        start = min(floor_hour(since), end_hour)
    earliest = end_hour - MAX_RANGE if end_hour - FIRST_HOUR > MAX_RANGE else FIRST_HOUR
    return Window(tenant_id, max(start, earliest), end_hour)


def parse_time(value: str | None, name: str) -> datetime | None:
    """An RFC 3339 date-time from a query string, in UTC (422 when it names no moment)."""
    if value is None:
        return None
    # A leap second (23:59:60, which RFC 3339 allows) is the second before the next minute.
    text = re.sub(r"([Tt][0-9]{2}:[0-9]{2}:)60", r"\g<1>59", value).replace("z", "Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}") from exc
    try:
        return _utc(moment)
    except OverflowError:  # an offset past year 1 or 9999: as far as UTC goes
        return FIRST_HOUR if moment.year == 1 else datetime.max.replace(tzinfo=UTC)


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
