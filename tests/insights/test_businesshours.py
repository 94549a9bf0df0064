from __future__ import annotations

import datetime as dt

from warmline.insights.businesshours import Calendar
from warmline.tenancy.models import default_business_hours

from .helpers import local

HOURS = default_business_hours()  # Mon–Fri 09:00–17:00


def test_same_day_inside_hours():
    cal = Calendar(time_zone="Europe/Madrid", hours=HOURS)
    a, b = local("Europe/Madrid", 2026, 1, 5, 10), local("Europe/Madrid", 2026, 1, 5, 12, 30)
    assert cal.seconds_between(a, b) == 9000


def test_outside_hours_counts_nothing():
    cal = Calendar(time_zone="Europe/Madrid", hours=HOURS)
    a, b = local("Europe/Madrid", 2026, 1, 5, 18), local("Europe/Madrid", 2026, 1, 6, 8)
    assert cal.seconds_between(a, b) == 0
    assert cal.seconds_between(b, a) == 0


def test_across_a_weekend_and_a_holiday():
    # Friday 16:00 → Tuesday 10:00, Monday 12 Jan a holiday: 1 h Friday + 1 h Tuesday.
    cal = Calendar(time_zone="Europe/Madrid", hours=HOURS, holidays=["2026-01-12"])
    a, b = local("Europe/Madrid", 2026, 1, 9, 16), local("Europe/Madrid", 2026, 1, 13, 10)
    assert cal.seconds_between(a, b) == 2 * 3600
    no_holiday = Calendar(time_zone="Europe/Madrid", hours=HOURS)
    assert no_holiday.seconds_between(a, b) == 10 * 3600


def test_the_workspace_time_zone_decides():
    a = dt.datetime(2026, 1, 5, 14, tzinfo=dt.UTC)
    b = dt.datetime(2026, 1, 5, 23, tzinfo=dt.UTC)
    assert Calendar(time_zone="America/New_York", hours=HOURS).seconds_between(a, b) == 8 * 3600
    assert Calendar(time_zone="UTC", hours=HOURS).seconds_between(a, b) == 3 * 3600
    assert Calendar(time_zone="Europe/Madrid", hours=HOURS).seconds_between(a, b) == 2 * 3600


def test_split_shifts_and_midnight_close():
    hours = {"mon": [["08:00", "12:00"], ["20:00", "24:00"]]}
    cal = Calendar(time_zone="UTC", hours=hours)
    a = dt.datetime(2026, 1, 5, 0, tzinfo=dt.UTC)
    assert cal.seconds_between(a, a + dt.timedelta(days=1)) == 8 * 3600


def test_dst_day_uses_wall_clock_hours():
    # 29 March 2026 Europe/Madrid springs forward at 02:00; a 00:00–06:00 window is 5 real hours.
    cal = Calendar(time_zone="Europe/Madrid", hours={"sun": [["00:00", "06:00"]]})
    a = local("Europe/Madrid", 2026, 3, 28, 12)
    assert cal.seconds_between(a, a + dt.timedelta(days=2)) == 5 * 3600


def test_local_date():
    cal = Calendar(time_zone="Europe/Madrid", hours=HOURS)
    assert cal.local_date(dt.datetime(2026, 1, 11, 23, 30, tzinfo=dt.UTC)) == dt.date(2026, 1, 12)
