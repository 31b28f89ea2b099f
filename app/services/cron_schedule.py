"""Cron expressions as LangGraph's server reads them (croniter's dialect): five fields
`minute hour day-of-month month day-of-week`, or six with seconds last; `*`, lists, ranges,
steps, month and day names, 0 or 7 for Sunday. When both day fields are restricted, a day
matching either one matches (as cron does). Times are in UTC unless a timezone is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (name, low, high, names starting at `low`)
FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
    ("second", 0, 59, ()),
)
SEARCH_DAYS = 366 * 5  # Feb 29 on a Monday needs up to 28 years; anything rarer is refused


class InvalidSchedule(ValueError):
    """The expression is not a cron schedule this server runs; the message says why."""


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    seconds: frozenset[int]
    any_day: bool  # day of month is `*`
    any_weekday: bool  # day of week is `*`
    zone: ZoneInfo | None

    def next_after(self, moment: datetime) -> datetime:
        """The first time strictly after `moment` the schedule fires (in UTC)."""
        local = moment.astimezone(self.zone or UTC).replace(microsecond=0) + timedelta(seconds=1)
        day = local.date()
        for _ in range(SEARCH_DAYS):
            if day.month in self.months and self._day_matches(day.day, (day.weekday() + 1) % 7):
                found = self._first_time(day, local if day == local.date() else None)
                if found is not None:
                    return found.astimezone(UTC)
            day += timedelta(days=1)
        raise InvalidSchedule("the schedule never fires")

    def _day_matches(self, day: int, weekday: int) -> bool:
        if self.any_day or self.any_weekday:
            return (self.any_day or day in self.days) and (
                self.any_weekday or weekday in self.weekdays
            )
        return day in self.days or weekday in self.weekdays

    def _first_time(self, day: date, not_before: datetime | None) -> datetime | None:
        zone = self.zone or UTC
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                for second in sorted(self.seconds):
                    candidate = datetime(
                        day.year,
                        day.month,
                        day.day,
                        hour,
                        minute,
                        second,
                        tzinfo=zone,
                    )
                    if not_before is None or candidate >= not_before:
                        return candidate
        return None


def parse_schedule(expression: str, timezone: str | None = None) -> Schedule:
    """The schedule of `expression`, or InvalidSchedule naming the bad field."""
    if not isinstance(expression, str):
        raise InvalidSchedule("the schedule must be a string")
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise InvalidSchedule(
            f"{expression!r}: expected 5 fields (minute hour day month weekday), "
            f"or 6 with seconds last; got {len(parts)}"
        )
    values = [_field(part, *FIELDS[index]) for index, part in enumerate(parts)]
    seconds = values[5] if len(parts) == 6 else frozenset({0})
    weekdays = frozenset(day % 7 for day in values[4])
    try:
        zone = ZoneInfo(timezone) if timezone else None
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(f"unknown timezone {timezone!r}") from exc
    schedule = Schedule(
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        seconds=seconds,
        any_day=parts[2] in ("*", "?"),
        any_weekday=parts[4] in ("*", "?"),
        zone=zone,
    )
    schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # refuses `0 0 31 2 *`
    return schedule


def _field(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    chosen: set[int] = set()
    for item in text.split(","):
        spec, _, step_text = item.partition("/")
        step = _number(step_text, name, names, low) if step_text else 1
        if step < 1:
            raise InvalidSchedule(f"{name}: step {step_text!r} must be at least 1")
        if spec in ("*", "?"):
            start, stop = low, high
        elif "-" in spec:
            first, last = spec.split("-", 1)
            start, stop = _number(first, name, names, low), _number(last, name, names, low)
        else:
            start = _number(spec, name, names, low)
            stop = high if step_text else start
        for value in (start, stop):
            if not low <= value <= high:
                raise InvalidSchedule(f"{name}: {value} is outside {low}-{high}")
        if start > stop:
            raise InvalidSchedule(f"{name}: range {spec!r} runs backwards")
        chosen.update(range(start, stop + 1, step))
    return frozenset(chosen)


def _number(text: str, name: str, names: tuple[str, ...], low: int) -> int:
    lowered = text.lower()
    if lowered in names:
        return names.index(lowered) + low
    if not text.isascii() or not text.isdigit():
        raise InvalidSchedule(f"{name}: {text!r} is not a number")
    return int(text)
