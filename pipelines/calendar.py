"""Business days: a day is a calendar date in the business's time zone, stored as UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class DayWindow:
    """The UTC instants that bound one business day: `start <= t < end`."""

    day: date
    start: datetime
    end: datetime

    @classmethod
    def of(cls, day: date, tz: ZoneInfo) -> DayWindow:
        start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
        return cls(day, start, end)

    def widened(self, margin: timedelta) -> tuple[datetime, datetime]:
        return self.start - margin, self.end + margin


def yesterday(tz: ZoneInfo, now: datetime | None = None) -> date:
    """The business day that ended most recently in `tz`."""
    now = now or datetime.now(UTC)
    return now.astimezone(tz).date() - timedelta(days=1)


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    if last < first:
        raise ValueError(f"the last day {last} is before the first day {first}")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
