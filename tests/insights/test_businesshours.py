from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from warmline.insights.businesshours import NONE_US, Calendar, to_us
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


def test_overlapping_windows_count_once():
    cal = Calendar(time_zone="UTC", hours={"mon": [["09:00", "12:00"], ["11:00", "13:00"]]})
    a = dt.datetime(2026, 1, 5, 0, tzinfo=dt.UTC)
    assert cal.seconds_between(a, a + dt.timedelta(days=1)) == 4 * 3600


def test_half_seconds_round_up():
    cal = Calendar(time_zone="UTC", hours=HOURS)
    a = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
    assert cal.seconds_between(a, a + dt.timedelta(seconds=2, microseconds=500_000)) == 3
    assert cal.seconds_between(a, a + dt.timedelta(seconds=2, microseconds=499_999)) == 2


ZONES = [
    ("Europe/Madrid", HOURS, ["2026-01-06", "2026-03-30", "2026-10-26"]),
    (
        "America/New_York",
        {"mon": [["08:00", "12:00"], ["13:00", "24:00"]], "sat": [["00:00", "03:00"]]},
        [],
    ),
    # Lord Howe Island moves its clocks by 30 minutes, at an instant that is not a UTC hour.
    ("Australia/Lord_Howe", {d: [["01:00", "04:00"]] for d in ("sat", "sun")}, ["2026-04-05"]),
    ("Asia/Kolkata", HOURS, []),
]


@pytest.mark.parametrize(("zone", "hours", "holidays"), ZONES)
def test_vectorised_forms_equal_the_loop(zone, hours, holidays):
    """The full rebuild's NumPy forms give exactly what the per-conversation path gives."""
    rng = random.Random(zone)
    cal = Calendar(time_zone=zone, hours=hours, holidays=holidays)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    starts, ends = [], []
    for _ in range(400):
        a = base + dt.timedelta(microseconds=rng.randrange(0, 330 * 86_400_000_000))
        # Some half-second edges and some spans across weekends, DST switches and holidays.
        span = rng.choice([0, 1, 2_500_000, rng.randrange(0, 9 * 86_400_000_000)])
        starts.append(a)
        ends.append(
            a + dt.timedelta(microseconds=span) if rng.random() < 0.9 else a - dt.timedelta(hours=1)
        )
    # The instants right around Lord Howe's and Madrid's switches.
    for edge in (
        "2026-04-04T14:59:59",
        "2026-04-04T15:00:00",
        "2026-10-03T15:59:59",
        "2026-03-29T00:59:59",
    ):
        moment = dt.datetime.fromisoformat(edge).replace(tzinfo=dt.UTC)
        starts.append(moment)
        ends.append(moment + dt.timedelta(hours=30))
    s = np.array([to_us(x) for x in starts], dtype=np.int64)
    e = np.array([to_us(x) for x in ends], dtype=np.int64)
    got = (cal.business_us_between(s, e) + 500_000) // 1_000_000
    assert got.tolist() == [cal.seconds_between(a, b) for a, b in zip(starts, ends, strict=True)]
    days = cal.local_days(np.concatenate([s, e, [NONE_US]]))
    expected = [(cal.local_date(x) - dt.date(1970, 1, 1)).days for x in starts + ends]
    assert days.tolist() == [*expected, NONE_US]
