"""Business hours: adding and measuring working time in a workspace's calendar.

SLA clocks and the business-hours KPIs run on this one calendar: the
workspace's weekly opening hours in its own time zone, minus its holidays.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3660  # ten years of search: a calendar with no open hours never loops forever


def _parse(hhmm: str) -> dt.time:
    if hhmm in ("24:00", "24:00:00"):
        return dt.time.max
    return dt.time.fromisoformat(hhmm)


class BusinessCalendar:
    def __init__(self, time_zone: str, hours: dict, holidays: list[str] | None = None):
        self.tz = zoneinfo.ZoneInfo(time_zone or "UTC")
        self.week: list[list[tuple[dt.time, dt.time]]] = []
        for day in DAYS:
            spans = sorted((_parse(a), _parse(b)) for a, b in (hours or {}).get(day, []))
            self.week.append([(a, b) for a, b in spans if b > a])
        self.holidays = {dt.date.fromisoformat(d) for d in (holidays or [])}
        self.always_open = not any(self.week)  # no hours configured: count calendar time

    @classmethod
    def for_workspace(cls, workspace) -> BusinessCalendar:
        return _cached(
            workspace.time_zone,
            _freeze(workspace.business_hours),
            tuple(sorted(workspace.holidays or [])),
        )

    def _spans(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        if day in self.holidays:
            return []
        out = []
        for a, b in self.week[day.weekday()]:
            start = dt.datetime.combine(day, a, tzinfo=self.tz)
            end = (
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=self.tz)
                if b == dt.time.max
                else dt.datetime.combine(day, b, tzinfo=self.tz)
            )
            out.append((start, end))
        return out

    def is_open(self, at: dt.datetime) -> bool:
        if self.always_open:
            return True
        local = at.astimezone(self.tz)
        return any(s <= local < e for s, e in self._spans(local.date()))

    def seconds_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working seconds in [start, end); 0 when end <= start."""
        if end <= start:
            return 0.0
        if self.always_open:
            return (end - start).total_seconds()
        total = 0.0
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            for s, e in self._spans(day):
                lo, hi = max(s, start), min(e, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += dt.timedelta(days=1)
        return total

    def add(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The moment when ``seconds`` of working time after ``start`` have passed."""
        if self.always_open:
            return start + dt.timedelta(seconds=seconds)
        remaining = seconds
        day = start.astimezone(self.tz).date()
        for _ in range(MAX_DAYS):
            for s, e in self._spans(day):
                lo = max(s, start)
                if e <= lo:
                    continue
                available = (e - lo).total_seconds()
                if remaining <= available:
                    return (lo + dt.timedelta(seconds=remaining)).astimezone(dt.UTC)
                remaining -= available
            day += dt.timedelta(days=1)
        raise ValueError("The business calendar has no open hours.")


def _freeze(hours: dict) -> tuple:
    return tuple((day, tuple(tuple(span) for span in (hours or {}).get(day, []))) for day in DAYS)


@lru_cache(maxsize=256)
def _cached(time_zone: str, hours: tuple, holidays: tuple) -> BusinessCalendar:
    return BusinessCalendar(
        time_zone, {day: [list(s) for s in spans] for day, spans in hours}, list(holidays)
    )
