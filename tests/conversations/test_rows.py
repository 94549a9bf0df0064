"""warmline.db.rows reads and writes exactly the rows the ORM would (SQLite and PostgreSQL)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from warmline.conversations.models import Conversation, EntryKind, TimelineEntry
from warmline.customers.models import Customer
from warmline.db import rows

AT = timezone.now().replace(microsecond=123456)


@pytest.mark.django_db
def test_insert_then_orm_reads_the_same_values(workspace):
    customer = rows.insert(
        Customer(workspace=workspace, name="Ana", customer_since=AT.date(), tier="gold")
    )
    assert customer.pk and not customer._state.adding
    conv = rows.insert(
        Conversation(
            workspace=workspace,
            customer=customer,
            number=7,
            subject="Late parcel",
            channel="email",
            opened_at=AT,
            last_activity_at=AT,
            tags=["late", "vip"],
            sentiment_first=-0.25,
        )
    )
    entry = rows.insert(
        TimelineEntry(
            workspace=workspace,
            conversation=conv,
            kind=EntryKind.CUSTOMER_MESSAGE,
            channel="email",
            author_customer=customer,
            text="Where is it?",
            external_id="ext-1",
            data={"headers": {"x": 1}},
            signals={"anger": 0.4},
            occurred_at=AT,
            is_auto_reply=True,
        )
    )
    got = Conversation.objects.get(pk=conv.pk)
    assert (got.customer_id, got.number, got.opened_at, got.tags) == (
        customer.pk,
        7,
        AT,
        ["late", "vip"],
    )
    assert got.sentiment_first == -0.25 and got.created_at is not None
    e = TimelineEntry.objects.get(pk=entry.pk)
    assert e.data == {"headers": {"x": 1}} and e.signals == {"anger": 0.4}
    assert e.is_auto_reply is True and e.occurred_at == AT and e.external_id == "ext-1"
    c = Customer.objects.get(pk=customer.pk)
    assert (c.name, c.tier, c.customer_since, c.lifetime_value) == (
        "Ana",
        "gold",
        AT.date(),
        Decimal("0"),
    )


@pytest.mark.django_db
def test_fetch_builds_what_the_orm_builds(workspace):
    customer = Customer.objects.create(workspace=workspace, name="Bo", customer_since=AT.date())
    conv = Conversation.objects.create(
        workspace=workspace,
        customer=customer,
        number=1,
        channel="chat",
        opened_at=AT,
        last_activity_at=AT,
        tags=["a"],
        sla_state={"first_response": "warned"},
    )
    (fetched,) = rows.fetch(Conversation, '"id" = %s', [conv.pk])
    orm = Conversation.objects.get(pk=conv.pk)
    for f in Conversation._meta.concrete_fields:
        assert getattr(fetched, f.attname) == getattr(orm, f.attname), f.name
    assert not fetched._state.adding
    assert rows.fetch(Conversation, '"id" = %s', [conv.pk + 1000]) == []


@pytest.mark.django_db
def test_update_writes_named_fields_and_auto_now_only(workspace):
    customer = Customer.objects.create(workspace=workspace, name="Cy", customer_since=AT.date())
    conv = Conversation.objects.create(
        workspace=workspace,
        customer=customer,
        number=1,
        channel="chat",
        opened_at=AT,
        last_activity_at=AT,
    )
    before = Conversation.objects.get(pk=conv.pk).updated_at
    conv.subject = "changed in memory only"
    conv.reopen_count = 3
    conv.last_activity_at = AT + dt.timedelta(hours=1)
    rows.update(conv, ["reopen_count", "last_activity_at"])
    got = Conversation.objects.get(pk=conv.pk)
    assert got.reopen_count == 3 and got.last_activity_at == AT + dt.timedelta(hours=1)
    assert got.subject == ""  # not named: not written
    assert got.updated_at >= before


@pytest.mark.django_db
def test_values_convert_like_values_list(workspace, member):
    member.languages, member.skills, member.working_hours = ["es", "en"], ["vip"], {"mon": []}
    member.save()
    names = ("id", "languages", "skills", "capacity", "working_hours", "is_active")
    got = rows.values(type(member), names, '"id" = %s', [member.pk])
    assert got == list(type(member).objects.filter(pk=member.pk).values_list(*names))
    assert got[0][1] == ["es", "en"] and got[0][5] is True


def _fields(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}


@pytest.mark.django_db
def test_new_builds_what_the_constructor_builds(workspace):
    customer = rows.insert(Customer(workspace=workspace, name="Ana", customer_since=AT.date()))
    kwargs = dict(
        workspace=workspace,
        customer=customer,
        subject="Late parcel",
        channel="email",
        opened_at=AT,
        last_activity_at=AT,
        owner_id=None,
    )
    fast, slow = rows.new(Conversation, **kwargs), Conversation(**kwargs)
    assert _fields(fast) == _fields(slow)
    assert fast._state.adding and fast._state.db is None
    assert fast.customer is customer and fast.workspace is workspace  # cached, no query
    # Mutable defaults are fresh per instance, as with the constructor.
    other = rows.new(Conversation, **kwargs)
    assert fast.tags == [] and fast.tags is not other.tags
    assert fast.sla_state == {} and fast.sla_state is not other.sla_state
    # An unsaved related object's key is taken when the row is inserted.
    draft = rows.new(
        Conversation,
        workspace=workspace,
        customer=customer,
        number=3,
        channel="chat",
        opened_at=AT,
        last_activity_at=AT,
    )
    entry = rows.new(
        TimelineEntry,
        workspace=workspace,
        conversation=draft,
        kind=EntryKind.CUSTOMER_MESSAGE,
        occurred_at=AT,
    )
    rows.insert(draft)
    rows.insert(entry)
    assert TimelineEntry.objects.get(pk=entry.pk).conversation_id == draft.pk


def test_new_rejects_what_the_constructor_rejects():
    with pytest.raises(TypeError, match="unexpected keyword"):
        rows.new(Customer, nickname="x")
    with pytest.raises(TypeError, match="must be a Workspace"):
        rows.new(Customer, workspace="acme")


@pytest.mark.django_db
def test_loaded_matches_from_db_and_defers_missing_columns(workspace):
    customer = rows.insert(
        Customer(workspace=workspace, name="Ana", customer_since=AT.date(), tier="gold")
    )
    names = ("id", "workspace_id", "name", "owner_id")
    values = (customer.pk, workspace.pk, "Ana", None)
    fast = rows.loaded(Customer, names, values, "default")
    slow = Customer.from_db("default", list(names), list(values))
    assert _fields(fast) == _fields(slow)
    assert not fast._state.adding and fast._state.db == "default"
    assert fast.get_deferred_fields() == slow.get_deferred_fields()
    assert fast.tier == "gold"  # a deferred column is read on access, as after .only()
