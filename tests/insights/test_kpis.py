"""Every KPI on a hand-computable week (Mon 5 – Sun 11 January 2026, Europe/Madrid)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import ConversationFactory, CustomerFactory, TeamFactory
from warmline.insights import engine
from warmline.insights.engine import Filters, Period
from warmline.insights.reference import sums_from_scratch
from warmline.insights.rollups import rebuild_workspace, refresh_conversation

from .helpers import answer, local

TZ = "Europe/Madrid"
WEEK = Period(dt.date(2026, 1, 5), dt.date(2026, 1, 11))


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return local(TZ, 2026, 1, day, hour, minute)


def conv(workspace, **fields):
    fields.setdefault("opened_at", at(5, 9))
    fields.setdefault("last_activity_at", fields["opened_at"])
    customer = fields.pop("customer", None) or CustomerFactory(workspace=workspace)
    return ConversationFactory(workspace=workspace, customer=customer, **fields)


@pytest.fixture
def week(workspace, member):
    team = TeamFactory(workspace=workspace)
    c1 = conv(
        workspace,
        status="resolved",
        resolved_at=at(5, 11),
        first_response_at=at(5, 9, 30),
        customer_message_count=1,
        sentiment_first=-0.5,
        sentiment_last=0.5,
        team=team,
        owner=member,
        channel="chat",
    )
    c2 = conv(
        workspace, status="closed", resolved_at=at(6, 10), customer_message_count=3, handoff_count=2
    )
    c3 = conv(
        workspace,
        status="resolved",
        resolved_at=at(7, 9),
        customer_message_count=1,
        reopen_count=1,
        handoff_count=1,
    )
    c4 = conv(workspace, status="open", customer_message_count=1)
    for score in (10, 9, 8, 3):
        answer(c1, "nps", score, at(8, 12))
    for score in (5, 4, 2):
        answer(c2, "csat", score, at(8, 12))
    for score in (7, 4):
        answer(c3, "ces", score, at(8, 12))
    for c in (c1, c2, c3, c4):
        refresh_conversation(c.pk)
    return {"team": team, "convs": (c1, c2, c3, c4)}


def values(workspace, period=WEEK, filters=engine.NO_FILTERS):
    return {k: v["value"] for k, v in engine.kpis([workspace.pk], period, filters).items()}


def test_every_formula_on_the_hand_computed_week(workspace, week):
    v = values(workspace)
    assert v["nps"] == 25.0  # (2 promoters − 1 detractor) / 4
    assert v["csat"] == pytest.approx(66.6667)  # 2 of 3 answers are 4–5
    assert v["csat_mean"] == pytest.approx(3.6667)
    assert v["ces"] == 5.5 and v["ces_easy"] == 50.0
    assert v["response_rate"] == 100.0  # 9 surveys sent, 9 answered
    assert v["fcr"] == pytest.approx(33.3333)  # only c1: one contact, no reopen
    assert v["reopen_rate"] == pytest.approx(33.3333)
    assert v["handoffs"] == 1.0  # 3 handoffs over 3 resolved
    assert v["first_response"] == 1800 and v["first_response_business"] == 1800
    # 2 h, 25 h, 48 h calendar; 2 h, 9 h, 16 h within Mon–Fri 09–17.
    assert v["resolution"] == 90000
    assert v["resolution_business"] == 32400
    assert v["sentiment"] == 0.5 and v["sentiment_change"] == 1.0
    assert v["opened"] == 4 and v["resolved"] == 3
    assert v["backlog"] == 1


def test_filters(workspace, week, member):
    by_team = values(workspace, filters=Filters(team_id=week["team"].pk))
    assert by_team["resolved"] == 1 and by_team["fcr"] == 100.0 and by_team["nps"] == 25.0
    by_channel = values(workspace, filters=Filters(channel="email"))
    assert by_channel["resolved"] == 2 and by_channel["nps"] is None
    assert values(workspace, filters=Filters(owner_id=member.pk))["resolution"] == 7200
    assert values(workspace, filters=Filters(tier="gold"))["resolved"] == 0


def test_no_data_is_none_not_zero(workspace):
    v = values(workspace)
    for key in (
        "nps",
        "csat",
        "ces",
        "fcr",
        "first_response",
        "resolution",
        "sentiment",
        "response_rate",
        "reopen_rate",
        "handoffs",
    ):
        assert v[key] is None, key
    assert v["opened"] == 0 and v["backlog"] == 0
    assert engine.kpis([workspace.pk], WEEK)["handle_time"]["value"] is None


def test_one_answer(workspace):
    c = conv(workspace, status="resolved", resolved_at=at(5, 10), customer_message_count=1)
    answer(c, "nps", 6, at(6, 10))
    refresh_conversation(c.pk)
    figures = engine.kpis([workspace.pk], WEEK)
    assert figures["nps"] == {**figures["nps"], "value": -100.0, "n": 1}
    assert figures["csat"]["value"] is None and figures["csat"]["n"] == 0


def test_change_against_previous_period(workspace, week):
    prev = conv(
        workspace,
        opened_at=at(1, 9) - dt.timedelta(days=3),
        status="resolved",
        resolved_at=local(TZ, 2026, 1, 2, 10),
        customer_message_count=1,
    )
    answer(prev, "nps", 0, local(TZ, 2026, 1, 2, 12))
    refresh_conversation(prev.pk)
    figure = engine.kpis([workspace.pk], WEEK)["nps"]
    assert figure["previous"] == -100.0 and figure["change"] == 125.0
    assert engine.kpis([workspace.pk], WEEK)["fcr"]["previous"] == 100.0


def test_days_are_the_workspace_local_days(workspace):
    # 23:30 UTC on Sunday 11 January is already Monday 12 January in Madrid.
    c = conv(
        workspace,
        opened_at=at(11, 20),
        status="resolved",
        resolved_at=dt.datetime(2026, 1, 11, 23, 30, tzinfo=dt.UTC),
    )
    refresh_conversation(c.pk)
    assert values(workspace)["resolved"] == 0
    assert values(workspace, Period(dt.date(2026, 1, 12), dt.date(2026, 1, 12)))["resolved"] == 1


def test_reopened_then_resolved(workspace, member, django_capture_on_commit_callbacks):
    """Through the real services: resolve, reopen, resolve again — counted once, as reopened."""
    from warmline.conversations.services import update_conversation

    c = conv(workspace, opened_at=at(5, 9), customer_message_count=1)
    for status in ("resolved", "open", "resolved"):
        with django_capture_on_commit_callbacks(execute=True):
            update_conversation(
                workspace=workspace, actor=member, conversation=c, changes={"status": status}
            )
    today = Period.last(1)
    figures = engine.kpis([workspace.pk], today)
    assert figures["resolved"]["value"] == 1
    assert figures["reopen_rate"]["value"] == 100.0
    assert figures["fcr"]["value"] == 0.0
    assert sums_from_scratch([workspace.pk], today) == engine.sums([workspace.pk], today)


def test_merged_conversations_are_not_counted(workspace, week):
    c1, c2 = week["convs"][:2]
    type(c2).objects.filter(pk=c2.pk).update(merged_into=c1)
    refresh_conversation(c2.pk)
    v = values(workspace)
    assert v["resolved"] == 2 and v["csat"] is None


def test_series_and_breakdown(workspace, week):
    weeks = engine.series([workspace.pk], WEEK, granularity="week")
    assert [w["start"] for w in weeks] == [dt.date(2026, 1, 5)]
    days = engine.series([workspace.pk], WEEK, granularity="day")
    assert len(days) == 7 and days[0]["kpis"]["resolved"]["value"] == 1
    assert days[5]["kpis"]["resolved"]["value"] == 0 and days[5]["kpis"]["fcr"]["value"] is None
    rows = {r["key"]: r["kpis"] for r in engine.breakdown([workspace.pk], WEEK, by="channel")}
    assert rows["chat"]["resolved"]["value"] == 1 and rows["email"]["resolved"]["value"] == 2


def test_rebuild_equals_incremental(workspace, week):
    before = engine.sums([workspace.pk], WEEK)
    rebuild_workspace(workspace)
    assert engine.sums([workspace.pk], WEEK) == before == sums_from_scratch([workspace.pk], WEEK)


@pytest.mark.parametrize(
    ("xs", "ys", "r"),
    [
        ([1, 2, 3], [2, 4, 6], 1.0),
        ([1, 2, 3], [3, 2, 1], -1.0),
        ([1, 2], [1, 2], None),
        ([1, 1, 1], [1, 2, 3], None),
        ([1, 2, 3, 4], [1, 3, 2, 4], 0.8),
    ],
)
def test_pearson(xs, ys, r):
    assert engine.pearson(xs, ys) == r
