import datetime as dt

import pytest
from django.utils import timezone

from warmline.conversations import ingest_batch, services
from warmline.conversations.inbound import InboundMessage, Sender, ThreadHints
from warmline.conversations.models import Conversation, EntryKind, Status, TimelineEntry
from warmline.customers.models import Customer
from warmline.errors import InvalidInput

from ..factories import ConversationFactory

NOW = timezone.now().replace(microsecond=0)


def msg(text="Hello", *, at=None, channel="email", ext=None, **sender):
    sender = sender or {"email": "ana@example.com"}
    return InboundMessage(
        channel=channel, text=text, sender=Sender(**sender), external_id=ext, sent_at=at or NOW
    )


def test_first_message_opens_a_numbered_conversation(workspace):
    r = services.ingest(workspace=workspace, message=msg("My parcel never arrived", ext="m1"))
    assert r.created and r.new_conversation
    conv = r.conversation
    assert conv.number == 1 and conv.status == Status.OPEN and conv.channel == "email"
    assert conv.subject == "My parcel never arrived"
    assert conv.waiting_since == NOW and conv.message_count == 1
    r2 = services.ingest(workspace=workspace, message=msg("Other person", email="bo@example.com"))
    assert r2.conversation.number == 2


def test_chat_then_email_from_the_same_person_is_one_conversation(workspace):
    chat = services.ingest(
        workspace=workspace,
        message=msg(
            "Hi, my order is late", channel="chat", chat_visitor="v-1", email="ana@example.com"
        ),
    )
    email = services.ingest(
        workspace=workspace, message=msg("Following up by email", at=NOW + dt.timedelta(hours=2))
    )
    assert email.conversation.pk == chat.conversation.pk
    conv = Conversation.objects.get(pk=chat.conversation.pk)
    assert conv.message_count == 2 and conv.last_channel == "email" and conv.channel == "chat"


def test_explicit_thread_hint_wins_over_recency(workspace):
    a = services.ingest(
        workspace=workspace, message=msg("first case", at=NOW - dt.timedelta(hours=3))
    )
    # A more recent case of the same customer, which recency alone would pick.
    b = ConversationFactory(
        customer=a.customer,
        number=99,
        opened_at=NOW - dt.timedelta(hours=1),
        last_activity_at=NOW - dt.timedelta(hours=1),
    )
    assert (
        services.ingest(workspace=workspace, message=msg("plain", at=NOW)).conversation.pk == b.pk
    )
    hinted = InboundMessage(
        channel="email",
        text="about the first",
        sender=Sender(email="ana@example.com"),
        thread=ThreadHints(conversation_id=a.conversation.pk),
        sent_at=NOW,
    )
    assert services.ingest(workspace=workspace, message=hinted).conversation.pk == a.conversation.pk


def test_thread_keys_link_email_replies(workspace):
    first = InboundMessage(
        channel="email",
        text="Invoice question",
        sender=Sender(email="ana@example.com"),
        external_id="<a1@mail.example>",
        thread_key="<a1@mail.example>",
        sent_at=NOW - dt.timedelta(days=30),
    )
    r1 = services.ingest(workspace=workspace, message=first)
    # Another person on the thread (a colleague CC'd) replies with References only.
    reply = InboundMessage(
        channel="email",
        text="Adding my colleague",
        sender=Sender(email="boss@example.com"),
        thread=ThreadHints(keys=["<a1@mail.example>"]),
        sent_at=NOW - dt.timedelta(days=29),
    )
    assert services.ingest(workspace=workspace, message=reply).conversation.pk == r1.conversation.pk


def test_reply_to_resolved_case_within_window_reopens_it(workspace):
    r = services.ingest(workspace=workspace, message=msg("broken", at=NOW - dt.timedelta(days=3)))
    services.update_conversation(
        workspace=workspace,
        actor=None,
        conversation=r.conversation,
        changes={"status": "resolved"},
        at=NOW - dt.timedelta(days=2),
    )
    again = services.ingest(workspace=workspace, message=msg("still broken"))
    conv = Conversation.objects.get(pk=r.conversation.pk)
    assert again.conversation.pk == conv.pk and again.reopened
    assert conv.status == Status.OPEN and conv.reopen_count == 1 and conv.resolved_at is None
    assert (
        TimelineEntry.objects.filter(conversation=conv, kind=EntryKind.STATUS_CHANGE).count() == 2
    )


def test_reply_after_the_window_opens_a_new_case(workspace):
    workspace.reopen_window_days = 7
    workspace.save()
    old = services.ingest(workspace=workspace, message=msg("old", at=NOW - dt.timedelta(days=20)))
    Conversation.objects.filter(pk=old.conversation.pk).update(
        status=Status.RESOLVED, resolved_at=NOW - dt.timedelta(days=8)
    )
    new = services.ingest(workspace=workspace, message=msg("new problem"))
    assert new.new_conversation and new.conversation.pk != old.conversation.pk
    assert Conversation.objects.get(pk=old.conversation.pk).reopen_count == 0


