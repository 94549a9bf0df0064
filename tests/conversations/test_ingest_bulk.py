"""Bulk ingest: the batch path keeps every rule of the per-message path."""

import datetime as dt
import gc

from django.utils import timezone

from warmline.conversations import ingest_batch, services
from warmline.conversations.inbound import InboundMessage, Sender, ThreadHints
from warmline.conversations.models import Conversation, Status, TimelineEntry
from warmline.customers.models import Customer, Identity
from warmline.errors import InvalidInput

from ..factories import ConversationFactory, CustomerFactory, IdentityFactory

NOW = timezone.now().replace(microsecond=0)


def m(text, *, ext=None, channel="email", at=None, key=None, replies_to=(), **sender):
    """A message; ``key``: its own thread key (a Message-ID), ``replies_to``: keys it answers."""
    return InboundMessage(
        channel=channel,
        text=text,
        sender=Sender(**sender),
        external_id=ext,
        sent_at=at or NOW,
        thread_key=key,
        thread=ThreadHints(keys=list(replies_to)),
    )


def test_one_batch_mixes_known_and_new_customers_across_channels(workspace):
    known = services.ingest(
        workspace=workspace,
        message=m("order late", ext="e0", email="ana@example.com", at=NOW - dt.timedelta(hours=5)),
    )
    out = ingest_batch.ingest_many(
        workspace=workspace,
        messages=[
            # The known customer writes again on chat: same case (cross-channel continuity).
            m(
                "any news?",
                ext="c1",
                channel="chat",
                at=NOW - dt.timedelta(hours=4),
                email="ana@example.com",
            ),
            # A new customer by phone, then again by phone and email: one customer, one
            # case, the email attached to them.
            m(
                "hello",
                ext="s1",
                channel="sms",
                at=NOW - dt.timedelta(hours=3),
                phone="+14155550123",
            ),
            m(
                "me again",
                ext="e1",
                at=NOW - dt.timedelta(hours=2),
                phone="+1 415 555 0123",
                email="bo@example.com",
            ),
            m("hello", ext="s1", channel="sms", phone="+14155550123"),  # repeat in the batch
            m("bad", ext="x1", email="not-an-email"),
            m("any news?", ext="c1", channel="chat", email="ana@example.com"),  # repeat
        ],
    )
    assert out[0].created and out[0].conversation_id == known.conversation.pk
    assert out[0].customer_id == known.customer.pk
    assert out[1].created and out[2].created
    assert out[1].customer_id == out[2].customer_id != known.customer.pk
    assert out[1].conversation_id == out[2].conversation_id
    assert not out[3].created and out[3].entry_id == out[1].entry_id
    assert isinstance(out[4], InvalidInput) and out[4].field == "email"
    assert not out[5].created and out[5].entry_id == out[0].entry_id
    bo = Customer.objects.get(pk=out[1].customer_id)
    assert set(Identity.objects.filter(customer=bo).values_list("kind", flat=True)) == {
        "phone",
        "email",
    }
    assert TimelineEntry.objects.filter(workspace=workspace).count() == 4
    ana_case = Conversation.objects.get(pk=known.conversation.pk)
    assert ana_case.message_count == 2 and ana_case.last_channel == "chat"


def test_a_batch_continues_the_customers_most_recent_case(workspace):
    """Two open cases in the window: the message joins the newest, as single ingest does."""
    customer = CustomerFactory(workspace=workspace)
    IdentityFactory(workspace=workspace, customer=customer, kind="email", value="cy@example.com")
    older = ConversationFactory(
        workspace=workspace,
        customer=customer,
        opened_at=NOW - dt.timedelta(days=3),
        last_activity_at=NOW - dt.timedelta(days=2),
    )
    newer = ConversationFactory(
        workspace=workspace,
        customer=customer,
        opened_at=NOW - dt.timedelta(days=2),
        last_activity_at=NOW - dt.timedelta(days=1),
    )
    single = services.ingest(workspace=workspace, message=m("one", ext="a", email="cy@example.com"))
    batch = ingest_batch.ingest_many(
        workspace=workspace, messages=[m("two", ext="b", email="cy@example.com")]
    )
    assert single.conversation.pk == newer.pk
    assert batch[0].conversation_id == newer.pk != older.pk


def test_a_closed_case_in_the_window_is_not_continued(workspace):
    customer = CustomerFactory(workspace=workspace)
    IdentityFactory(workspace=workspace, customer=customer, kind="email", value="di@example.com")
    closed = ConversationFactory(
        workspace=workspace,
        customer=customer,
        status=Status.CLOSED,
        opened_at=NOW - dt.timedelta(days=1),
        last_activity_at=NOW - dt.timedelta(hours=1),
    )
    out = ingest_batch.ingest_many(
        workspace=workspace, messages=[m("new issue", ext="n", email="di@example.com")]
    )
    assert out[0].created and out[0].conversation_id != closed.pk
    assert Conversation.objects.get(pk=out[0].conversation_id).status == Status.OPEN


