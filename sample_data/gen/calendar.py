"""Support team business hours: Mon–Fri 09:00–18:00 Europe/Moscow minus Russian holidays.

Moscow has no DST since 2014, so a fixed UTC+3 offset is exact and keeps the generator
free of tz databases. The same definition is written into ``metadata.json`` so the dbt
``business_minutes`` macro and the generator measure first-response time identically.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

MSK = timedelta(hours=3)
WORK_START_HOUR = 9
WORK_END_HOUR = 18
# Non-working public holidays (official 2026 production calendar; Jan 9 and Dec 31 are
# transferred days off) and shortened pre-holiday days (work ends an hour early). Must
# agree with dbt_project/seeds/ru_production_calendar.csv so dbt measures the same FRT.
HOLIDAYS: tuple[date, ...] = (
    *(date(2026, 1, d) for d in range(1, 12)),
    date(2026, 2, 23),
    date(2026, 3, 9),
    date(2026, 5, 1),
    date(2026, 5, 11),
    date(2026, 6, 12),
    date(2026, 11, 4),
    date(2026, 12, 31),
)
SHORTENED: tuple[date, ...] = (
    date(2026, 4, 30),
    date(2026, 5, 8),
    date(2026, 6, 11),
    date(2026, 11, 3),
)
SHORTENED_END_HOUR = 17
_HOLIDAY_SET = frozenset(HOLIDAYS)
_SHORTENED_SET = frozenset(SHORTENED)


def is_workday(day: date) -> bool:
    """True for Mon–Fri that are not public holidays."""
    return day.weekday() < 5 and day not in _HOLIDAY_SET


def _day_window(day: date) -> tuple[datetime, datetime]:
    """The working interval of a Moscow calendar day, as UTC datetimes."""
    start = datetime(day.year, day.month, day.day, WORK_START_HOUR, tzinfo=UTC) - MSK
    end_hour = SHORTENED_END_HOUR if day in _SHORTENED_SET else WORK_END_HOUR
    end = datetime(day.year, day.month, day.day, end_hour, tzinfo=UTC) - MSK
    return start, end


def msk_date(moment: datetime) -> date:
    """The Moscow calendar date of a UTC moment."""
    return (moment + MSK).date()


def business_minutes(start: datetime, end: datetime) -> float:
    """Length in minutes of the overlap of [start, end) with working intervals."""
    if end <= start:
        return 0.0
    total = 0.0
    day = msk_date(start)
    last = msk_date(end)
    while day <= last:
        if is_workday(day):
            w0, w1 = _day_window(day)
            lo, hi = max(w0, start), min(w1, end)
            if hi > lo:
                total += (hi - lo).total_seconds() / 60.0
        day += timedelta(days=1)
    return total


def add_business_minutes(start: datetime, minutes: float) -> datetime:
    """The earliest moment whose business-minute distance from `start` equals `minutes`."""
    remaining = minutes
    day = msk_date(start)
    cursor = start
    while True:
        if is_workday(day):
            w0, w1 = _day_window(day)
            lo = max(w0, cursor)
            if lo < w1:
                available = (w1 - lo).total_seconds() / 60.0
                if remaining <= available:
                    return lo + timedelta(minutes=remaining)
                remaining -= available
        day += timedelta(days=1)
        cursor = _day_window(day)[0]


def definition() -> dict[str, object]:
    """The business-hours definition as written into metadata.json."""
    return {
        "timezone": "Europe/Moscow",
        "utc_offset": "+03:00",
        "workdays": "Mon-Fri",
        "work_start": f"{WORK_START_HOUR:02d}:00",
        "work_end": f"{WORK_END_HOUR:02d}:00",
        "holidays": [d.isoformat() for d in HOLIDAYS],
        "shortened_days": [d.isoformat() for d in SHORTENED],
        "shortened_work_end": f"{SHORTENED_END_HOUR:02d}:00",
    }
