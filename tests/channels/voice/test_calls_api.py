"""POST /api/v1/calls: telephony systems record calls; they join the customer's timeline."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import MemberFactory
from warmline.channels.voice import services as voice
from warmline.channels.voice.models import Call
from warmline.conversations.models import Conversation, TimelineEntry
from warmline.customers.models import Identity

T0 = dt.datetime(2026, 3, 2, 9, 0, 0, tzinfo=dt.UTC)


def call(**over):
    body = {
        "call_id": "CA-1001",
        "direction": "inbound",
        "from": "+34600111222",
        "to": "+34910000000",
        "customer_name": "Ana García",
        "started_at": T0.isoformat(),
        "answered_at": (T0 + dt.timedelta(seconds=20)).isoformat(),
        "ended_at": (T0 + dt.timedelta(seconds=20 + 300)).isoformat(),
        "hold_seconds": 45,
        "after_call_work_seconds": 60,
        "recording_url": "https://pbx.example/recordings/CA-1001.wav",
        "transcript": [
            {"speaker": "customer", "text": "My router keeps dropping.", "start": 0, "end": 4},
            {"speaker": "agent", "text": "Let me check the line for you.", "start": 4, "end": 8},
        ],
    }
    body.update(over)
    return body


def test_inbound_call_is_recorded_with_handle_time_and_appears_in_the_timeline(
    api, member, workspace
):
    resp = api.post_json("/api/v1/calls", call(agent_id=member.pk))
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert data["wait_seconds"] == 20
    assert data["talk_seconds"] == 300 - 45
    assert data["hold_seconds"] == 45 and data["after_call_work_seconds"] == 60
    assert data["handle_seconds"] == 300 + 60
    assert data["agent_id"] == member.pk
    assert data["transcript"][0] == {
        "speaker": "customer",
        "text": "My router keeps dropping.",
        "start": 0.0,
        "end": 4.0,
    }
    entry = TimelineEntry.objects.get(pk=data["entry_id"])
    assert entry.channel == "voice" and entry.occurred_at == T0
    assert entry.text.splitlines() == [
        "Inbound call, 4 min 15 s",
        "Customer: My router keeps dropping.",
        "Agent: Let me check the line for you.",
    ]
    assert entry.data["call"]["recording_url"].endswith("CA-1001.wav")
    assert entry.data["transcript"][1]["speaker"] == "agent"
    ident = Identity.objects.get(workspace=workspace, kind="phone")
    assert ident.value == "+34600111222" and ident.customer_id == data["customer_id"]
    assert entry.author_customer.name == "Ana García"
    # The API reads it back; another workspace cannot.
    assert api.get(f"/api/v1/calls/{data['id']}").json()["call_id"] == "CA-1001"
    assert (
        api.get(f"/api/v1/calls?customer_id={data['customer_id']}").json()["items"][0]["id"]
        == (data["id"])
    )


def test_resending_the_same_call_is_idempotent(api):
    first = api.post_json("/api/v1/calls", call())
    again = api.post_json("/api/v1/calls", call(hold_seconds=0))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["hold_seconds"] == 45
    assert Call.objects.count() == 1 and TimelineEntry.objects.count() == 1


def test_call_joins_the_customers_open_conversation_from_another_channel(api, workspace):
    from warmline.conversations import services as conversations
    from warmline.conversations.inbound import InboundMessage, Sender

    sms = conversations.ingest(
        workspace=workspace,
        message=InboundMessage(
            channel="sms",
            text="Router down again",
            sender=Sender(phone="+34600111222"),
            sent_at=T0 - dt.timedelta(hours=1),
        ),
    )
    data = api.post_json("/api/v1/calls", call()).json()
    assert data["conversation_id"] == sms.conversation.pk
    assert data["customer_id"] == sms.customer.pk


def test_outbound_call_is_history_not_a_waiting_customer(api, workspace):
    resp = api.post_json(
        "/api/v1/calls",
        call(
            call_id="CA-2", direction="outbound", **{"from": "+34910000000", "to": "+34600999888"}
        ),
    )
    assert resp.status_code == 201
    data = resp.json()
    assert Identity.objects.get(customer_id=data["customer_id"], kind="phone").value == (
        "+34600999888"
    )
    conv = Conversation.objects.get(pk=data["conversation_id"])
    assert conv.waiting_since is None
    assert TimelineEntry.objects.get(pk=data["entry_id"]).text.startswith("Outbound call")


def test_missed_call_has_no_handle_time(api):
    data = api.post_json(
        "/api/v1/calls", call(call_id="CA-3", answered_at=None, hold_seconds=0, transcript=[])
    ).json()
    assert data["talk_seconds"] == 0 and data["handle_seconds"] == 0
    assert data["wait_seconds"] == 320
    assert TimelineEntry.objects.get(pk=data["entry_id"]).text == "Missed inbound call"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"direction": "sideways"}, "direction"),
        ({"from": "hello"}, "from"),
        ({"ended_at": (T0 - dt.timedelta(seconds=1)).isoformat()}, "ended_at"),
        ({"answered_at": (T0 - dt.timedelta(seconds=5)).isoformat()}, "answered_at"),
        ({"hold_seconds": 10_000}, "hold_seconds"),
        ({"hold_seconds": -1}, "hold_seconds"),
        ({"started_at": "2026-03-02T09:00:00"}, "started_at"),
        ({"transcript": [{"speaker": "narrator", "text": "x"}]}, "transcript"),
        ({"recording_url": "ftp://pbx/1.wav"}, "recording_url"),
        ({"agent_id": 999_999}, "agent_id"),
    ],
)
def test_bad_call_records_are_422_naming_the_field(api, change, field):
    resp = api.post_json("/api/v1/calls", call(**change))
    assert resp.status_code == 422, resp.content
    locs = [d["loc"] for d in resp.json()["detail"]]
    assert any(field in loc for loc in locs), locs
    assert Call.objects.count() == 0


def test_needs_a_token_and_other_workspaces_see_nothing(api, other_api, other_workspace):
    from tests.conftest import ApiClient

    assert ApiClient().post_json("/api/v1/calls", call()).status_code == 401
    data = api.post_json("/api/v1/calls", call()).json()
    assert other_api.get(f"/api/v1/calls/{data['id']}").status_code == 404
    assert other_api.get("/api/v1/calls").json()["items"] == []
    # An agent of another workspace cannot be named on our call.
    stranger = MemberFactory(workspace=other_workspace)
    resp = api.post_json("/api/v1/calls", call(call_id="CA-9", agent_id=stranger.pk))
    assert resp.status_code == 422


def test_handle_time_for_the_kpis(api, member, workspace):
    api.post_json("/api/v1/calls", call(agent_id=member.pk))  # handle 360
    api.post_json(
        "/api/v1/calls",
        call(
            call_id="CA-B",
            hold_seconds=0,
            after_call_work_seconds=0,
            ended_at=(T0 + dt.timedelta(seconds=20 + 120)).isoformat(),
        ),
    )  # handle 120
    api.post_json("/api/v1/calls", call(call_id="CA-C", answered_at=None, hold_seconds=0))
    day = (T0.replace(hour=0), T0.replace(hour=0) + dt.timedelta(days=1))
    figures = voice.handle_time(workspace_ids=[workspace.pk], start=day[0], end=day[1])
    assert figures["n"] == 2 and figures["value"] == 240.0
    assert figures["hold_seconds"] == 45 and figures["after_call_work_seconds"] == 60
    mine = voice.handle_time(
        workspace_ids=[workspace.pk], start=day[0], end=day[1], agent_ids=[member.pk]
    )
    assert mine["n"] == 1 and mine["value"] == 360.0
    before = voice.handle_time(
        workspace_ids=[workspace.pk], start=day[0] - dt.timedelta(days=1), end=day[0]
    )
    assert before == {
        "value": None,
        "n": 0,
        "talk_seconds": 0,
        "hold_seconds": 0,
        "after_call_work_seconds": 0,
    }
