"""Elapsed business time between two instants, in a workspace's own calendar.

Opening hours are local wall-clock times ({"mon": [["09:00", "17:00"]], ...});
holidays are local ISO dates. Each day's windows are built as aware datetimes in
the workspace zone, so a DST change shortens or lengthens that day as it should.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

import numpy as np

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
US = dt.timedelta(microseconds=1)
HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000
NONE_US = np.iinfo(np.int64).min  # "no moment" in the vectorised paths (NumPy's NaT)


def to_us(moment: dt.datetime) -> int:
    """Exact microseconds since the epoch (floats would blur half-second roundings)."""
    return (moment - EPOCH) // US


def whole_seconds(us: int) -> int:
    """Microseconds to whole seconds, halves rounded up: one rule for every duration sum."""
    return (us + 500_000) // 1_000_000


def _merge(windows: list[tuple[dt.time, dt.time]]) -> list[tuple[dt.time, dt.time]]:
    """Sorted, with overlapping or touching windows joined, so no second counts twice."""
    out: list[tuple[dt.time, dt.time]] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


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
            _merge(
                [
                    (_parse(a), _parse(b))
                    for a, b in (hours or {}).get(day, [])
                    if _parse(a) < _parse(b)
                ]
            )
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
        total = 0
        day = first
        while day <= last:
            for a, b in self.day_windows(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += (hi - lo) // US
            day += dt.timedelta(days=1)
        return whole_seconds(total)

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    # --- Vectorised forms for full rebuilds (a million rows in seconds, not minutes) ------

    def local_days(self, us: np.ndarray) -> np.ndarray:
        """Local date of each instant as days since 1970-01-01 (NONE_US stays NONE_US).

        The zone's offset is looked up once per distinct UTC hour; an hour in which the
        offset changes (a DST switch at a half hour) is resolved instant by instant.
        """
        us = np.asarray(us, dtype=np.int64)
        out = np.full(us.shape, NONE_US, dtype=np.int64)
        valid = us != NONE_US
        if not valid.any():
            return out
        v = us[valid]
        hours, inverse = np.unique(v // HOUR_US, return_inverse=True)
        offsets = np.empty(len(hours), dtype=np.int64)
        exact = np.zeros(len(hours), dtype=bool)
        for i, h in enumerate(hours.tolist()):
            start = EPOCH + dt.timedelta(hours=h)
            a = start.astimezone(self.zone).utcoffset()
            b = (start + dt.timedelta(hours=1) - US).astimezone(self.zone).utcoffset()
            offsets[i] = a // US
            exact[i] = a != b
        local = v + offsets[inverse]
        for j in np.flatnonzero(exact[inverse]).tolist():  # rare: offset changes mid-hour
            moment = EPOCH + dt.timedelta(microseconds=int(v[j]))
            local[j] = v[j] + moment.astimezone(self.zone).utcoffset() // US
        out[valid] = np.floor_divide(local, DAY_US)
        return out

    def business_us_between(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Business microseconds in [start, end) per pair; 0 where either is missing or end
        is not after start. Uses cumulative business time over the windows of every local
        day the pairs span: B(end) − B(start)."""
        start = np.asarray(start, dtype=np.int64)
        end = np.asarray(end, dtype=np.int64)
        ok = (start != NONE_US) & (end != NONE_US) & (end > start)
        out = np.zeros(start.shape, dtype=np.int64)
        if not ok.any():
            return out
        s, e = start[ok], end[ok]
        first = EPOCH.date() + dt.timedelta(days=int(self.local_days(s.min()[None])[0]) - 1)
        last = EPOCH.date() + dt.timedelta(days=int(self.local_days(e.max()[None])[0]) + 1)
        lows, highs = [], []
        day = first
        while day <= last:
            for a, b in self.day_windows(day):
                lows.append(to_us(a))
                highs.append(to_us(b))
            day += dt.timedelta(days=1)
        if not lows:
            return out
        lo = np.array(lows, dtype=np.int64)
        length = np.array(highs, dtype=np.int64) - lo
        before = np.concatenate(([0], np.cumsum(length)[:-1]))

        def cumulative(t: np.ndarray) -> np.ndarray:
            i = np.searchsorted(lo, t, side="right") - 1
            inside = i >= 0
            j = np.where(inside, i, 0)
            value = before[j] + np.minimum(np.maximum(t - lo[j], 0), length[j])
            return np.where(inside, value, 0)

        out[ok] = cumulative(e) - cumulative(s)
        return out


@functools.lru_cache(maxsize=1024)
def _cached(time_zone: str, hours_repr: str, holidays: tuple[str, ...]) -> Calendar:
    import ast

    hours = dict(ast.literal_eval(hours_repr))
    return Calendar(time_zone=time_zone, hours=hours, holidays=list(holidays))