def test_no_gc_pauses_the_collector_and_restores_it():
    assert gc.isenabled()
    with ingest_batch.no_gc():
        assert not gc.isenabled()
        with ingest_batch.no_gc():  # a second batch in another thread
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with ingest_batch.no_gc():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_bulk_api_answers_every_position_in_the_documented_shape(api):
    msg = {"channel": "email", "from": {"email": "ana@example.com"}, "text": "hello"}
    msgs = [
        {**msg, "external_id": "a1"},
        {**msg, "external_id": "a1"},
        {**msg, "external_id": "a2", "from": {"phone": "+999 123456"}},
    ]
    r = api.post_json("/api/v1/messages/bulk", {"messages": msgs})
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    data = r.json()
    assert (data["created"], data["duplicates"], data["errors"]) == (1, 1, 1)
    first, dup, bad = data["results"]
    keys = ["index", "status", "id", "conversation_id", "customer_id", "error", "field"]
    assert list(first) == list(dup) == list(bad) == keys
    assert first["status"] == "created" and first["error"] is None
    assert dup == {**first, "index": 1, "status": "duplicate"}
    assert bad["status"] == "error" and bad["field"] == "phone" and bad["id"] is None


def test_bulk_api_refuses_a_malformed_message_naming_its_position(api):
    good = {"channel": "email", "from": {"email": "ana@example.com"}, "text": "hello"}
    bad = {"channel": "fax", "from": {}, "text": " "}
    r = api.post_json("/api/v1/messages/bulk", {"messages": [good, bad]})
    assert r.status_code == 422
    locs = [tuple(e["loc"]) for e in r.json()["detail"]]
    assert any(loc[-3:] == ("messages", 1, "channel") for loc in locs), locs
    assert any(loc[-2:] == (1, "text") for loc in locs), locs
    assert TimelineEntry.objects.count() == 0


def test_a_concurrent_delivery_between_the_read_and_the_write_is_answered_exactly(
    workspace, monkeypatch
):
    """Another writer stores one of the batch's messages (and its new customer) after the
    batch looked for known ids: the unique indexes catch it and each message is resolved
    by the per-message path, without a duplicate entry, customer or identity."""
    real = ingest_batch._drop_known

    def racing(ws, items, outcomes):
        kept = real(ws, items, outcomes)
        services.ingest(workspace=ws, message=m("hi", ext="r1", email="new@example.com"))
        return kept

    monkeypatch.setattr(ingest_batch, "_drop_known", racing)
    out = ingest_batch.ingest_many(
        workspace=workspace,
        messages=[
            m("hi", ext="r1", email="new@example.com"),
            m("other", ext="r2", email="new@example.com"),
            m("third", ext="r3", email="else@example.com"),
        ],
    )
    stored = TimelineEntry.objects.get(workspace=workspace, external_id="r1")
    assert not out[0].created and out[0].entry_id == stored.pk
    assert out[1].created and out[1].customer_id == out[0].customer_id
    assert out[1].conversation_id == out[0].conversation_id
    assert out[2].created
    assert TimelineEntry.objects.filter(workspace=workspace).count() == 3
    assert Identity.objects.filter(workspace=workspace, value="new@example.com").count() == 1
    assert Customer.objects.filter(workspace=workspace).count() == 2


def test_overlapping_batches_still_collect_when_the_backlog_grows(monkeypatch):
    monkeypatch.setattr(ingest_batch, "_GC_BACKLOG", 10)
    collected = []
    monkeypatch.setattr(ingest_batch.gc, "collect", lambda *a: collected.append(1) or 0)
    with ingest_batch.no_gc():
        with ingest_batch.no_gc():
            junk = [[] for _ in range(100)]  # noqa: F841 - allocations the collector counts
        assert collected and not gc.isenabled()
    assert gc.isenabled()


# The batch is planned from reads made before SQLite's write lock and checked again
# under it (ingest_batch._Plan). These change the database between the two, as a
# concurrent writer would, and show that only the affected group is planned again.


def _plan(workspace, messages):
    items = ingest_batch._prepare(workspace, messages, [None] * len(messages))
    return ingest_batch._Plan(workspace, []).make(items)


def _write(plan):
    """What ingest_many does with a plan: write it, then the per-message fallback (where
    rows lock, PostgreSQL, stale groups go there instead of being planned again)."""
    ingest_batch._write(plan)
    for item in plan.fallback:
        services.ingest(workspace=plan.workspace, message=item.message)


def _stale_ids(plan):
    stale = plan.stale()
    return sorted(
        i.message.external_id for i in plan.items if plan._find(plan.token_of[id(i)]) in stale
    )


