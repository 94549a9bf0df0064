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
