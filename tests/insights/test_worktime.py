"""Active work time on written conversations and its place in average handle time, by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter

from tests._async import run_async
from tests.factories import (
    ConversationFactory,
    CustomerFactory,
    MemberFactory,
    TeamFactory,
    WorkspaceFactory,
)
from tests.web._ws import WebsocketCommunicator
from warmline.errors import InvalidInput, NotFound
from warmline.insights import engine, worktime
from warmline.insights.engine import Filters, Period
from warmline.insights.models import WorkSession

from .helpers import local
from .test_handle_time import call

TZ = "Europe/Madrid"
WEEK = Period(dt.date(2026, 1, 5), dt.date(2026, 1, 11))
T0 = local(TZ, 2026, 1, 6, 10)


def ping(workspace, member, conv, key, seconds):
    return worktime.record_work(
        workspace=workspace,
        member=member,
        conversation_id=conv.pk,
        key=key,
        at=T0 + dt.timedelta(seconds=seconds),
    )


@pytest.fixture
def ana(workspace):
    return MemberFactory(workspace=workspace, display_name="Ana Agent")


@pytest.fixture
def email_case(workspace):
    return ConversationFactory(
        workspace=workspace, customer=CustomerFactory(workspace=workspace), channel="email"
    )


def test_pings_add_the_gaps_capped(workspace, ana, email_case):
    assert ping(workspace, ana, email_case, "page-1", 0).active_seconds == 0  # opens it
    ping(workspace, ana, email_case, "page-1", 15)
    ping(workspace, ana, email_case, "page-1", 30)
    # 100 s of silence (tab hidden, agent away) counts only the 30 s cap.
    ping(workspace, ana, email_case, "page-1", 130)
    ping(workspace, ana, email_case, "page-1", 145)
    # A repeated or late ping adds nothing.
    session = ping(workspace, ana, email_case, "page-1", 140)
    assert session.active_seconds == 15 + 15 + 30 + 15 == 75
    assert session.started_at == T0 and session.ended_at == T0 + dt.timedelta(seconds=145)
    assert session.channel == "email"
    assert WorkSession.objects.count() == 1


def test_work_is_tenant_checked(workspace, ana, email_case):
    other = WorkspaceFactory(slug="elsewhere")
    stranger = MemberFactory(workspace=other)
    with pytest.raises(NotFound):
        ping(other, stranger, email_case, "page-x", 0)  # another workspace's conversation
    with pytest.raises(NotFound):
        ping(workspace, stranger, email_case, "page-x", 0)  # another workspace's member
    ping(workspace, ana, email_case, "page-1", 0)
    ben = MemberFactory(workspace=workspace)
    with pytest.raises(InvalidInput):
        ping(workspace, ben, email_case, "page-1", 10)  # someone else's page
    assert WorkSession.objects.get().active_seconds == 0


def test_average_handle_time_per_conversation_from_calls_and_work(workspace, ana, email_case):
    ben = MemberFactory(workspace=workspace)
    team = TeamFactory(workspace=workspace)
    team.members.add(ana)
    # Calls: Ana 300 + 60 + 40 = 400 s, Ben 500 + 0 + 100 = 600 s (two voice conversations).
    c1 = call(workspace, 1, local(TZ, 2026, 1, 5, 10), 300, 60, 40, ana)
    call(workspace, 3, local(TZ, 2026, 1, 9, 12), 500, 0, 100, ben)
    # Ana works the email case in two pages: 75 s and 45 s → 120 s on one conversation.
    for s in (0, 15, 30, 130, 145):
        ping(workspace, ana, email_case, "page-1", s)
    for s in (600, 615, 630, 645):
        ping(workspace, ana, email_case, "page-2", s)
    # Work on a call's own page is already after-call work: not counted twice.
    for s in (0, 15):
        ping(workspace, ana, c1.conversation, "page-3", s)
    # A session that ended the week after is not in this week.
    later = ConversationFactory(workspace=workspace, customer=email_case.customer, channel="chat")
    worktime.record_work(
        workspace=workspace, member=ben, conversation_id=later.pk, key="page-4",
        at=local(TZ, 2026, 1, 12, 0, 10),
    )  # fmt: skip

    aht = engine.kpis([workspace.pk], WEEK)["handle_time"]
    # (400 + 600 + 120) / 3 conversations handled.
    assert (aht["value"], aht["n"]) == (373.3, 3)
    assert (aht["calls"], aht["call_seconds"]) == (2, 1000)
    assert (aht["work_sessions"], aht["work_seconds"]) == (2, 120)
    assert engine.handle_time([workspace.pk], WEEK, Filters(owner_id=ana.pk))["value"] == 260.0
    assert engine.handle_time([workspace.pk], WEEK, Filters(team_id=team.pk))["n"] == 2
    assert engine.handle_time([workspace.pk], WEEK, Filters(channel="email"))["value"] == 120.0
    assert engine.handle_time([workspace.pk], WEEK, Filters(channel="voice"))["value"] == 500.0
    assert engine.handle_time([workspace.pk], WEEK, Filters(channel="chat"))["value"] is None
    assert "handle_time" not in engine.HEADLINE


# --- The agent's conversation page pings through its socket ---------------------------


@pytest.mark.django_db(transaction=True)
@run_async
async def test_conversation_socket_records_active_work(workspace):
    from warmline.routing import websocket_urlpatterns

    agent = await sync_to_async(MemberFactory)(workspace=workspace)
    conv = await sync_to_async(ConversationFactory)(
        workspace=workspace, customer=await sync_to_async(CustomerFactory)(workspace=workspace)
    )
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/conversations/{conv.pk}/")
    comm.scope["user"], comm.scope["session"] = agent.user, {}
    assert (await comm.connect())[0]
    await comm.send_json_to({"action": "active", "page": "p1"})
    await comm.send_json_to({"action": "active", "page": "p1"})
    await comm.send_json_to({"action": "replying"})  # presence still works beside it
    await comm.disconnect()
    # The same page after a reconnect continues its session.
    again = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/conversations/{conv.pk}/")
    again.scope["user"], again.scope["session"] = agent.user, {}
    assert (await again.connect())[0]
    await again.send_json_to({"action": "active", "page": "p1"})
    await again.disconnect()

    session = await sync_to_async(WorkSession.objects.get)(workspace=workspace)
    assert session.key == f"{agent.pk}:{conv.pk}:p1"
    assert (session.member_id, session.conversation_id) == (agent.pk, conv.pk)
    # Two pings a few milliseconds apart: server-measured, so (almost) nothing, never more.
    assert session.active_seconds <= 1
    assert session.ended_at >= session.started_at
