"""Cron expressions in croniter's dialect, as LangGraph's server reads them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.services.cron_schedule import InvalidSchedule, parse_schedule

MONDAY = datetime(2026, 12, 7, 2, 40, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "timezone", "expected"),
    [
        ("* * * * *", None, datetime(2026, 12, 7, 2, 41, tzinfo=UTC)),
        ("*/15 * * * *", None, datetime(2026, 12, 7, 2, 45, tzinfo=UTC)),
        ("27 15 * * *", None, datetime(2026, 12, 7, 15, 27, tzinfo=UTC)),
        ("0 9 * * sat,sun", None, datetime(2026, 12, 12, 9, tzinfo=UTC)),
        ("0 0 1 jan *", None, datetime(2027, 1, 1, tzinfo=UTC)),
        ("0 0 29 2 *", None, datetime(2028, 2, 29, tzinfo=UTC)),
        ("0 0 * * 7", None, datetime(2026, 12, 13, tzinfo=UTC)),  # 7 is Sunday too
        # both day fields restricted: either one matches, as in cron
        ("0 0 1 * sun", None, datetime(2026, 12, 13, tzinfo=UTC)),
        ("10-20/5 3 * * *", None, datetime(2026, 12, 7, 3, 10, tzinfo=UTC)),
        ("* * * * * */10", None, datetime(2026, 12, 7, 2, 40, 20, tzinfo=UTC)),  # seconds last
        ("0 9 * * *", "America/New_York", datetime(2026, 12, 7, 14, tzinfo=UTC)),
    ],
)
def test_the_next_firing(expression: str, timezone: str | None, expected: datetime) -> None:
    assert parse_schedule(expression, timezone).next_after(MONDAY) == expected


def test_a_firing_time_is_strictly_after_the_moment() -> None:
    schedule = parse_schedule("0 * * * *")
    on_the_hour = datetime(2026, 12, 7, 3, tzinfo=UTC)
    assert schedule.next_after(on_the_hour) == datetime(2026, 12, 7, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("* * *", "expected 5 fields"),
        ("61 * * * *", "minute: 61 is outside 0-59"),
        ("* 24 * * *", "hour: 24 is outside 0-23"),
        ("*/0 * * * *", "step '0' must be at least 1"),
        ("5-1 * * * *", "runs backwards"),
        ("x * * * *", "'x' is not a number"),
        ("0 0 31 2 *", "never fires"),
    ],
)
def test_a_bad_expression_says_why(expression: str, cause: str) -> None:
    with pytest.raises(InvalidSchedule, match=cause):
        parse_schedule(expression)
