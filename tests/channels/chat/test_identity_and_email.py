"""An anonymous visitor leaves an email: they become (or merge into) a known customer,
the case continues by email when they are gone, and a later email joins the same case."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.channels.email.sink import Sink
from tests.factories import MemberFactory
from warmline.channels import outbound
from warmline.channels.chat import services as chat
from warmline.channels.chat.models import ChatVisitor
from warmline.channels.models import EmailAddress, OutboundMessage, OutboundStatus, Security
from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.conversations.models import Conversation, EntryKind, TimelineEntry
from warmline.customers.models import Customer, Identity, MergeSuggestion

from .conftest import hello, run_async, say, widget

pytestmark = pytest.mark.django_db(transaction=True)


async def leave_email(comm, email: str) -> dict:
    await comm.send_json_to({"type": "email", "email": email})
    while True:
        frame = await comm.receive_json_from(timeout=20)
        if frame["type"] in ("email_saved", "error"):
            return frame


def _email_in(workspace, address: str, text: str, message_id: str):
    """An inbound email as the email adapter hands it to ingest."""
    return conversations.ingest(
        workspace=workspace,
        message=InboundMessage(
            channel="email",
            text=text,
            subject="Following up",
            sender=Sender(email=address, name="Ana García"),
            external_id=message_id,
            thread_key=message_id,
        ),
    )


@run_async
async def test_email_left_before_the_first_message_makes_a_known_customer(shop):
    comm = widget(shop.slug)
    await hello(comm)
    saved = await leave_email(comm, "  Ana@Example.COM ")
    assert saved == {"type": "email_saved", "email": "ana@example.com"}
    ack = await say(comm, "My parcel is late", "m1")
    entry = await sync_to_async(TimelineEntry.objects.get)(pk=ack["id"])
    kinds = await sync_to_async(
        lambda: sorted(
            Identity.objects.filter(customer_id=entry.author_customer_id).values_list(
                "kind", flat=True
            )
        )
    )()
    assert kinds == ["chat", "email"]
    bad = await leave_email(comm, "not an address")
    assert bad["type"] == "error" and bad["field"] == "email"
    await comm.disconnect()


def _known_customer(workspace):
    result = _email_in(workspace, "ana@example.com", "Old question", "<old-1@mail.example>")
    conversations.update_conversation(
        workspace=workspace,
        actor=None,
        conversation=result.conversation,
        changes={"status": "closed"},
    )
    return result.customer


@run_async
async def test_anonymous_visitor_merges_into_the_known_customer_by_email(shop):
    known = await sync_to_async(_known_customer)(shop)
    comm = widget(shop.slug)
    await hello(comm)
    ack = await say(comm, "Hello, question about my account", "m1")
    entry = await sync_to_async(TimelineEntry.objects.get)(pk=ack["id"])
    anonymous_id = entry.author_customer_id
    assert anonymous_id != known.pk

    assert (await leave_email(comm, "ana@example.com"))["type"] == "email_saved"
    # The anonymous customer is gone; the chat's case now belongs to the known one.
    assert not await sync_to_async(Customer.objects.filter(pk=anonymous_id).exists)()
    conv = await sync_to_async(Conversation.objects.get)(pk=entry.conversation_id)
    assert conv.customer_id == known.pk
    chat_ids = await sync_to_async(
        lambda: list(Identity.objects.filter(customer=known, kind="chat").values_list("value"))
    )()
    assert len(chat_ids) == 1
    # The note recording the address is history: it neither reopens nor counts as waiting.
    note = await sync_to_async(
        lambda: TimelineEntry.objects.get(conversation=conv, data__chat_event="email_left")
    )()
    assert note.is_auto_reply
    # The visitor's transcript still shows only their chat, not the customer's old email.
    token = await sync_to_async(lambda: chat.issue_token(ChatVisitor.objects.get(workspace=shop)))()
    await comm.disconnect()
    comm2 = widget(shop.slug)
    welcome = await hello(comm2, token)
    assert [m["text"] for m in welcome["messages"]] == ["Hello, question about my account"]
    await comm2.disconnect()


@run_async
async def test_two_known_customers_are_never_merged_silently(shop):
    await sync_to_async(_known_customer)(shop)
    comm = widget(shop.slug)
    await hello(comm)
    await leave_email(comm, "ben@example.com")
    ack = await say(comm, "Hi, Ben here", "m1")
    entry = await sync_to_async(TimelineEntry.objects.get)(pk=ack["id"])
    ben_id = entry.author_customer_id
    # Now the same browser claims Ana's address: two known people, an agent decides.
    await leave_email(comm, "ana@example.com")
    assert await sync_to_async(Customer.objects.filter(pk=ben_id).exists)()
    assert await sync_to_async(MergeSuggestion.objects.filter(workspace=shop).count)() == 1
    await comm.disconnect()


@run_async
async def test_chat_then_email_from_the_same_address_is_one_conversation(shop):
    comm = widget(shop.slug)
    await hello(comm)
    await leave_email(comm, "ana@example.com")
    ack = await say(comm, "My kettle leaks", "m1")
    await comm.disconnect()
    entry = await sync_to_async(TimelineEntry.objects.get)(pk=ack["id"])

    result = await sync_to_async(_email_in)(
        shop, "ana@example.com", "Here is a photo of the leak.", "<photo-1@mail.example>"
    )
    assert result.conversation.pk == entry.conversation_id
    assert result.customer.pk == entry.author_customer_id
    channels = await sync_to_async(
        lambda: list(
            TimelineEntry.objects.filter(
                conversation_id=entry.conversation_id, kind=EntryKind.CUSTOMER_MESSAGE
            )
            .order_by("id")
            .values_list("channel", flat=True)
        )
    )()
    assert channels == ["chat", "email"]


@pytest.fixture
def sink():
    with Sink() as s:
        yield s


@pytest.fixture
def mailbox(shop, sink):
    return EmailAddress.objects.create(
        workspace=shop,
        address="help@brand.example",
        is_default=True,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_security=Security.PLAIN,
    )


def _reply(workspace, member, conversation_id, text):
    conv = Conversation.objects.get(pk=conversation_id)
    return outbound.send(workspace=workspace, actor=member, conversation=conv, text=text)


@run_async
async def test_no_agent_available_then_the_case_continues_by_email(shop, mailbox, sink):
    comm = widget(shop.slug)
    welcome = await hello(comm)
    assert welcome["agents_available"] is False
    ack = await say(comm, "Nobody here? My order is wrong.", "m1")
    await leave_email(comm, "ana@example.com")
    await comm.disconnect()  # the visitor leaves the site

    agent = await sync_to_async(MemberFactory)(workspace=shop)
    entry = await sync_to_async(TimelineEntry.objects.get)(pk=ack["id"])
    msg = await sync_to_async(_reply)(shop, agent, entry.conversation_id, "Sorry! Fixed.")
    msg = await sync_to_async(OutboundMessage.objects.get)(pk=msg.pk)
    assert msg.channel == "chat" and msg.payload["via"] == "email"
    assert msg.status == OutboundStatus.SENT and msg.recipient == "ana@example.com"
    assert len(sink.received) == 1
    assert sink.received[0].rcpt_tos == ["ana@example.com"]
    assert "Sorry! Fixed." in sink.received[0].message.get_body(("plain",)).get_content()
    reply = await sync_to_async(TimelineEntry.objects.get)(pk=msg.entry_id)
    assert reply.data["delivery"]["via"] == "email"


@run_async
async def test_visitor_still_on_the_page_gets_the_reply_in_the_widget_not_by_email(
    shop, mailbox, sink
):
    comm = widget(shop.slug)
    await hello(comm)
    ack = await say(comm, "Quick question", "m1")
    await leave_email(comm, "ana@example.com")
    agent = await sync_to_async(MemberFactory)(workspace=shop)
    entry = await sync_to_async(TimelineEntry.objects.get)(pk=ack["id"])
    msg = await sync_to_async(_reply)(shop, agent, entry.conversation_id, "Quick answer")
    while True:
        frame = await comm.receive_json_from(timeout=20)
        if frame["type"] == "message" and frame["message"]["author"] == "agent":
            break
    assert frame["message"]["text"] == "Quick answer"
    msg = await sync_to_async(OutboundMessage.objects.get)(pk=msg.pk)
    assert "via" not in msg.payload and sink.received == []
    await comm.disconnect()
