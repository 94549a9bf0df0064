"""End to end: real ingest, replies and status changes keep the roll-ups right through the
signals and background tasks (Huey runs tasks inline in tests), with bot replies excluded
from the first response time; plus the live backlog and the customer-level KPIs by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import time_machine

from tests.factories import ConversationFactory, CustomerFactory, MemberFactory
from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.conversations.models import EntryKind
from warmline.customers.models import Order
from warmline.insights import engine, loyalty
from warmline.insights.engine import Period
from warmline.insights.reference import sums_from_scratch

from .helpers import local

TZ = "Europe/Madrid"
WEEK = Period(dt.date(2026, 1, 5), dt.date(2026, 1, 11))


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return local(TZ, 2026, 1, day, hour, minute)


def test_ingest_replies_and_resolution_reach_the_rollups(
    workspace, django_capture_on_commit_callbacks
):
    agent = MemberFactory(workspace=workspace)

    def step(moment, fn, **kw):
        with (
            time_machine.travel(moment, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            return fn(**kw)

    result = step(
        at(5, 10),
        conversations.ingest,
        workspace=workspace,
        message=InboundMessage(
            channel="email", text="My parcel never came", sender=Sender(email="eve@example.com")
        ),
    )
    conv = result.conversation
    # The bot answers at 10:05: not a first response. The agent answers at 10:45.
    for moment, kind, member in (
        (at(5, 10, 5), EntryKind.ASSISTANT_REPLY, None),
        (at(5, 10, 45), EntryKind.AGENT_REPLY, agent),
    ):
        step(
            moment,
            conversations.record_reply,
            workspace=workspace,
            member=member,
            conversation=conv,
            text="We are on it.",
            kind=kind,
        )
    conv.refresh_from_db()
    step(
        at(5, 12),
        conversations.update_conversation,
        workspace=workspace,
        actor=agent,
        conversation=conv,
        changes={"status": "resolved"},
    )
    figures = engine.kpis([workspace.pk], WEEK)
    assert figures["first_response"]["value"] == 45 * 60
    assert figures["resolution"]["value"] == 2 * 3600
    assert figures["fcr"]["value"] == 100.0 and figures["resolved"]["value"] == 1
    assert engine.sums([workspace.pk], WEEK) == sums_from_scratch([workspace.pk], WEEK)

    # The customer writes again on Wednesday: reopened, then resolved again.
    step(
        at(7, 9),
        conversations.ingest,
        workspace=workspace,
        message=InboundMessage(
            channel="email",
            text="Still nothing",
            sender=Sender(email="eve@example.com"),
        ),
    )
    conv.refresh_from_db()
    assert conv.status == "open" and conv.reopen_count == 1  # threaded and reopened
    step(
        at(7, 11),
        conversations.update_conversation,
        workspace=workspace,
        actor=agent,
        conversation=conv,
        changes={"status": "resolved"},
    )
    figures = engine.kpis([workspace.pk], WEEK)
    assert figures["resolved"]["value"] == 1  # counted once, on its latest resolution
    assert figures["reopen_rate"]["value"] == 100.0 and figures["fcr"]["value"] == 0.0
    assert engine.sums([workspace.pk], WEEK) == sums_from_scratch([workspace.pk], WEEK)


def test_backlog_count_and_ages(workspace):
    now = at(9, 12)
    for opened in (at(9, 10), at(8, 12)):  # 2 h and 24 h waiting
        ConversationFactory(workspace=workspace, status="open", opened_at=opened)
    ConversationFactory(workspace=workspace, status="pending", opened_at=at(9, 11))  # 1 h
    ConversationFactory(workspace=workspace, status="resolved", opened_at=at(1, 9))
    backlog = engine.backlog([workspace.pk], now=now)
    assert backlog["value"] == 3
    assert backlog["age_seconds"] == (2 + 24 + 1) * 3600 // 3
    assert backlog["oldest_seconds"] == 24 * 3600
    assert engine.backlog([workspace.pk], engine.Filters(channel="sms"), now=now) == {
        "value": 0,
        "n": 0,
        "age_seconds": None,
        "oldest_seconds": None,
    }


def test_retention_churn_and_historical_clv_by_hand(workspace):
    # Previous week (29 Dec – 4 Jan) actives: A, B, C. This week: A, B, D (D is new).
    a, b, c, d = (CustomerFactory(workspace=workspace) for _ in range(4))
    for customer, opened in (
        (a, local(TZ, 2025, 12, 30, 10)),
        (b, local(TZ, 2026, 1, 2, 10)),
        (c, local(TZ, 2026, 1, 4, 23, 30)),
        (a, at(6, 10)),
        (d, at(8, 10)),
    ):
        ConversationFactory(workspace=workspace, customer=customer, opened_at=opened)
    Order.objects.create(
        workspace=workspace,
        customer=b,
        external_id="o1",
        status="delivered",
        total=Decimal("40.00"),
        placed_at=at(10, 10),
    )
    for n, (customer, total, status) in enumerate(
        ((a, "100.00", "delivered"), (a, "20.00", "cancelled"), (c, "30.50", "delivered"))
    ):
        Order.objects.create(
            workspace=workspace,
            customer=customer,
            external_id=f"p{n}",
            status=status,
            total=Decimal(total),
            placed_at=local(TZ, 2025, 11, 1 + n, 10),
        )
    r = loyalty.retention([workspace], WEEK)
    # S = 3, E = 3 (A, B by the order, D), N = 1: retention (3 − 1) / 3; churned: C.
    assert (r["start"], r["end"], r["new"], r["churned"]) == (3, 3, 1, 1)
    assert r["retention_rate"] == 66.6667 and r["churn_rate"] == 33.3333
    clv = loyalty.historical_clv([workspace], WEEK)
    # Kept orders up to Sunday: A 100.00, C 30.50, B 40.00 → 170.50 over 3 customers.
    assert clv["total"] == "170.50" and clv["customers"] == 3 and clv["average"] == "56.83"
    # An empty week: no data, not zero.
    empty = loyalty.retention([workspace], Period(dt.date(2024, 1, 1), dt.date(2024, 1, 7)))
    assert empty["retention_rate"] is None and empty["churn_rate"] is None
