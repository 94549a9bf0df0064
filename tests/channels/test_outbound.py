"""The one outbound path: recorded before it goes out, retried from the record, status shown.

Email goes to a real aiosmtpd server on loopback (tests/channels/email/sink.py).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.channels.email.sink import Sink, free_port
from tests.factories import CustomerFactory, IdentityFactory, MemberFactory
from warmline.channels import outbound
from warmline.channels.email.reply_token import split_reply_address
from warmline.channels.email.tokens import conversation_token, number_from_token
from warmline.channels.models import EmailAddress, OutboundMessage, OutboundStatus, Security
from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.conversations.models import DeliveryStatus, EntryKind, ThreadKey, TimelineEntry


@pytest.fixture
def sink():
    with Sink() as s:
        yield s


@pytest.fixture
def address(workspace, sink):
    return EmailAddress.objects.create(
        workspace=workspace,
        address="help@brand.example",
        from_name="Acme Support",
        signature="Acme Support\nhttps://brand.example/help",
        is_default=True,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_security=Security.PLAIN,
    )


@pytest.fixture
def case(workspace):
    result = conversations.ingest(
        workspace=workspace,
        message=InboundMessage(
            channel="email",
            text="My kettle arrived broken.",
            subject="Broken kettle",
            sender=Sender(email="ana@example.com", name="Ana García"),
            external_id="CAF-ana-1@mail.example.com",
            thread_key="CAF-ana-1@mail.example.com",
        ),
    )
    return result.conversation


def _send(workspace, member, case, text="We are sending a new one today.", **kw):
    return outbound.send(workspace=workspace, actor=member, conversation=case, text=text, **kw)


def test_email_reply_goes_out_with_threading_headers_from_and_signature(
    workspace, member, address, case, sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        msg = _send(workspace, member, case)
    msg.refresh_from_db()
    assert msg.status == OutboundStatus.SENT and msg.attempts == 1
    assert len(sink.received) == 1
    got = sink.received[0]
    assert got.rcpt_tos == ["ana@example.com"]
    email = got.message
    assert email["From"] == "Acme Support <help@brand.example>"
    assert email["To"] == "ana@example.com"
    assert email["Subject"] == "Re: Broken kettle"
    assert email["Message-ID"] == f"<{msg.external_id}>"
    assert email["In-Reply-To"] == "<CAF-ana-1@mail.example.com>"
    assert email["References"] == "<CAF-ana-1@mail.example.com>"
    base, token = split_reply_address(email["Reply-To"])
    assert base == "help@brand.example"
    assert token == conversation_token(workspace.pk, case.number)
    assert number_from_token(workspace.pk, token) == case.number
    body = email.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "We are sending a new one today." in body
    assert "\n-- \nAcme Support\nhttps://brand.example/help" in body
    # The timeline shows the reply as sent; a reply to it threads back by Message-ID.
    entry = TimelineEntry.objects.get(pk=msg.entry_id)
    assert entry.kind == EntryKind.AGENT_REPLY and entry.delivery_status == DeliveryStatus.SENT
    assert ThreadKey.objects.filter(conversation=case, key=msg.external_id).exists()
    # A second reply continues the chain: References holds both earlier messages.
    with django_capture_on_commit_callbacks(execute=True):
        second = _send(workspace, member, case, text="Tracking: NW100.")
    refs = sink.received[1].message["References"].split()
    assert refs == ["<CAF-ana-1@mail.example.com>", f"<{msg.external_id}>"]
    assert second.external_id != msg.external_id


def test_temporary_failure_is_retried_with_backoff_and_sent_once(
    workspace, member, address, case, sink, django_capture_on_commit_callbacks
):
    sink.handler.replies = ["451 4.3.0 Try again later"]
    with django_capture_on_commit_callbacks(execute=True):
        msg = _send(workspace, member, case)
    msg.refresh_from_db()
    assert msg.status == OutboundStatus.QUEUED and msg.attempts == 1
    assert "451" in msg.last_error
    wait = msg.next_attempt_at - timezone.now()
    assert dt.timedelta(seconds=20) < wait <= dt.timedelta(seconds=30)
    entry = TimelineEntry.objects.get(pk=msg.entry_id)
    assert entry.delivery_status == DeliveryStatus.QUEUED
    assert entry.data["delivery"]["attempts"] == 1 and "451" in entry.data["delivery"]["error"]
    # Not due yet: the sweep leaves it alone.
    assert outbound.retry_due() == 0 and sink.received == []
    OutboundMessage.objects.filter(pk=msg.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert outbound.retry_due() == 1
    msg.refresh_from_db()
    assert msg.status == OutboundStatus.SENT and msg.attempts == 2
    assert len(sink.received) == 1
    assert TimelineEntry.objects.get(pk=msg.entry_id).delivery_status == DeliveryStatus.SENT
    # A second sweep, or a stray task for the same row, sends nothing more.
    assert outbound.retry_due() == 0
    assert outbound.attempt(msg.pk) is None
    assert len(sink.received) == 1


def test_backoff_grows_and_is_capped():
    delays = [outbound.backoff(n).total_seconds() for n in range(1, 8)]
    assert delays[:4] == [30, 120, 480, 1920]
    assert delays == sorted(delays) and max(delays) == outbound.BACKOFF_CAP_SECONDS


def test_permanent_refusal_fails_at_once_and_shows_on_timeline(
    workspace, member, address, case, sink, django_capture_on_commit_callbacks
):
    sink.handler.replies = ["550 5.1.1 Mailbox does not exist"]
    with django_capture_on_commit_callbacks(execute=True):
        msg = _send(workspace, member, case)
    msg.refresh_from_db()
    assert msg.status == OutboundStatus.FAILED and msg.attempts == 1 and "550" in msg.last_error
    entry = TimelineEntry.objects.get(pk=msg.entry_id)
    assert entry.delivery_status == DeliveryStatus.FAILED
    assert outbound.retry_due() == 0


def test_gives_up_after_max_attempts(
    workspace, member, address, case, sink, django_capture_on_commit_callbacks
):
    sink.handler.replies = ["421 4.7.0 busy"] * 3
    with django_capture_on_commit_callbacks(execute=True):
        msg = _send(workspace, member, case)
    OutboundMessage.objects.filter(pk=msg.pk).update(max_attempts=3)
    for _ in range(2):
        OutboundMessage.objects.filter(pk=msg.pk).update(next_attempt_at=timezone.now())
        outbound.retry_due()
    msg.refresh_from_db()
    assert (msg.status, msg.attempts) == (OutboundStatus.FAILED, 3)
    assert sink.received == []


def test_unreachable_relay_is_a_temporary_failure(
    workspace, member, case, django_capture_on_commit_callbacks
):
    EmailAddress.objects.create(
        workspace=workspace,
        address="help@brand.example",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),  # nobody listens
        smtp_security=Security.PLAIN,
    )
    with django_capture_on_commit_callbacks(execute=True):
        msg = _send(workspace, member, case)
    msg.refresh_from_db()
    assert msg.status == OutboundStatus.QUEUED and "ConnectionRefused" in msg.last_error


def test_plain_smtp_to_a_remote_relay_is_refused(
    workspace, member, case, django_capture_on_commit_callbacks
):
    EmailAddress.objects.create(
        workspace=workspace,
        address="help@brand.example",
        smtp_host="smtp.brand.example",
        smtp_security=Security.PLAIN,
    )
    with django_capture_on_commit_callbacks(execute=True):
        msg = _send(workspace, member, case)
    msg.refresh_from_db()
    assert msg.status == OutboundStatus.FAILED and "loopback" in msg.last_error


def test_crashed_sender_is_taken_over_after_its_lease(
    workspace, member, address, case, sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the task never ran
        msg = _send(workspace, member, case)
    # A worker claimed it and died mid-send.
    OutboundMessage.objects.filter(pk=msg.pk).update(
        status=OutboundStatus.SENDING, locked_until=timezone.now() + dt.timedelta(minutes=5)
    )
    assert outbound.retry_due() == 0  # still held
    OutboundMessage.objects.filter(pk=msg.pk).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert outbound.retry_due() == 1
    msg.refresh_from_db()
    assert msg.status == OutboundStatus.SENT and len(sink.received) == 1


def test_lost_task_is_found_by_the_sweep(
    workspace, member, address, case, sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        msg = _send(workspace, member, case)
    assert OutboundMessage.objects.get(pk=msg.pk).status == OutboundStatus.QUEUED
    assert outbound.retry_due() == 0  # a fresh row belongs to its task for a minute
    OutboundMessage.objects.filter(pk=msg.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=2)
    )
    assert outbound.retry_due() == 1 and len(sink.received) == 1


def test_idempotency_key_returns_the_first_send(
    workspace, member, address, case, sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = _send(workspace, member, case, idempotency_key="playbook:42:ana")
        again = _send(workspace, member, case, idempotency_key="playbook:42:ana")
    assert first.pk == again.pk
    assert OutboundMessage.objects.filter(workspace=workspace).count() == 1
    assert TimelineEntry.objects.filter(conversation=case, kind=EntryKind.AGENT_REPLY).count() == 1
    assert len(sink.received) == 1


def test_unreachable_customer_is_recorded_as_failed_not_lost(
    workspace, member, case, django_capture_on_commit_callbacks
):
    # No address configured for the workspace: the agent's words are kept and marked failed.
    with django_capture_on_commit_callbacks(execute=True):
        msg = _send(workspace, member, case)
    msg.refresh_from_db()
    assert msg.status == OutboundStatus.FAILED and "no email address" in msg.last_error
    entry = TimelineEntry.objects.get(pk=msg.entry_id)
    assert entry.text == "We are sending a new one today."
    assert entry.delivery_status == DeliveryStatus.FAILED
    assert "no email address" in entry.data["delivery"]["error"]


def test_channel_without_adapter_is_failed_and_unknown_channel_refused(
    workspace, member, case, django_capture_on_commit_callbacks
):
    from warmline.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        _send(workspace, member, case, channel="pigeon")
    assert caught.value.field == "channel"
    with pytest.raises(InvalidInput) as caught:
        _send(workspace, member, case, text="   ")
    assert caught.value.field == "text"
    outbound._ADAPTERS.pop("voice", None)
    msg = _send(workspace, member, case, channel="voice")
    assert msg.status == OutboundStatus.FAILED and "no adapter" in msg.last_error


def test_writing_first_opens_a_pending_case(
    workspace, member, address, sink, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(workspace=workspace, name="Bea")
    IdentityFactory(customer=customer, value="bea@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        msg = outbound.send(
            workspace=workspace,
            actor=member,
            customer=customer,
            channel="email",
            subject="Your subscription renews soon",
            text="Hello Bea, a reminder…",
        )
    conv = msg.conversation
    assert conv.customer_id == customer.pk and conv.status == "pending"
    assert conv.subject == "Your subscription renews soon"
    email = sink.received[0].message
    assert email["Subject"] == "Your subscription renews soon" and email["In-Reply-To"] is None


def test_other_workspace_conversation_is_refused(workspace, other_workspace, member, case, address):
    from warmline.errors import InvalidInput

    with pytest.raises(InvalidInput):
        outbound.send(workspace=other_workspace, actor=None, conversation=case, text="hi")


def test_status_callbacks_only_move_forward(
    workspace, member, address, case, sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        msg = _send(workspace, member, case)
    ext = msg.external_id
    rec = outbound.record_delivery_status
    rec(workspace=workspace, channel="email", external_id=ext, status="delivered")
    rec(workspace=workspace, channel="email", external_id=ext, status="sent")  # late, ignored
    msg.refresh_from_db()
    assert msg.status == "delivered"
    assert TimelineEntry.objects.get(pk=msg.entry_id).delivery_status == "delivered"
    rec(workspace=workspace, channel="email", external_id=ext, status="failed")
    assert TimelineEntry.objects.get(pk=msg.entry_id).delivery_status == "failed"
    assert rec(workspace=workspace, channel="email", external_id="nope", status="sent") is None


def test_agent_reply_in_the_web_ui_goes_through_send(
    client, workspace, address, case, sink, django_capture_on_commit_callbacks
):
    agent = MemberFactory(workspace=workspace, role="agent")
    client.force_login(agent.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("web:reply", args=[case.number]), {"text": "Sorted, Ana!", "channel": "email"}
        )
    assert response.status_code in (200, 302)
    msg = OutboundMessage.objects.get(workspace=workspace)
    assert msg.actor_id == agent.pk and msg.status == OutboundStatus.SENT
    assert "Sorted, Ana!" in sink.received[0].message.get_body(("plain",)).get_content()
    page = client.get(reverse("web:conversation", args=[case.number])).content.decode()
    assert 'class="delivery">Sent<' in page


def test_failed_delivery_shows_its_reason_in_the_timeline(
    client, workspace, case, django_capture_on_commit_callbacks
):
    agent = MemberFactory(workspace=workspace, role="agent")
    client.force_login(agent.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("web:reply", args=[case.number]), {"text": "Hi", "channel": "email"})
    page = client.get(reverse("web:conversation", args=[case.number])).content.decode()
    assert 'title="This workspace has no email address to send from.">Failed<' in page


def test_reply_leaves_from_the_address_written_to_and_honours_reply_to(
    workspace, member, address, sink, settings, tmp_path, django_capture_on_commit_callbacks
):
    from warmline.channels.email import services as email

    settings.MEDIA_ROOT = tmp_path
    email.add_email_address(
        workspace=workspace, actor=None, address="sales@brand.example", from_name="Acme Sales",
        smtp_host="127.0.0.1", smtp_port=sink.port, smtp_security="plain",
    )  # fmt: skip
    [o] = email.receive(
        b"From: Ana <ana@example.com>\r\nReply-To: Ana Home <ana.home@example.org>\r\n"
        b"To: sales@brand.example\r\nSubject: Bulk order\r\nMessage-ID: <bulk-1@example.com>\r\n"
        b"\r\nPrice for 40 units?\r\n",
        recipients=["sales@brand.example"],
    ).outcomes
    conv = conversations.get_conversation(workspace=workspace, conversation_id=o.conversation_id)
    with django_capture_on_commit_callbacks(execute=True):
        _send(workspace, member, conv, text="40 units: 10% off.")
    got = sink.received[-1]
    assert got.rcpt_tos == ["ana.home@example.org"]
    assert got.message["From"] == "Acme Sales <sales@brand.example>"
    assert split_reply_address(got.message["Reply-To"])[0] == "sales@brand.example"
    assert got.message["In-Reply-To"] == "<bulk-1@example.com>"


def test_machine_written_mail_says_so(
    workspace, member, address, case, sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _send(workspace, member, case, text="Human here.")
        outbound.send(workspace=workspace, actor=None, conversation=case, text="Reminder")
        outbound.send(
            workspace=workspace, actor=None, conversation=case, text="Bot", kind="assistant_reply"
        )
    headers = [m.message["Auto-Submitted"] for m in sink.received]
    assert headers == [None, "auto-generated", "auto-replied"]