def test_open_case_older_than_the_window_is_not_joined(workspace):
    old = services.ingest(workspace=workspace, message=msg("old", at=NOW - dt.timedelta(days=10)))
    new = services.ingest(workspace=workspace, message=msg("new"))
    assert new.conversation.pk != old.conversation.pk


def test_closed_cases_are_never_reopened(workspace):
    r = services.ingest(workspace=workspace, message=msg("x", at=NOW - dt.timedelta(hours=1)))
    Conversation.objects.filter(pk=r.conversation.pk).update(status=Status.CLOSED, resolved_at=NOW)
    assert services.ingest(workspace=workspace, message=msg("y")).new_conversation


def test_a_message_written_before_the_resolution_does_not_reopen(workspace):
    r = services.ingest(workspace=workspace, message=msg("help", at=NOW - dt.timedelta(hours=3)))
    services.update_conversation(
        workspace=workspace, actor=None, conversation=r.conversation, changes={"status": "resolved"}
    )
    late = services.ingest(
        workspace=workspace, message=msg("one more detail", at=NOW - dt.timedelta(hours=2))
    )
    assert late.conversation.pk == r.conversation.pk and not late.reopened
    assert Conversation.objects.get(pk=r.conversation.pk).status == Status.RESOLVED


def test_history_imported_out_of_order_never_joins_a_later_case(workspace):
    later = services.ingest(workspace=workspace, message=msg("later", at=NOW))
    earlier = services.ingest(
        workspace=workspace, message=msg("earlier", at=NOW - dt.timedelta(days=2))
    )
    assert earlier.new_conversation and earlier.conversation.pk != later.conversation.pk


def test_auto_replies_are_recorded_but_never_reopen(workspace):
    r = services.ingest(workspace=workspace, message=msg("help", at=NOW - dt.timedelta(hours=1)))
    services.update_conversation(
        workspace=workspace, actor=None, conversation=r.conversation, changes={"status": "resolved"}
    )
    ooo = msg("I am out of office")
    ooo.auto_submitted = True
    out = services.ingest(workspace=workspace, message=ooo)
    conv = Conversation.objects.get(pk=r.conversation.pk)
    assert out.conversation.pk == conv.pk and not out.reopened
    assert conv.status == Status.RESOLVED and out.entry.is_auto_reply


def test_pending_case_returns_to_open_when_the_customer_writes(workspace):
    r = services.ingest(workspace=workspace, message=msg("q", at=NOW - dt.timedelta(hours=1)))
    services.record_reply(
        workspace=workspace, member=None, conversation=r.conversation, text="Can you send a photo?"
    )
    services.update_conversation(
        workspace=workspace, actor=None, conversation=r.conversation, changes={"status": "pending"}
    )
    services.ingest(workspace=workspace, message=msg("photo attached"))
    conv = Conversation.objects.get(pk=r.conversation.pk)
    assert conv.status == Status.OPEN and conv.waiting_since == NOW


def test_retried_delivery_returns_the_existing_entry(workspace):
    a = services.ingest(workspace=workspace, message=msg("hi", ext="provider-1"))
    b = services.ingest(workspace=workspace, message=msg("hi", ext="provider-1"))
    assert a.created and not b.created and a.entry.pk == b.entry.pk
    assert TimelineEntry.objects.count() == 1
    # The same id on another channel is another message.
    c = services.ingest(
        workspace=workspace,
        message=msg("hi", ext="provider-1", channel="sms", phone="+14155550100"),
    )
    assert c.created


@pytest.mark.parametrize(
    "bad, field",
    [
        (InboundMessage(channel="fax", text="x", sender=Sender(email="a@b.co")), "channel"),
        (InboundMessage(channel="email", text="  ", sender=Sender(email="a@b.co")), "text"),
        (InboundMessage(channel="email", text="x", sender=Sender()), "from"),
        (InboundMessage(channel="email", text="x", sender=Sender(email="nope")), "email"),
    ],
)
def test_bad_messages_are_refused_naming_the_field(workspace, bad, field):
    with pytest.raises(InvalidInput) as exc:
        services.ingest(workspace=workspace, message=bad)
    assert exc.value.field == field
    assert TimelineEntry.objects.count() == 0 and Customer.objects.count() == 0


def _stream():
    """A small mixed history: several customers, channels, gaps, resolutions, retries."""
    t0 = NOW - dt.timedelta(days=60)
    out = []
    for i in range(60):
        who = i % 7
        sender = {"email": f"c{who}@example.com"} if who % 2 else {"phone": f"+1415555{who:04d}"}
        channel = "email" if who % 2 else ["sms", "chat", "voice"][who % 3]
        at = t0 + dt.timedelta(hours=20 * i + who)
        out.append(
            InboundMessage(
                channel=channel,
                text=f"message {i}",
                sender=Sender(**sender),
                external_id=f"x{i % 55}",
                sent_at=at,
            )
        )
    return out


