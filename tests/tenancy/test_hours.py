import datetime as dt

import pytest

from warmline.tenancy.hours import BusinessCalendar

NINE_TO_FIVE = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
UTC = dt.UTC


def at(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


@pytest.fixture
def madrid():
    # 2026-12-25 (Friday) is a holiday.
    return BusinessCalendar("Europe/Madrid", NINE_TO_FIVE, ["2026-12-25"])


def test_time_within_one_working_day(madrid):
    # 09:00-11:30 Madrid (UTC+1 in winter) on Monday.
    assert (
        madrid.seconds_between(at("2026-12-21T08:00:00+00:00"), at("2026-12-21T10:30:00+00:00"))
        == 2.5 * 3600
    )


def test_nights_weekends_and_holidays_do_not_count(madrid):
    # Thu 16:00 Madrid -> Mon 10:00 Madrid: Thu 1h, Fri holiday, weekend 0, Mon 1h.
    start = at("2026-12-24T15:00:00+00:00")
    end = at("2026-12-28T09:00:00+00:00")
    assert madrid.seconds_between(start, end) == 2 * 3600


def test_adding_working_time_skips_closed_time(madrid):
    # 2 working hours from Thu 16:00 Madrid: 1h on Thursday, then Monday 09:00 + 1h.
    due = madrid.add(at("2026-12-24T15:00:00+00:00"), 2 * 3600)
    assert due == at("2026-12-28T09:00:00+00:00")


def test_add_and_between_agree(madrid):
    start = at("2026-12-23T12:34:00+00:00")
    for hours in (0.5, 3, 8, 20, 41):
        due = madrid.add(start, hours * 3600)
        assert madrid.seconds_between(start, due) == pytest.approx(hours * 3600)


def test_daylight_saving_change_is_respected():
    cal = BusinessCalendar("Europe/Madrid", NINE_TO_FIVE)
    # Friday 2026-03-27 09:00 local is 08:00 UTC; Monday 2026-03-30 09:00 local is 07:00 UTC (CEST).
    assert cal.add(at("2026-03-27T15:00:00+00:00"), 2 * 3600) == at("2026-03-30T08:00:00+00:00")


def test_no_hours_means_calendar_time():
    cal = BusinessCalendar("UTC", {})
    assert (
        cal.seconds_between(at("2026-01-01T00:00:00+00:00"), at("2026-01-02T00:00:00+00:00"))
        == 86400
    )
    assert cal.is_open(at("2026-01-03T03:00:00+00:00"))


def test_is_open(madrid):
    assert madrid.is_open(at("2026-12-21T09:30:00+00:00"))
    assert not madrid.is_open(at("2026-12-25T10:00:00+00:00"))  # holiday
    assert not madrid.is_open(at("2026-12-26T10:00:00+00:00"))  # Saturday