def test_a_case_closed_after_planning_is_not_continued(workspace):
    hour = dt.timedelta(hours=1)
    ana = services.ingest(
        workspace=workspace, message=m("hi", ext="a0", email="ana@example.com", at=NOW - hour)
    )
    bo = services.ingest(
        workspace=workspace, message=m("hi", ext="b0", email="bo@example.com", at=NOW - hour)
    )
    plan = _plan(
        workspace,
        [
            m("again", ext="a1", email="ana@example.com"),
            m("more", ext="b1", email="bo@example.com"),
        ],
    )
    # Meanwhile an agent closes Ana's case.
    Conversation.objects.filter(pk=ana.conversation.pk).update(status=Status.CLOSED)
    assert _stale_ids(plan) == ["a1"]  # Bo's message is written as planned
    _write(plan)
    a1 = TimelineEntry.objects.get(workspace=workspace, external_id="a1")
    b1 = TimelineEntry.objects.get(workspace=workspace, external_id="b1")
    assert a1.conversation_id != ana.conversation.pk
    assert Conversation.objects.get(pk=a1.conversation_id).status == Status.OPEN
    assert b1.conversation_id == bo.conversation.pk
    assert Conversation.objects.get(pk=ana.conversation.pk).message_count == 1


def test_a_customer_created_after_planning_is_used_not_duplicated(workspace):
    plan = _plan(workspace, [m("hello", ext="n1", email="new@example.com")])
    meanwhile = services.ingest(
        workspace=workspace, message=m("first", ext="n0", email="new@example.com")
    )
    assert _stale_ids(plan) == ["n1"]
    _write(plan)
    n1 = TimelineEntry.objects.get(workspace=workspace, external_id="n1")
    assert n1.author_customer_id == meanwhile.customer.pk
    assert n1.conversation_id == meanwhile.conversation.pk
    assert Identity.objects.filter(workspace=workspace, value="new@example.com").count() == 1
    assert Customer.objects.filter(workspace=workspace).count() == 1


def test_a_case_opened_after_planning_is_joined_not_doubled(workspace):
    customer = CustomerFactory(workspace=workspace)
    IdentityFactory(workspace=workspace, customer=customer, kind="email", value="cy@example.com")
    plan = _plan(workspace, [m("second", ext="k1", email="cy@example.com")])  # plans a new case
    meanwhile = services.ingest(
        workspace=workspace, message=m("first", ext="k0", email="cy@example.com")
    )
    assert _stale_ids(plan) == ["k1"]
    _write(plan)
    k1 = TimelineEntry.objects.get(workspace=workspace, external_id="k1")
    assert k1.conversation_id == meanwhile.conversation.pk
    assert Conversation.objects.filter(workspace=workspace, customer=customer).count() == 1


def test_nothing_changed_means_nothing_is_planned_again(workspace):
    services.ingest(workspace=workspace, message=m("hi", ext="z0", email="zoe@example.com"))
    plan = _plan(
        workspace,
        [m("again", ext="z1", email="zoe@example.com"), m("new", ext="y1", email="yu@example.com")],
    )
    assert plan.stale() == set()


def test_thread_keys_join_a_batch_message_to_its_case_across_senders(workspace):
    """A reply carrying an earlier email's Message-ID joins that case even from another
    address, whether the key was stored before the batch or by an earlier message in it;
    a key another writer adds between plan and write re-plans that message."""
    hour = dt.timedelta(hours=1)
    before = services.ingest(
        workspace=workspace,
        message=m("order late", ext="k0", key="<k0@mail>", at=NOW - 3 * hour, email="a@x.io"),
    )
    out = ingest_batch.ingest_many(
        workspace=workspace,
        messages=[
            m(
                "cc: any news?",
                ext="k1",
                replies_to=["<k0@mail>"],
                at=NOW - 2 * hour,
                email="b@x.io",
            ),
            m("new question", ext="k2", key="<k2@mail>", at=NOW - 2 * hour, email="c@x.io"),
            m(
                "re: new question",
                ext="k3",
                replies_to=["<k2@mail>"],
                at=NOW - hour,
                email="d@x.io",
            ),
        ],
    )
    assert out[0].conversation_id == before.conversation.pk
    assert out[0].customer_id != before.customer.pk
    assert out[2].conversation_id == out[1].conversation_id != before.conversation.pk

    plan = _plan(workspace, [m("late key", ext="k5", replies_to=["<k4@mail>"], email="e@x.io")])
    meanwhile = services.ingest(
        workspace=workspace,
        message=m("first", ext="k4", key="<k4@mail>", at=NOW - hour, email="f@x.io"),
    )
    assert _stale_ids(plan) == ["k5"]
    _write(plan)
    k5 = TimelineEntry.objects.get(workspace=workspace, external_id="k5")
    assert k5.conversation_id == meanwhile.conversation.pk
