"""Taking mail in: every corpus message reaches its expected end (a case, a record, quarantine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from tests.factories import WorkspaceFactory
from warmline.channels.email import services
from warmline.channels.email.tokens import conversation_token
from warmline.channels.models import QuarantinedEmail, QuarantineStatus
from warmline.conversations.models import Conversation, EntryKind, TimelineEntry
from warmline.customers.models import Identity

CORPUS = Path(__file__).parent / "corpus"

# What each corpus message becomes when mailed to help@brand.example.
# status: ingested (a customer message) | quarantined; auto: recorded as automatic mail.
OUTCOMES: dict[str, dict] = {
    "01-outlook-reply.eml": {"status": "ingested"},
    "02-gmail-reply.eml": {"status": "ingested"},
    "03-apple-mail-reply.eml": {"status": "ingested"},
    "04-html-only.eml": {"status": "ingested", "text_contains": "40 units of the Model X"},
    "05-html-only-reply.eml": {"status": "ingested"},
    "06-iso-8859-1-spanish.eml": {"status": "ingested"},
    "07-windows-1252-outlook-es.eml": {"status": "ingested"},
    "08-forwarded.eml": {"status": "ingested"},
    "09-out-of-office.eml": {"status": "ingested", "auto": True},
    "10-spanish-autoreply.eml": {"status": "ingested", "auto": True},
    "11-ticket-acknowledgement.eml": {"status": "ingested", "auto": True},
    "12-bounce.eml": {"status": "ingested", "auto": True},  # not a bounce of ours: recorded
    "13-mailing-list.eml": {"status": "ingested", "auto": True},
    "14-inline-image-and-attachments.eml": {"status": "ingested", "attachments": 3, "rejected": 1},
    "15-malformed-boundary.eml": {"status": "ingested"},
    "16-malformed-no-from.eml": {"status": "quarantined", "reason": "unparseable"},
    "17-xss-html.eml": {"status": "ingested", "html_not_contains": "<script"},
    "18-reply-token-only.eml": {"status": "ingested"},
    "19-encoded-words.eml": {"status": "ingested"},
    "20-shift-jis.eml": {"status": "ingested"},
    "21-missing-charset.eml": {"status": "ingested"},
    "22-wrong-charset.eml": {"status": "ingested"},
    "23-forward-as-attachment.eml": {"status": "ingested", "attachments": 1},
    "24-interleaved-reply.eml": {"status": "ingested"},
    "25-huge-attachment.eml": {"status": "ingested", "attachments": 1, "rejected": 1},
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def help_address(workspace):
    workspace.settings = {"email": {"max_attachment_bytes": 512 * 1024}}
    workspace.save()
    return services.add_email_address(
        workspace=workspace, actor=None, address="Help@Brand.example", from_name="Acme"
    )


def test_every_corpus_message_has_an_outcome():
    assert set(OUTCOMES) == {p.name for p in CORPUS.glob("*.eml")}


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_corpus_message_reaches_its_outcome(name, workspace, help_address):
    want = OUTCOMES[name]
    raw = (CORPUS / name).read_bytes()
    received = services.receive(raw, recipients=["help@brand.example"], envelope_from="x@y.z")
    [outcome] = received.outcomes
    assert outcome.status == want["status"], outcome
    if want["status"] == "quarantined":
        q = QuarantinedEmail.objects.get(pk=outcome.quarantine_id)
        assert q.reason == want["reason"] and q.workspace_id == workspace.pk
        assert q.eml.read() == raw  # the original bytes, untouched
        assert TimelineEntry.objects.filter(workspace=workspace).count() == 0
        return
    entry = TimelineEntry.objects.get(pk=outcome.entry_id)
    assert entry.workspace_id == workspace.pk and entry.channel == "email"
    assert entry.kind == EntryKind.CUSTOMER_MESSAGE
    assert entry.is_auto_reply is want.get("auto", False)
    if "text_contains" in want:
        assert want["text_contains"] in entry.text
    if "html_not_contains" in want:
        assert want["html_not_contains"] not in entry.html.lower()
    assert len(entry.attachments) == want.get("attachments", 0)
    for att in entry.attachments:
        with default_storage.open(att["path"], "rb") as fh:
            assert len(fh.read()) == att["size"]
    assert len(entry.data["email"]["rejected_attachments"]) == want.get("rejected", 0)
    # Delivered again (a retrying MTA, an IMAP re-fetch): the same entry, nothing new.
    again = services.receive(raw, recipients=["help@brand.example"])
    assert again.outcomes[0].status == "duplicate"
    assert again.outcomes[0].entry_id == entry.pk
    assert TimelineEntry.objects.filter(workspace=workspace, kind="customer_message").count() == 1


def test_reply_keeps_new_text_and_the_original(workspace, help_address):
    raw = (CORPUS / "01-outlook-reply.eml").read_bytes()
    outcome = services.receive(raw, recipients=["help@brand.example"]).outcomes[0]
    entry = TimelineEntry.objects.get(pk=outcome.entry_id)
    assert entry.text.startswith("Hi Laura,") and "Original Message" not in entry.text
    assert "-----Original Message-----" in entry.data["email"]["original_text"]
    assert entry.data["email"]["quoted_text"].startswith("-----Original Message-----")


def test_automatic_mail_never_reopens_a_resolved_case(workspace, help_address):
    from warmline.conversations import services as conversations

    first = services.receive(
        b"From: Greta <greta.lindqvist@nordic.example>\r\nTo: help@brand.example\r\n"
        b"Subject: Wrong size\r\nMessage-ID: <case-2207-update@brand.example>\r\n\r\nHelp!\r\n",
        recipients=["help@brand.example"],
    ).outcomes[0]
    conv = Conversation.objects.get(pk=first.conversation_id)
    conversations.update_conversation(
        workspace=workspace, actor=None, conversation=conv, changes={"status": "resolved"}
    )
    ooo = services.receive(
        (CORPUS / "09-out-of-office.eml").read_bytes(), recipients=["help@brand.example"]
    ).outcomes[0]
    conv.refresh_from_db()
    assert ooo.conversation_id == conv.pk and conv.status == "resolved"


def test_reply_token_threads_mail_without_headers(workspace, help_address):
    first = services.receive(
        b"From: Ana <ana@example.com>\r\nTo: help@brand.example\r\nSubject: Refund\r\n"
        b"Message-ID: <a1@example.com>\r\n\r\nWhere is my refund?\r\n",
        recipients=["help@brand.example"],
    ).outcomes[0]
    conv = Conversation.objects.get(pk=first.conversation_id)
    token = conversation_token(workspace.pk, conv.number)
    # From another address of hers, no In-Reply-To: the token alone finds the case.
    later = services.receive(
        b"From: Ana <ana.work@example.org>\r\nTo: help+r-" + token.encode() + b"@brand.example\r\n"
        b"Subject: still waiting\r\nMessage-ID: <a2@example.org>\r\n\r\nAny news?\r\n",
        recipients=[f"help+r-{token}@brand.example"],
    ).outcomes[0]
    assert later.conversation_id == conv.pk
    # A forged token threads nothing.
    forged = services.receive(
        b"From: Eve <eve@example.net>\r\nTo: help+r-c1-aaaaaaaa@brand.example\r\n"
        b"Subject: hi\r\nMessage-ID: <e1@example.net>\r\n\r\nLet me in\r\n",
        recipients=["help+r-c1-aaaaaaaa@brand.example"],
    ).outcomes[0]
    assert forged.status == "ingested" and forged.conversation_id != conv.pk


def test_mail_routes_by_recipient_to_each_workspace(workspace, help_address):
    other = WorkspaceFactory(slug="globex")
    services.add_email_address(workspace=other, actor=None, address="care@globex.example")
    raw = (
        b"From: Sam <sam@example.com>\r\nTo: help@brand.example, care@globex.example\r\n"
        b"Subject: Both brands\r\nMessage-ID: <both@example.com>\r\n\r\nHello both\r\n"
    )
    received = services.receive(raw, recipients=["help@brand.example", "care@globex.example"])
    assert sorted(o.workspace_id for o in received.outcomes) == sorted([workspace.pk, other.pk])
    for ws in (workspace, other):
        assert Identity.objects.filter(workspace=ws, value="sam@example.com").count() == 1


def test_unroutable_mail_is_quarantined_and_reprocessed_once_routable(workspace):
    raw = (
        b"From: Sam <sam@example.com>\r\nTo: sales@brand.example\r\n"
        b"Subject: Quote\r\nMessage-ID: <q1@example.com>\r\n\r\nA quote please\r\n"
    )
    [outcome] = services.receive(raw, recipients=["sales@brand.example"]).outcomes
    q = QuarantinedEmail.objects.get(pk=outcome.quarantine_id)
    assert (q.reason, q.workspace_id, q.status) == ("unroutable", None, QuarantineStatus.HELD)
    assert q.envelope_to == ["sales@brand.example"] and q.subject == "Quote"
    # Re-processing before anything changed: still held, one row, attempts counted.
    services.reprocess(item=q)
    q.refresh_from_db()
    assert (q.status, q.attempts) == (QuarantineStatus.HELD, 1)
    assert QuarantinedEmail.objects.count() == 1
    # The workspace adds the address; re-processing takes the mail in.
    services.add_email_address(workspace=workspace, actor=None, address="sales@brand.example")
    result = services.reprocess(item=q)
    q.refresh_from_db()
    assert result.outcomes[0].status == "ingested"
    assert q.status == QuarantineStatus.REPROCESSED and q.workspace_id == workspace.pk
    assert TimelineEntry.objects.get(pk=q.entry_id).text == "A quote please"


def test_same_broken_bytes_are_quarantined_once(workspace, help_address):
    raw = (CORPUS / "16-malformed-no-from.eml").read_bytes()
    a = services.receive(raw, recipients=["help@brand.example"]).outcomes[0]
    b = services.receive(raw, recipients=["help@brand.example"]).outcomes[0]
    assert a.quarantine_id == b.quarantine_id
    assert QuarantinedEmail.objects.count() == 1


def test_empty_mail_is_quarantined_with_the_field(workspace, help_address):
    raw = b"From: a@example.com\r\nTo: help@brand.example\r\nSubject: \r\n\r\n   \r\n"
    [o] = services.receive(raw, recipients=["help@brand.example"]).outcomes
    q = QuarantinedEmail.objects.get(pk=o.quarantine_id)
    assert q.reason == "rejected" and q.detail.startswith("text:")


def test_add_email_address_validates_and_refuses_another_workspaces_address(
    workspace, help_address
):
    from warmline.errors import InvalidInput

    other = WorkspaceFactory(slug="globex")
    for bad in ("not-an-address", "help+r-abc@brand.example", ""):
        with pytest.raises(InvalidInput) as caught:
            services.add_email_address(workspace=workspace, actor=None, address=bad)
        assert caught.value.field == "address"
    with pytest.raises(InvalidInput) as caught:
        services.add_email_address(workspace=other, actor=None, address="help@brand.example")
    assert caught.value.field == "address"
    with pytest.raises(InvalidInput) as caught:
        services.add_email_address(
            workspace=workspace, actor=None, address="x@brand.example",
            smtp_host="smtp.brand.example", smtp_security="plain",
        )  # fmt: skip
    assert caught.value.field == "smtp_security"
    assert help_address.address == "help@brand.example" and help_address.is_default


def test_bounce_of_our_reply_marks_it_failed_without_a_new_customer(
    workspace, member, help_address, django_capture_on_commit_callbacks
):
    from warmline.channels import outbound
    from warmline.channels.models import OutboundMessage

    first = services.receive(
        b"From: Ana <ana@example.com>\r\nTo: help@brand.example\r\nSubject: Refund\r\n"
        b"Message-ID: <a1@example.com>\r\n\r\nWhere is my refund?\r\n",
        recipients=["help@brand.example"],
    ).outcomes[0]
    conv = Conversation.objects.get(pk=first.conversation_id)
    with django_capture_on_commit_callbacks(execute=False):  # not delivered: we only need the id
        sent = outbound.send(workspace=workspace, actor=member, conversation=conv, text="Done")
    OutboundMessage.objects.filter(pk=sent.pk).update(status="sent")
    bounce = (CORPUS / "12-bounce.eml").read_bytes()
    original = services.parse_email(bounce).bounce.original_message_id
    bounce = bounce.replace(original.encode(), sent.external_id.encode())
    [o] = services.receive(bounce, recipients=["help@brand.example"]).outcomes
    assert o.status == "bounce" and o.conversation_id == conv.pk
    sent.refresh_from_db()
    assert sent.status == "failed"
    assert TimelineEntry.objects.get(pk=sent.entry_id).delivery_status == "failed"
    assert not Identity.objects.filter(workspace=workspace, value__startswith="mailer-daemon")


def test_chat_then_email_from_the_same_address_is_one_conversation(workspace, help_address):
    from warmline.conversations import services as conversations
    from warmline.conversations.inbound import InboundMessage, Sender

    chat = conversations.ingest(
        workspace=workspace,
        message=InboundMessage(
            channel="chat",
            text="Hi, where is my order NW100?",
            sender=Sender(chat_visitor="visitor-1", email="ana@example.com", name="Ana"),
        ),
    )
    [o] = services.receive(
        b"From: Ana <Ana@Example.com>\r\nTo: help@brand.example\r\nSubject: My order\r\n"
        b"Message-ID: <later@example.com>\r\n\r\nFollowing up by email as promised.\r\n",
        recipients=["help@brand.example"],
    ).outcomes
    assert o.status == "ingested" and o.conversation_id == chat.conversation.pk
    conv = Conversation.objects.get(pk=o.conversation_id)
    assert conv.channel == "chat" and conv.last_channel == "email"
