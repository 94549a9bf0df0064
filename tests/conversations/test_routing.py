import datetime as dt

import pytest
from django.utils import timezone

from warmline.conversations import routing, services
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.conversations.models import Conversation, EntryKind, TimelineEntry
from warmline.errors import InvalidInput

from ..factories import CustomerFactory, MemberFactory

ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
NOW = timezone.now()


@pytest.fixture
def ws(workspace):
    workspace.business_hours = ALWAYS
    workspace.save()
    return workspace


def online(ws, **kw):
    return MemberFactory(workspace=ws, availability="online", **kw)


def msg(email="ana@example.com", channel="email"):
    return InboundMessage(channel=channel, text="Hello", sender=Sender(email=email), sent_at=NOW)


def test_the_owner_gets_their_customers_new_cases(ws):
    owner = online(ws)
    online(ws)  # someone idler, who must not win over the owner
    customer = CustomerFactory(workspace=ws, owner=owner)
    d = routing.route(workspace=ws, customer=customer, channel="email", at=NOW)
    assert d.member == owner and "owner" in d.reason


def test_an_away_owner_is_covered_by_the_named_colleague(ws):
    cover = online(ws)
    owner = MemberFactory(workspace=ws, availability="away", cover=cover)
    customer = CustomerFactory(workspace=ws, owner=owner)
    d = routing.route(workspace=ws, customer=customer, channel="email", at=NOW)
    assert d.member == cover and "covering" in d.reason


def test_an_owner_at_capacity_is_not_given_more(ws):
    owner = online(ws, capacity=1)
    other = online(ws)
    customer = CustomerFactory(workspace=ws, owner=owner)
    services.ingest(workspace=ws, message=msg())  # a first case elsewhere
    Conversation.objects.update(owner=owner)
    assert routing.route(workspace=ws, customer=customer, channel="email", at=NOW).member == other


def test_an_owner_outside_working_hours_is_not_available(ws):
    owner = online(ws, working_hours={"mon": [["09:00", "10:00"]]})
    other = online(ws)
    customer = CustomerFactory(workspace=ws, owner=owner)
    sunday_noon = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    assert (
        routing.route(workspace=ws, customer=customer, channel="email", at=sunday_noon).member
        == other
    )


def test_rules_prefer_language_then_lowest_workload(ws):
    en = online(ws, languages=["en"])
    es_busy = online(ws, languages=["es"])
    es_free = online(ws, languages=["es"])
    for _ in range(3):
        c = CustomerFactory(workspace=ws)
        from ..factories import ConversationFactory

        ConversationFactory(customer=c, owner=es_busy)
    customer = CustomerFactory(workspace=ws, preferred_language="es")
    d = routing.route(workspace=ws, customer=customer, channel="email", at=NOW)
    assert d.member == es_free and "speaks es" in d.reason
    assert en != d.member


def test_tier_rules_require_a_skill(ws):
    ws.settings = {"routing": {"tier_skills": {"platinum": "vip"}}}
    ws.save()
    online(ws)
    vip = online(ws, skills=["vip"], capacity=50)
    customer = CustomerFactory(workspace=ws, tier="platinum")
    assert routing.route(workspace=ws, customer=customer, channel="chat", at=NOW).member == vip


def test_nobody_available_leaves_the_case_unassigned(ws):
    MemberFactory(workspace=ws, availability="offline")
    r = services.ingest(workspace=ws, message=msg())
    assert r.conversation.owner_id is None


def test_first_conversation_gives_the_customer_an_owner(ws):
    agent = online(ws)
    r = services.ingest(workspace=ws, message=msg())
    r.customer.refresh_from_db()
    assert r.conversation.owner == agent and r.customer.owner == agent
    entry = TimelineEntry.objects.get(conversation=r.conversation, kind=EntryKind.ASSIGNMENT)
    assert "workload" in entry.text


def test_transfers_need_a_reason_and_count_as_handoffs(ws, member, lead):
    r = services.ingest(workspace=ws, message=msg())
    conv = services.update_conversation(
        workspace=ws, actor=lead, conversation=r.conversation, changes={"owner_id": member.pk}
    )
    with pytest.raises(InvalidInput) as exc:
        services.update_conversation(
            workspace=ws, actor=lead, conversation=conv, changes={"owner_id": lead.pk}
        )
    assert exc.value.field == "reason"
    conv = services.update_conversation(
        workspace=ws,
        actor=lead,
        conversation=conv,
        changes={"owner_id": lead.pk},
        reason="needs billing access",
    )
    assert conv.handoff_count == 1
    assert TimelineEntry.objects.filter(
        conversation=conv, kind="assignment", text="needs billing access"
    ).exists()


def test_channel_rules_prefer_a_member_who_handles_it(ws):
    online(ws, channels=["email"])  # idle, but does not take chat
    chat = online(ws, channels=["chat"], capacity=50)
    for _ in range(2):
        from ..factories import ConversationFactory

        ConversationFactory(customer=CustomerFactory(workspace=ws), owner=chat)
    d = routing.route(workspace=ws, customer=CustomerFactory(workspace=ws), channel="chat", at=NOW)
    assert d.member == chat and "handles chat" in d.reason


def test_nobody_is_available_on_a_workspace_holiday(ws):
    ws.time_zone = "UTC"  # so that NOW's date is the workspace's date
    ws.holidays = [NOW.date().isoformat()]
    ws.save()
    owner = online(ws)
    customer = CustomerFactory(workspace=ws, owner=owner)
    d = routing.route(workspace=ws, customer=customer, channel="email", at=NOW)
    assert d.member is None
