"""The widget's websocket, end to end through the ASGI application (Channels' communicator).

Real parts: the project's ASGI router, the in-memory channel layer, the
database, ``ingest`` and the one ``send()`` path.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.core import signing

from tests.factories import MemberFactory, WorkspaceFactory
from warmline.channels import outbound
from warmline.channels.chat import services as chat
from warmline.channels.chat.models import ChatVisitor
from warmline.channels.models import OutboundMessage, OutboundStatus
from warmline.conversations.models import DeliveryStatus, EntryKind, TimelineEntry
from warmline.customers.models import Identity

from .conftest import SHOP, hello, run_async, say, widget

pytestmark = pytest.mark.django_db(transaction=True)


async def refused_with(comm) -> int | None:
    """The close code of a refused widget socket (accepted, then closed at once)."""
    connected, code = await comm.connect()
    if not connected:
        return code
    out = await comm.receive_output(timeout=20)
    assert out["type"] == "websocket.close", out
    return out.get("code")


async def next_frame(comm, kind: str, **match) -> dict:
    """The next frame of ``kind`` whose message matches (other frames are skipped)."""
    while True:
        frame = await comm.receive_json_from(timeout=20)
        if frame["type"] != kind:
            continue
        msg = frame.get("message", {})
        if all(msg.get(k) == v for k, v in match.items()):
            return frame


# --- Origin and workspace checks -------------------------------------------------------


@run_async
async def test_socket_from_a_site_the_workspace_did_not_allow_is_refused(shop):
    assert await refused_with(widget(shop.slug, origin="https://evil.example")) == 4403
    assert await refused_with(widget(shop.slug, origin=None)) == 4403


@run_async
async def test_allowed_site_and_wildcard_pattern_and_own_host_connect(shop):
    await sync_to_async(_set_origins)(shop, [SHOP, "https://*.brand.example"])
    for origin in (SHOP, "https://eu.brand.example", "http://testserver"):
        comm = widget(shop.slug, origin=origin)
        assert (await hello(comm))["type"] == "welcome", origin
        await comm.disconnect()
    assert await refused_with(widget(shop.slug, origin="https://brand.example.evil.com")) == 4403


def _set_origins(ws, origins):
    ws.settings = {"chat": {"allowed_origins": origins}}
    ws.save(update_fields=["settings"])


@run_async
async def test_unknown_workspace_is_refused(shop):
    assert await refused_with(widget("no-such-brand")) == 4404


# --- Messages in -----------------------------------------------------------------------


@run_async
async def test_visitor_message_is_ingested_and_acknowledged_after_commit(shop):
    comm = widget(shop.slug)
    welcome = await hello(comm)
    assert welcome["messages"] == [] and welcome["token"]
    ack = await say(comm, "Hi, where is my order?", "c1")
    assert ack["type"] == "ack" and ack["client_id"] == "c1"
    entry = await sync_to_async(
        lambda: TimelineEntry.objects.select_related("conversation").get(pk=ack["id"])
    )()
    assert entry.kind == EntryKind.CUSTOMER_MESSAGE and entry.channel == "chat"
    assert entry.text == "Hi, where is my order?"
    assert entry.conversation.channel == "chat"
    visitor = await sync_to_async(ChatVisitor.objects.get)(workspace=shop)
    assert visitor.conversation_id == entry.conversation_id and visitor.open_sockets == 1
    ident = await sync_to_async(Identity.objects.get)(workspace=shop, kind="chat")
    assert ident.value == visitor.key and ident.customer_id == entry.author_customer_id
    await comm.disconnect()
    visitor = await sync_to_async(ChatVisitor.objects.get)(pk=visitor.pk)
    assert visitor.open_sockets == 0


@run_async
async def test_transcript_survives_reconnect_with_token_and_resend_is_not_duplicated(shop):
    comm = widget(shop.slug)
    welcome = await hello(comm)
    token = welcome["token"]
    assert (await say(comm, "First question", "a1"))["type"] == "ack"
    await comm.disconnect()

    # A new page load: the same token brings the transcript back.
    again = widget(shop.slug)
    welcome2 = await hello(again, token)
    assert [m["text"] for m in welcome2["messages"]] == ["First question"]
    assert welcome2["messages"][0]["author"] == "visitor"
    # The widget resends a message whose ack it never saw: same client id, no copy.
    first = await say(again, "First question", "a1")
    assert first["type"] == "ack" and first["id"] == welcome2["messages"][0]["id"]
    count = await sync_to_async(
        TimelineEntry.objects.filter(workspace=shop, kind=EntryKind.CUSTOMER_MESSAGE).count
    )()
    assert count == 1
    await again.disconnect()


@run_async
async def test_forged_or_other_brand_token_starts_a_new_visitor(shop):
    comm = widget(shop.slug)
    welcome = await hello(comm)
    await say(comm, "Private question", "p1")
    await comm.disconnect()

    forged = welcome["token"][:-2] + ("AA" if welcome["token"][-2:] != "AA" else "BB")
    comm2 = widget(shop.slug)
    w2 = await hello(comm2, forged)
    assert w2["messages"] == [] and w2["token"] != welcome["token"]
    await comm2.disconnect()

    other = await sync_to_async(WorkspaceFactory)(
        slug="other", settings={"chat": {"allowed_origins": [SHOP]}}
    )
    comm3 = widget(other.slug)
    w3 = await hello(comm3, welcome["token"])
    assert w3["messages"] == []
    data = signing.loads(w3["token"], salt=chat.TOKEN_SALT)
    assert data["w"] == other.pk
    await comm3.disconnect()


@run_async
async def test_per_visitor_rate_limit_across_sockets(shop, settings):
    settings.WARMLINE_CHAT_RATE = (3, 60)
    comm = widget(shop.slug)
    welcome = await hello(comm)
    for i in range(3):
        assert (await say(comm, f"message {i}", f"r{i}"))["type"] == "ack"
    # A second tab of the same visitor shares the budget.
    tab = widget(shop.slug)
    await hello(tab, welcome["token"])
    refused = await say(tab, "one too many", "r3")
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    assert refused["client_id"] == "r3"
    await comm.disconnect()
    await tab.disconnect()


@run_async
async def test_message_size_limits(shop, settings):
    settings.WARMLINE_CHAT_MAX_CHARS = 50
    comm = widget(shop.slug)
    welcome = await hello(comm)
    assert welcome["max_chars"] == 50
    too_long = await say(comm, "x" * 51, "big1")
    assert too_long["type"] == "error" and too_long["field"] == "text"
    await comm.send_to(text_data="y" * 40_000)  # an oversized frame is not even parsed
    frame = await comm.receive_json_from(timeout=20)
    assert frame["type"] == "error" and frame["code"] == "too_long"
    empty = await say(comm, "   ", "e1")
    assert empty["type"] == "error" and empty["field"] == "text"
    bad_id = await say(comm, "hello", "<script>")
    assert bad_id["type"] == "error" and bad_id["field"] == "client_id"
    count = await sync_to_async(TimelineEntry.objects.filter(workspace=shop).count)()
    assert count == 0
    await comm.disconnect()


@run_async
async def test_frames_before_hello_and_garbage_are_answered_with_errors(shop):
    comm = widget(shop.slug)
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "message", "text": "hi", "client_id": "x"})
    assert (await comm.receive_json_from(timeout=20))["type"] == "error"
    await comm.send_to(text_data="not json")
    assert (await comm.receive_json_from(timeout=20))["type"] == "error"
    await comm.disconnect()


# --- Availability ------------------------------------------------------------------------


@run_async
async def test_welcome_says_whether_an_agent_is_available(shop):
    comm = widget(shop.slug)
    assert (await hello(comm))["agents_available"] is False
    await comm.disconnect()
    await sync_to_async(MemberFactory)(workspace=shop, availability="online", channels=["email"])
    comm = widget(shop.slug)
    assert (await hello(comm))["agents_available"] is False  # online, but not on chat
    await comm.disconnect()
    await sync_to_async(MemberFactory)(workspace=shop, availability="online", channels=[])
    comm = widget(shop.slug)
    assert (await hello(comm))["agents_available"] is True
    await comm.disconnect()


# --- Replies out ---------------------------------------------------------------------------


def _reply(workspace, member, conversation_id, text):
    from warmline.conversations.models import Conversation

    conv = Conversation.objects.get(pk=conversation_id)
    return outbound.send(workspace=workspace, actor=member, conversation=conv, text=text)


@run_async
async def test_agent_reply_through_send_arrives_live_and_seen_marks_it_read(shop):
    agent = await sync_to_async(MemberFactory)(workspace=shop, display_name="Ana Agent")
    comm = widget(shop.slug)
    await hello(comm)
    ack = await say(comm, "Is anyone there?", "q1")
    entry = await sync_to_async(TimelineEntry.objects.get)(pk=ack["id"])

    msg = await sync_to_async(_reply)(shop, agent, entry.conversation_id, "Yes, Ana here.")
    frame = await next_frame(comm, "message", author="agent")
    assert frame["message"]["text"] == "Yes, Ana here." and frame["message"]["name"] == "Ana"
    assert frame["message"]["id"] == msg.entry_id

    msg = await sync_to_async(OutboundMessage.objects.get)(pk=msg.pk)
    assert msg.channel == "chat" and msg.status == OutboundStatus.SENT
    assert msg.external_id == f"chat-reply:{msg.entry_id}"
    await comm.send_json_to({"type": "seen", "id": msg.entry_id})
    await comm.send_json_to({"type": "ping"})
    await next_frame(comm, "pong")
    reply = await sync_to_async(TimelineEntry.objects.get)(pk=msg.entry_id)
    assert reply.delivery_status == DeliveryStatus.READ

    # The reply is part of the transcript on the next page load.
    await comm.disconnect()
    comm2 = widget(shop.slug)
    token = await sync_to_async(_token_of)(shop)
    welcome = await hello(comm2, token)
    assert [(m["author"], m["text"]) for m in welcome["messages"]] == [
        ("visitor", "Is anyone there?"),
        ("agent", "Yes, Ana here."),
    ]
    await comm2.disconnect()


def _token_of(ws):
    return chat.issue_token(ChatVisitor.objects.get(workspace=ws))


@run_async
async def test_a_second_tab_sees_the_visitors_own_message(shop):
    comm = widget(shop.slug)
    welcome = await hello(comm)
    tab = widget(shop.slug)
    await hello(tab, welcome["token"])
    await say(comm, "Typed in tab one", "t1")
    frame = await next_frame(tab, "message", client_id="t1")
    assert frame["message"]["author"] == "visitor"
    await comm.disconnect()
    await tab.disconnect()


@run_async
async def test_reply_to_a_conversation_without_chat_visitor_fails_visibly(shop):
    from warmline.conversations import services as conversations
    from warmline.conversations.inbound import InboundMessage, Sender

    agent = await sync_to_async(MemberFactory)(workspace=shop)
    result = await sync_to_async(conversations.ingest)(
        workspace=shop,
        message=InboundMessage(channel="api", text="hello", sender=Sender(external_id="u-1")),
    )
    msg = await sync_to_async(outbound.send)(
        workspace=shop,
        actor=agent,
        conversation=result.conversation,
        text="hi",
        channel="chat",
    )
    assert msg.status == OutboundStatus.FAILED and "Nobody is chatting" in msg.last_error


@run_async
async def test_a_server_failure_is_reported_and_the_resend_is_stored_once(shop, monkeypatch):
    from warmline.conversations import services as conversations

    real = conversations.ingest
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(conversations, "ingest", flaky)
    comm = widget(shop.slug)
    await hello(comm)
    failed = await say(comm, "Are you there?", "s1")
    assert failed["type"] == "error" and failed["code"] == "server_error"
    assert failed["client_id"] == "s1"
    # The socket survives and the widget's resend (same id) is stored once.
    ok = await say(comm, "Are you there?", "s1")
    assert ok["type"] == "ack"
    again = await say(comm, "Are you there?", "s1")
    assert again["type"] == "ack" and again["id"] == ok["id"]
    count = await sync_to_async(TimelineEntry.objects.filter(workspace=shop).count)()
    assert count == 1
    await comm.disconnect()


@run_async
async def test_new_visitors_per_client_address_are_limited(shop, settings):
    settings.WARMLINE_CHAT_NEW_VISITORS = (2, 3600)
    tokens = []
    for _ in range(2):
        comm = widget(shop.slug)
        tokens.append((await hello(comm))["token"])
        await comm.disconnect()
    comm = widget(shop.slug)
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "token": None})
    refused = await comm.receive_json_from(timeout=20)
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    out = await comm.receive_output(timeout=20)
    assert out["type"] == "websocket.close" and out["code"] == 4429
    # Returning visitors (a valid token) are not new: they always get in.
    comm = widget(shop.slug)
    assert (await hello(comm, tokens[0]))["type"] == "welcome"
    await comm.disconnect()
    count = await sync_to_async(ChatVisitor.objects.filter(workspace=shop).count)()
    assert count == 2