def _shape(workspace):
    convs = Conversation.objects.filter(workspace=workspace).order_by("number")
    return [
        (
            c.number,
            sorted(TimelineEntry.objects.filter(conversation=c).values_list("text", flat=True)),
            c.status,
            c.message_count,
        )
        for c in convs
    ]


def test_batch_ingest_threads_exactly_like_single_ingest(workspace, other_workspace):
    single = [services.ingest(workspace=workspace, message=m).created for m in _stream()]
    outcomes = ingest_batch.ingest_many(workspace=other_workspace, messages=_stream())
    assert all(not isinstance(o, Exception) for o in outcomes)
    assert [o.created for o in outcomes] == single
    assert 0 < single.count(False) < len(single)  # the stream does contain retries
    assert _shape(workspace) == _shape(other_workspace)


def test_batch_ingest_reports_bad_messages_and_keeps_the_rest(workspace):
    msgs = [
        msg("ok 1", ext="a"),
        msg("bad", email="not-an-email"),
        msg("ok 2", ext="b"),
        msg("ok 1", ext="a"),
    ]
    out = ingest_batch.ingest_many(workspace=workspace, messages=msgs)
    assert out[0].created and isinstance(out[1], InvalidInput) and out[2].created
    assert not out[3].created and out[3].entry_id == out[0].entry_id
    assert TimelineEntry.objects.count() == 2


def test_batch_ingest_is_idempotent_across_calls(workspace):
    first = ingest_batch.ingest_many(workspace=workspace, messages=_stream())
    second = ingest_batch.ingest_many(workspace=workspace, messages=_stream())
    assert [o.entry_id for o in first] == [o.entry_id for o in second]
    assert not any(o.created for o in second)


@pytest.mark.parametrize("batch", [False, True])
def test_inbound_html_is_sanitised_before_storage(workspace, batch):
    m = msg("see below")
    m.html = (
        '<p onclick="steal()">Hi<script>alert(1)</script></p>'
        '<a href="javascript:alert(2)">x</a><img src="x" onerror="alert(3)"><a href="https://ok.example">ok</a>'
    )
    if batch:
        ingest_batch.ingest_many(workspace=workspace, messages=[m])
    else:
        services.ingest(workspace=workspace, message=m)
    html = TimelineEntry.objects.get().html
    for bad in ("script", "onclick", "onerror", "javascript:"):
        assert bad not in html
    assert 'href="https://ok.example"' in html and "<p>Hi</p>" in html


def test_the_message_is_announced_only_after_it_is_committed(
    workspace, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from warmline.conversations.signals import message_ingested

    heard = []

    def listener(sender, *, entry_id, conversation_id, created_conversation, **kwargs):
        heard.append((entry_id, conversation_id, created_conversation))

    message_ingested.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            with pytest.raises(RuntimeError), transaction.atomic():
                services.ingest(workspace=workspace, message=msg("rolled back", ext="x1"))
                raise RuntimeError("the surrounding transaction fails")
        assert heard == [] and not TimelineEntry.objects.filter(external_id="x1").exists()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            r = services.ingest(workspace=workspace, message=msg("kept", ext="x2"))
            assert heard == []  # nothing is announced before the commit
        assert len(callbacks) >= 1
        assert heard == [(r.entry.pk, r.conversation.pk, True)]
    finally:
        message_ingested.disconnect(listener)


def test_batch_ingest_stores_every_field_as_single_ingest_does(workspace):
    """The batch path writes rows with its own multi-row INSERT: read them back."""
    at = NOW - dt.timedelta(hours=3)
    m = InboundMessage(
        channel="chat",
        text="Hola, ¿dónde está mi pedido?",
        sender=Sender(chat_visitor="v-1", name="Lucía"),
        external_id="b-fields",
        subject="Pedido",
        sent_at=at,
        attachments=[{"name": "foto.jpg", "size": 10}],
        data={"session": "s-1"},
        language="es",
    )
    (out,) = ingest_batch.ingest_many(workspace=workspace, messages=[m])
    entry = TimelineEntry.objects.get(pk=out.entry_id)
    assert (entry.kind, entry.channel, entry.external_id) == (
        "customer_message",
        "chat",
        "b-fields",
    )
    assert entry.occurred_at == at and entry.created_at is not None
    assert entry.attachments == [{"name": "foto.jpg", "size": 10}]
    assert entry.data == {"session": "s-1"} and entry.subject == "Pedido"
    assert entry.author_customer_id == out.customer_id and entry.workspace_id == workspace.pk
    conv = Conversation.objects.get(pk=out.conversation_id)
    assert conv.opened_at == at and conv.number == 1 and conv.customer_id == out.customer_id
    customer = Customer.objects.get(pk=out.customer_id)
    assert customer.name == "Lucía" and customer.identities.get().value == "v-1"
