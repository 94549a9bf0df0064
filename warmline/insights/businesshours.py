"""Elapsed business time between two instants, in a workspace's own calendar.

Opening hours are local wall-clock times ({"mon": [["09:00", "17:00"]], ...});
holidays are local ISO dates. Each day's windows are built as aware datetimes in
the workspace zone, so a DST change shortens or lengthens that day as it should.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse(hhmm: str) -> dt.time:
    if hhmm in ("24:00", "24:00:00"):
        return dt.time.max
    hours, minutes = hhmm.split(":")[:2]
    return dt.time(int(hours), int(minutes))


class Calendar:
    """A workspace's business calendar; build once, ask many times."""

    def __init__(self, *, time_zone: str, hours: dict, holidays: list[str] | None = None):
        try:
            self.zone = zoneinfo.ZoneInfo(time_zone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.zone = zoneinfo.ZoneInfo("UTC")
        self.windows = [
            [(_parse(a), _parse(b)) for a, b in (hours or {}).get(day, []) if _parse(a) < _parse(b)]
            for day in DAYS
        ]
        self.holidays = {dt.date.fromisoformat(d) for d in (holidays or [])}

    @classmethod
    def for_workspace(cls, workspace) -> Calendar:
        return _cached(
            workspace.time_zone,
            repr(sorted((workspace.business_hours or {}).items())),
            tuple(sorted(workspace.holidays or [])),
        )

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - calendars are few and long-lived
    def day_windows(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        if day in self.holidays:
            return ()
        out = []
        for start, end in self.windows[day.weekday()]:
            a = dt.datetime.combine(day, start, tzinfo=self.zone)
            b = (
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=self.zone)
                if end == dt.time.max
                else dt.datetime.combine(day, end, tzinfo=self.zone)
            )
            out.append((a.astimezone(dt.UTC), b.astimezone(dt.UTC)))
        return tuple(out)

    def seconds_between(self, start: dt.datetime, end: dt.datetime) -> int:
        """Business seconds in [start, end); 0 when end is not after start."""
        if end <= start:
            return 0
        first = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        total = 0.0
        day = first
        while day <= last:
            for a, b in self.day_windows(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += dt.timedelta(days=1)
        return int(round(total))

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()


@functools.lru_cache(maxsize=1024)
def _cached(time_zone: str, hours_repr: str, holidays: tuple[str, ...]) -> Calendar:
    import ast

    hours = dict(ast.literal_eval(hours_repr))
    return Calendar(time_zone=time_zone, hours=hours, holidays=list(holidays))
