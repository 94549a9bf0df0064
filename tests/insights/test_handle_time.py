"""Average handle time from recorded calls (the voice channel's records), by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import MemberFactory, TeamFactory
from warmline.channels.voice.services import CallRecord, record_call
from warmline.insights import engine
from warmline.insights.engine import Filters, Period

from .helpers import local

TZ = "Europe/Madrid"
WEEK = Period(dt.date(2026, 1, 5), dt.date(2026, 1, 11))


def call(
    workspace, n: int, start: dt.datetime, talk: int, hold: int, acw: int, agent, answered=True
):
    answered_at = start + dt.timedelta(seconds=20)
    return record_call(
        workspace=workspace,
        actor=None,
        record=CallRecord(
            call_id=f"call-{n}",
            direction="inbound",
            from_number=f"+3460000000{n}",
            to_number="+34910000000",
            started_at=start,
            answered_at=answered_at if answered else None,
            ended_at=answered_at + dt.timedelta(seconds=talk + hold),
            agent_id=agent.pk if agent else None,
            hold_seconds=hold,
            after_call_work_seconds=acw,
        ),
    ).call


@pytest.fixture
def calls(workspace):
    ana, ben = MemberFactory(workspace=workspace), MemberFactory(workspace=workspace)
    team = TeamFactory(workspace=workspace)
    team.members.add(ana)
    # Ana: 300 + 60 + 40 = 400 s and 100 + 0 + 20 = 120 s; Ben: 500 + 0 + 100 = 600 s.
    call(workspace, 1, local(TZ, 2026, 1, 5, 10), 300, 60, 40, ana)
    call(workspace, 2, local(TZ, 2026, 1, 7, 16), 100, 0, 20, ana)
    call(workspace, 3, local(TZ, 2026, 1, 9, 12), 500, 0, 100, ben)
    # Missed (never answered): no handle time, not in the average.
    call(workspace, 4, local(TZ, 2026, 1, 8, 9), 0, 0, 0, None, answered=False)
    # Sunday 11 Jan 23:30 in Madrid is Sunday 22:30 UTC: inside the week...
    call(workspace, 5, local(TZ, 2026, 1, 11, 23, 30), 200, 0, 0, ben)
    # ...and Monday 12 Jan 00:30 in Madrid (Sunday 23:30 UTC) is the next week.
    call(workspace, 6, local(TZ, 2026, 1, 12, 0, 30), 900, 0, 0, ben)
    return ana, ben, team


def test_average_handle_time_from_calls(workspace, calls):
    ana, ben, team = calls
    figures = engine.kpis([workspace.pk], WEEK)
    aht = figures["handle_time"]
    # (400 + 120 + 600 + 200) / 4; the call ending just after local midnight is excluded.
    assert aht["n"] == 4 and aht["value"] == 330.0
    assert aht["hold_seconds"] == 60 and aht["after_call_work_seconds"] == 160
    assert engine.handle_time([workspace.pk], WEEK, Filters(owner_id=ana.pk))["value"] == 260.0
    assert engine.handle_time([workspace.pk], WEEK, Filters(team_id=team.pk))["n"] == 2
    assert engine.handle_time([workspace.pk], WEEK, Filters(channel="voice"))["n"] == 4
    assert engine.handle_time([workspace.pk], WEEK, Filters(channel="email"))["value"] is None
    # Not a headline KPI; no calls is "no data", not zero.
    assert "handle_time" not in engine.HEADLINE
    empty = engine.handle_time([workspace.pk], Period(dt.date(2025, 1, 1), dt.date(2025, 1, 7)))
    assert empty["value"] is None and empty["n"] == 0
    # The previous week had no calls: no change to show.
    assert aht["previous"] is None and aht["change"] is None


def test_handle_time_on_the_api_and_csv(workspace, calls, api):
    body = api.get("/api/v1/kpis?start=2026-01-05&end=2026-01-11").json()
    assert body["kpis"]["handle_time"]["value"] == 330.0
    csv = api.get("/api/v1/kpis?start=2026-01-05&end=2026-01-11&format=csv").content.decode()
    assert (
        "handle_time,Average handle time per conversation: calls and active work (s),330.0,4" in csv
    )
