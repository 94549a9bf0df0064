"""Bulk messages that are live work are taken up as single ones are, in the worker:
new cases routed with SLA clocks, follow-ups restarting the next-response clock,
anger and churn talk escalated. Imported history stays quiet."""

import datetime as dt

import pytest
from django.utils import timezone

from warmline.conversations import ingest_batch, services
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.conversations.models import Conversation, EntryKind, SlaPolicy, TimelineEntry
from warmline.customers.models import Customer

from ..factories import MemberFactory

ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def ws(workspace):
    workspace.business_hours = ALWAYS
    workspace.save()
    SlaPolicy.objects.create(
        workspace=workspace, name="Default", first_response_minutes=240, next_response_minutes=120
    )
    return workspace


def m(text, ext, *, at=NOW, email="ana@example.com"):
    return InboundMessage(
        channel="email", text=text, sender=Sender(email=email), external_id=ext, sent_at=at
    )


def bulk(ws, capture, *messages):
    with capture(execute=True):  # the analysis task runs after commit (Huey is immediate)
        return ingest_batch.ingest_many(workspace=ws, messages=list(messages))


def test_a_live_bulk_case_is_routed_and_its_sla_clocks_start(
    ws, django_capture_on_commit_callbacks
):
    agent = MemberFactory(workspace=ws, availability="online")
    (out,) = bulk(ws, django_capture_on_commit_callbacks, m("My parcel is late", "l1"))
    conv = Conversation.objects.get(pk=out.conversation_id)
    assert conv.owner_id == agent.pk
    assert conv.sla_policy is not None
    assert conv.first_response_due_at == conv.opened_at + dt.timedelta(minutes=240)
    assignment = TimelineEntry.objects.get(conversation=conv, kind=EntryKind.ASSIGNMENT)
    assert assignment.data["owner"] == [None, agent.pk]
    # Their first case gives the customer their dedicated advocate, as on the single path.
    assert Customer.objects.get(pk=out.customer_id).owner_id == agent.pk


def test_imported_history_is_not_routed_nor_timed(ws, django_capture_on_commit_callbacks):
    MemberFactory(workspace=ws, availability="online")
    (out,) = bulk(
        ws,
        django_capture_on_commit_callbacks,
        m("Old question", "h1", at=NOW - dt.timedelta(days=3)),
    )
    conv = Conversation.objects.get(pk=out.conversation_id)
    assert conv.owner_id is None and conv.sla_policy_id is None
    assert conv.first_response_due_at is None
    assert not TimelineEntry.objects.filter(conversation=conv, kind=EntryKind.ASSIGNMENT).exists()
    # Analysis still runs for history.
    assert TimelineEntry.objects.get(pk=out.entry_id).sentiment is not None


def test_a_live_bulk_message_about_leaving_escalates(ws, django_capture_on_commit_callbacks):
    (out,) = bulk(
        ws,
        django_capture_on_commit_callbacks,
        m("This is it. Cancel my account, I'm switching to another provider.", "x1"),
    )
    conv = Conversation.objects.get(pk=out.conversation_id)
    assert conv.escalated_at is not None
    esc = TimelineEntry.objects.get(conversation=conv, kind=EntryKind.ESCALATION)
    assert "churn_intent" in esc.data["reasons"] and esc.data["entry"] == out.entry_id


def test_a_live_bulk_follow_up_starts_the_next_response_clock(
    ws, member, django_capture_on_commit_callbacks
):
    first = services.ingest(workspace=ws, message=m("Help", "f0", at=NOW - dt.timedelta(hours=1)))
    services.record_reply(
        workspace=ws,
        member=member,
        conversation=first.conversation,
        text="Looking into it",
        at=NOW - dt.timedelta(minutes=50),
    )
    (out,) = bulk(ws, django_capture_on_commit_callbacks, m("Any news?", "f1"))
    assert out.conversation_id == first.conversation.pk
    conv = Conversation.objects.get(pk=first.conversation.pk)
    assert conv.next_response_due_at == NOW + dt.timedelta(minutes=120)
    # A follow-up is not a new case: no second assignment.
    assert TimelineEntry.objects.filter(conversation=conv, kind=EntryKind.ASSIGNMENT).count() <= 1


def test_a_sharp_drop_is_measured_against_the_messages_before_it(
    ws, django_capture_on_commit_callbacks
):
    from warmline.empathy import escalation

    first = services.ingest(
        workspace=ws,
        message=m(
            "Hello, could you tell me when my order ships?", "s0", at=NOW - dt.timedelta(hours=1)
        ),
    )
    (out,) = bulk(
        ws,
        django_capture_on_commit_callbacks,
        m("This is really bad service.", "s1"),
    )
    assert out.conversation_id == first.conversation.pk
    esc = TimelineEntry.objects.get(conversation_id=out.conversation_id, kind=EntryKind.ESCALATION)
    # A neutral message (-0.18) then an angry one (-0.99): a drop of 0.81. Counting the
    # angry message's own stored sentiment in its baseline would halve it (0.41 < 0.6).
    assert escalation.SHARP_NEGATIVE_SHIFT in esc.data["reasons"]
