"""Playbooks on a frozen clock: every trigger, segments, actions, caps, quiet hours, opt-outs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from tests.factories import ConversationFactory, MemberFactory
from tests.proactive.care.conftest import NOW
from tests.proactive.care.test_health_store import _survey
from warmline.channels.models import OutboundMessage
from warmline.conversations.models import Conversation, TimelineEntry
from warmline.customers.models import Customer, CustomerEvent, Order
from warmline.errors import InvalidInput, PolicyDenied
from warmline.proactive.care import services
from warmline.proactive.care.engine import Verdict
from warmline.proactive.care.models import (
    CareSettings,
    CustomerHealth,
    FollowUp,
    HealthSnapshot,
    OptOut,
    Outreach,
)

pytestmark = pytest.mark.django_db


def _days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def _run(workspace, at, **kw):
    with time_machine.travel(at, tick=False):
        return services.run_playbooks(workspace=workspace, now=at, **kw)


def _contacted(pb, customer=None):
    qs = Outreach.objects.filter(playbook=pb, status="contacted")
    return qs.filter(customer=customer) if customer is not None else qs


def _assert_fires_once(workspace, pb, customer, before, at, after):
    """Nothing before the moment; one contact at it; a second run adds nothing; nothing
    once the moment is past the look-back."""
    if before is not None:
        _run(workspace, before)
        assert not Outreach.objects.filter(playbook=pb).exists()
    _run(workspace, at)
    assert _contacted(pb, customer).count() == 1
    _run(workspace, at + dt.timedelta(minutes=15))
    assert Outreach.objects.filter(playbook=pb).count() == 1
    if after is not None:
        Outreach.objects.filter(playbook=pb).delete()
        _run(workspace, after)
        assert not Outreach.objects.filter(playbook=pb).exists()


# --- every trigger -------------------------------------------------------------------


def test_business_event_trigger(workspace, make_customer, make_playbook):
    c = make_customer()
    pb = make_playbook("event", event_type="order_delivered")
    CustomerEvent.objects.create(
        workspace=workspace, customer=c, type="order_delivered", occurred_at=NOW
    )
    CustomerEvent.objects.create(
        workspace=workspace, customer=c, type="payment_failed", occurred_at=NOW
    )
    _run(workspace, NOW - _days(1))
    assert not Outreach.objects.filter(playbook=pb).exists()
    _run(workspace, NOW + _days(1))
    out = Outreach.objects.get(playbook=pb)  # the payment failure is another playbook's
    assert out.customer_id == c.pk and out.reason == "order_delivered on 2026-03-10"
    _run(workspace, NOW + _days(2))
    assert Outreach.objects.filter(playbook=pb).count() == 1
    Outreach.objects.all().delete()
    _run(workspace, NOW + _days(4))  # past the 3-day look-back
    assert not Outreach.objects.filter(playbook=pb).exists()


def test_days_after_resolution_trigger(workspace, make_customer, make_playbook):
    c = make_customer()
    pb = make_playbook("after_resolved", days=3)
    conv = ConversationFactory(
        customer=c, status="resolved", resolved_at=NOW, customer_message_count=2
    )
    _assert_fires_once(workspace, pb, c, NOW + _days(2), NOW + _days(3), NOW + _days(7))
    # a case that was reopened (no longer resolved) does not fire
    conv.status = "open"
    conv.save()
    _run(workspace, NOW + _days(3))
    assert not Outreach.objects.filter(playbook=pb).exists()


def test_days_after_purchase_trigger(workspace, make_customer, make_playbook):
    c = make_customer()
    pb = make_playbook("after_purchase", days=7)
    Order.objects.create(workspace=workspace, customer=c, external_id="A1", placed_at=NOW)
    Order.objects.create(
        workspace=workspace, customer=c, external_id="A2", placed_at=NOW, status="cancelled"
    )
    _assert_fires_once(workspace, pb, c, NOW + _days(6), NOW + _days(7), NOW + _days(11))


def test_inactivity_beyond_own_cadence(workspace, make_customer, make_playbook):
    weekly, quarterly = make_customer(name="Wes Weekly"), make_customer(name="Quin Quarterly")
    for i in range(4):
        Order.objects.create(
            workspace=workspace,
            customer=weekly,
            external_id=f"W{i}",
            placed_at=NOW - _days(7 * i),
        )
        Order.objects.create(
            workspace=workspace,
            customer=quarterly,
            external_id=f"Q{i}",
            placed_at=NOW - _days(90 * i),
        )
    pb = make_playbook("inactivity", threshold=2)
    with time_machine.travel(NOW, tick=False):
        services.recompute_health(workspace=workspace, now=NOW)
    _run(workspace, NOW + _days(10))  # 10 days: within 2 weekly gaps
    assert not Outreach.objects.filter(playbook=pb).exists()
    at = NOW + _days(20)  # 20 days > 2 x 7 for the weekly buyer, nothing for the quarterly
    _run(workspace, at)
    assert [o.customer_id for o in Outreach.objects.filter(playbook=pb)] == [weekly.pk]
    _run(workspace, at + _days(1))
    assert Outreach.objects.filter(playbook=pb).count() == 1  # the same lapse, once
    # a new purchase, then another lapse: a new occurrence
    Order.objects.create(
        workspace=workspace, customer=weekly, external_id="W9", placed_at=at + _days(1)
    )
    with time_machine.travel(at + _days(1), tick=False):
        services.recompute_health(workspace=workspace, now=at + _days(1))
    _run(workspace, at + _days(40))
    assert Outreach.objects.filter(playbook=pb, customer=weekly).count() == 2


def _health(workspace, customer, score, history=()):
    CustomerHealth.objects.update_or_create(
        customer=customer,
        defaults={"workspace": workspace, "score": score, "computed_at": NOW, "facts": {}},
    )
    for at, value in history:
        HealthSnapshot.objects.create(
            workspace=workspace, customer=customer, score=value, computed_at=at
        )


def test_health_below_threshold_once_per_dip(workspace, make_customer, make_playbook):
    low, fine = make_customer(), make_customer(name="Fi Fine")
    pb = make_playbook("health_below", threshold=40)
    _health(workspace, low, 30, [(NOW - _days(3), 75), (NOW - _days(1), 30)])
    _health(workspace, fine, 80, [(NOW - _days(1), 80)])
    _run(workspace, NOW)
    assert [o.customer_id for o in Outreach.objects.filter(playbook=pb)] == [low.pk]
    _run(workspace, NOW + _days(2))
    assert Outreach.objects.filter(playbook=pb).count() == 1
    # recovers, then dips again: a second contact
    HealthSnapshot.objects.create(
        workspace=workspace, customer=low, score=60, computed_at=NOW + _days(3)
    )
    _run(workspace, NOW + _days(4))
    assert Outreach.objects.filter(playbook=pb, customer=low).count() == 2


def test_sharp_drop_in_health(workspace, make_customer, make_playbook):
    dropped, drifted = make_customer(), make_customer(name="Dri Drift")
    pb = make_playbook("health_drop", threshold=15, days=7)
    _health(workspace, dropped, 55, [(NOW - _days(2), 80), (NOW, 55)])
    _health(workspace, drifted, 70, [(NOW - _days(2), 80), (NOW, 70)])
    _run(workspace, NOW)
    assert [o.customer_id for o in Outreach.objects.filter(playbook=pb)] == [dropped.pk]
    assert "80" in Outreach.objects.get(playbook=pb).reason
    _run(workspace, NOW + _days(1))
    assert Outreach.objects.filter(playbook=pb).count() == 1
    # the best score leaves the 7-day window: no longer a sharp drop
    Outreach.objects.all().delete()
    _run(workspace, NOW + _days(9))
    assert not Outreach.objects.filter(playbook=pb).exists()


def test_detractor_survey_answer(workspace, make_customer, make_playbook):
    sad, happy = make_customer(), make_customer(name="Hap Happy")
    pb = make_playbook("detractor", task_text="Call them back")
    _survey(ConversationFactory(customer=sad, status="resolved"), 3, NOW)
    _survey(ConversationFactory(customer=happy, status="resolved"), 10, NOW)
    planned = services.dry_run(workspace=workspace, playbook=pb, now=NOW + _days(1)).decisions
    assert [(d.customer_id, d.reason) for d in planned] == [(sad.pk, "detractor answer (NPS 3)")]
    _assert_fires_once(workspace, pb, sad, NOW - _days(1), NOW + _days(1), NOW + _days(4))


@pytest.mark.parametrize(
    ("zone", "fires_at_utc"),
    [
        ("Europe/Madrid", dt.datetime(2026, 3, 10, 14, tzinfo=dt.UTC)),  # 15:00 on the 10th
        # 14:00 UTC on the 10th is already 04:00 on the 11th in Kiritimati (UTC+14)
        ("Pacific/Kiritimati", dt.datetime(2026, 3, 9, 14, tzinfo=dt.UTC)),
    ],
)
def test_special_date_in_the_customers_calendar(
    workspace, make_customer, make_playbook, zone, fires_at_utc
):
    c = make_customer(
        special_dates=[{"label": "Birthday", "date": "1990-03-11"}],
        custom_attributes={"time_zone": zone},
    )
    # one day before the birthday; owner-only actions so quiet hours do not interfere
    pb = make_playbook("special_date", days=1, message_body="", task_text="Send a card")
    _run(workspace, fires_at_utc - _days(1))
    assert not Outreach.objects.filter(playbook=pb).exists()
    _run(workspace, fires_at_utc)
    out = Outreach.objects.get(playbook=pb, customer=c)
    assert out.status == "internal" and out.trigger_key == "date:birthday:2026"
    assert FollowUp.objects.get(outreach=out).text.startswith("Send a card")
    _run(workspace, fires_at_utc + _days(1))
    assert Outreach.objects.filter(playbook=pb).count() == 1


def test_special_date_on_29_february_in_other_years(workspace, make_customer, make_playbook):
    c = make_customer(special_dates=[{"label": "anniversary", "date": "2024-02-29"}])
    pb = make_playbook("special_date", message_body="", note_text="Anniversary")
    _run(workspace, dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC))
    assert Outreach.objects.get(playbook=pb, customer=c).trigger_key == "date:anniversary:2026"


def test_trend_fixed_tells_the_affected_customers(workspace, make_customer, make_playbook):
    hit, _other = make_customer(), make_customer(name="Not Affected")
    pb = make_playbook("trend_fixed", message_body="Hi {first_name}, {reason}. Sorry!")
    with time_machine.travel(NOW, tick=False):
        n = services.announce_trend_fixed(
            workspace=workspace, trend_key="42", title="invoice PDF is blank", customer_ids=[hit.pk]
        )
        services.announce_trend_fixed(
            workspace=workspace, trend_key="42", title="invoice PDF is blank", customer_ids=[hit.pk]
        )
    assert n == 1
    out = Outreach.objects.get(playbook=pb)
    assert out.customer_id == hit.pk and out.trigger_key == "trend:42"
    text = TimelineEntry.objects.get(conversation=out.conversation, kind="assistant_reply").text
    assert text == "Hi Ana, fixed: invoice PDF is blank. Sorry!"
    _run(workspace, NOW + _days(1))
    assert Outreach.objects.count() == 1


# --- conditions ----------------------------------------------------------------------


def test_segment_conditions(workspace, make_customer, make_playbook, owner):
    other_owner = MemberFactory(workspace=workspace)
    gold = make_customer(
        name="Gold Es",
        tier="gold",
        preferred_language="es",
        lifetime_value=Decimal("900"),
        custom_attributes={"plan": "Pro", "tags": ["VIP"]},
    )
    make_customer(name="Silver", tier="silver", preferred_language="es")
    make_customer(name="Gold En", tier="gold", preferred_language="en")
    make_customer(
        name="Gold cheap", tier="gold", preferred_language="es", lifetime_value=Decimal("10")
    )
    make_customer(
        name="Other owner",
        tier="gold",
        preferred_language="es",
        owner=other_owner,
        lifetime_value=Decimal("900"),
        custom_attributes={"plan": "pro", "tags": ["vip"]},
    )
    make_customer(
        name="Basic plan",
        tier="gold",
        preferred_language="es",
        lifetime_value=Decimal("900"),
        custom_attributes={"plan": "basic", "tags": ["vip"]},
    )
    pb = make_playbook(
        "event",
        event_type="renewal_due",
        tiers=["gold"],
        languages=["es"],
        ltv_min=Decimal("100"),
        ltv_max=Decimal("1000"),
        tags=["vip"],
        attributes={"plan": "pro"},
        owners=[owner.pk],
    )
    for c in Customer.objects.filter(workspace=workspace):
        CustomerEvent.objects.create(
            workspace=workspace, customer=c, type="renewal_due", occurred_at=NOW
        )
    evaluation = services.dry_run(workspace=workspace, playbook=pb, now=NOW)
    assert [d.customer_id for d in evaluation.decisions] == [gold.pk]
    assert evaluation.triggered == 6 and evaluation.out_of_segment == 5


def test_conversation_tags_count_as_customer_tags(workspace, make_customer, make_playbook):
    c = make_customer()
    ConversationFactory(customer=c, status="resolved", tags=["Billing"])
    make_customer(name="Untagged")
    pb = make_playbook("event", event_type="renewal_due", tags=["billing"])
    for cust in (c,):
        CustomerEvent.objects.create(
            workspace=workspace, customer=cust, type="renewal_due", occurred_at=NOW
        )
    assert [
        d.customer_id for d in services.dry_run(workspace=workspace, playbook=pb, now=NOW).decisions
    ] == [c.pk]


# --- actions -------------------------------------------------------------------------


def test_actions_message_task_incentive_and_note(workspace, make_customer, make_playbook, owner):
    from warmline.actions.models import AuthorityProfile, EmpoweredAction

    AuthorityProfile.objects.create(
        workspace=workspace, role="agent", limits={"discount_code": "20.00"}
    )
    c = make_customer(name="Ana García")
    pb = make_playbook(
        "event",
        event_type="order_delivered",
        message_subject="How was your order, {first_name}?",
        message_body="Hi {first_name}, {owner} here. Your {reason}: all good?",
        task_text="Check the delivery went well",
        task_due_days=2,
        incentive="discount_code",
        incentive_amount=Decimal("10.00"),
        note_text="Delivery check-in sent",
    )
    CustomerEvent.objects.create(
        workspace=workspace, customer=c, type="order_delivered", occurred_at=NOW
    )
    _run(workspace, NOW)
    out = Outreach.objects.get(playbook=pb)
    assert out.status == "contacted" and out.channel == "email" and out.messaged
    conv = out.conversation
    assert conv.status == "pending" and "proactive" in conv.tags and conv.owner_id == owner.pk
    assert conv.subject == "How was your order, Ana?"
    reply = TimelineEntry.objects.get(conversation=conv, kind="assistant_reply")
    assert reply.text == "Hi Ana, Olga Owner here. Your order_delivered on 2026-03-10: all good?"
    assert OutboundMessage.objects.get(conversation=conv).idempotency_key == (
        f"care-outreach-{out.pk}"
    )
    task = FollowUp.objects.get(outreach=out)
    assert task.member_id == owner.pk and task.due_at == NOW + _days(2)
    action = EmpoweredAction.objects.get(conversation=conv)
    assert action.code == "discount_code" and action.amount == Decimal("10.00")
    assert action.within_authority and action.requested_by_id == owner.pk
    assert TimelineEntry.objects.filter(
        conversation=conv, kind="internal_note", text__startswith="Delivery check-in sent"
    ).exists()


def test_incentive_above_authority_asks_a_lead(workspace, make_customer, make_playbook):
    from warmline.actions.models import EmpoweredAction

    c = make_customer()
    pb = make_playbook(
        "event",
        event_type="payment_failed",
        incentive="account_credit",
        incentive_amount=Decimal("50"),
    )
    CustomerEvent.objects.create(
        workspace=workspace, customer=c, type="payment_failed", occurred_at=NOW
    )
    _run(workspace, NOW)
    action = EmpoweredAction.objects.get(customer=c)
    assert action.status == "pending_approval" and not action.within_authority
    assert Outreach.objects.get(playbook=pb).status == "contacted"


def test_only_leads_edit_playbooks_and_errors_name_the_field(workspace, member, lead):
    with pytest.raises(PolicyDenied):
        services.save_playbook(
            workspace=workspace, actor=member, data={"name": "x", "trigger": "detractor"}
        )
    cases = [
        ({"trigger": "event", "message_body": "hi"}, "event_type"),
        ({"trigger": "health_below", "message_body": "hi"}, "threshold"),
        ({"trigger": "detractor"}, "message_body"),
        ({"trigger": "detractor", "message_body": "Hi {surname}"}, "message_body"),
        (
            {"trigger": "detractor", "message_body": "hi", "incentive": "discount_code"},
            "incentive_amount",
        ),
        (
            {
                "trigger": "detractor",
                "message_body": "hi",
                "ltv_min": Decimal(5),
                "ltv_max": Decimal(1),
            },
            "ltv_min",
        ),
    ]
    for data, field in cases:
        with pytest.raises(InvalidInput) as err:
            services.save_playbook(workspace=workspace, actor=lead, data={"name": "x", **data})
        assert err.value.field == field


# --- the customer's attention ------------------------------------------------------------


def test_quiet_hours_in_each_customers_time_zone(workspace, make_customer, make_playbook):
    ny = make_customer(name="New York", custom_attributes={"time_zone": "America/New_York"})
    tokyo = make_customer(name="Tokyo", custom_attributes={"time_zone": "Asia/Tokyo"})
    madrid = make_customer(name="Madrid")  # no zone of their own: the workspace's (Madrid)
    pb = make_playbook("event", event_type="renewal_due")
    for c in (ny, tokyo, madrid):
        CustomerEvent.objects.create(
            workspace=workspace, customer=c, type="renewal_due", occurred_at=NOW
        )
    # 14:00 UTC: 10:00 in New York (EDT), 15:00 in Madrid, 23:00 in Tokyo
    evaluation = services.dry_run(workspace=workspace, playbook=pb, now=NOW)
    verdicts = {d.customer_id: (d.verdict, d.note) for d in evaluation.decisions}
    assert verdicts[tokyo.pk][0] == Verdict.DEFER and "23:00 in Asia/Tokyo" in verdicts[tokyo.pk][1]
    _run(workspace, NOW)
    assert {o.customer_id for o in _contacted(pb)} == {ny.pk, madrid.pk}
    # 02:00 UTC next day: 11:00 in Tokyo, 22:00 in New York (quiet but already done)
    _run(workspace, NOW + dt.timedelta(hours=12))
    assert {o.customer_id for o in _contacted(pb)} == {ny.pk, madrid.pk, tokyo.pk}


def test_quiet_hours_follow_the_workspace_setting(workspace, make_customer, make_playbook, lead):
    c = make_customer()
    services.update_settings(
        workspace=workspace,
        actor=lead,
        changes={"quiet_start": dt.time(14), "quiet_end": dt.time(16)},
    )
    pb = make_playbook("event", event_type="renewal_due")
    CustomerEvent.objects.create(
        workspace=workspace, customer=c, type="renewal_due", occurred_at=NOW
    )
    _run(workspace, NOW)  # 15:00 in Madrid
    assert not Outreach.objects.filter(playbook=pb).exists()
    _run(workspace, NOW + dt.timedelta(hours=2))  # 17:00
    assert _contacted(pb, c).count() == 1


def test_weekly_cap_across_playbooks(workspace, make_customer, make_playbook):
    CareSettings.objects.update_or_create(workspace=workspace, defaults={"weekly_cap": 2})
    c = make_customer()
    books = [make_playbook("event", event_type=f"e{i}", name=f"P{i}") for i in range(3)]
    for i in range(3):
        CustomerEvent.objects.create(workspace=workspace, customer=c, type=f"e{i}", occurred_at=NOW)
    _run(workspace, NOW)
    statuses = sorted(Outreach.objects.values_list("status", flat=True))
    assert statuses == ["contacted", "contacted", "skipped"]
    skipped = Outreach.objects.get(status="skipped")
    assert "weekly cap" in skipped.skip_reason and skipped.playbook == books[2]
    assert OutboundMessage.objects.filter(customer_id=c.pk).count() == 2
    # a week later the customer can hear from us again
    CustomerEvent.objects.create(
        workspace=workspace, customer=c, type="e0", occurred_at=NOW + _days(8)
    )
    _run(workspace, NOW + _days(8))
    assert _contacted(books[0], c).count() == 2


def test_opt_out_per_channel(workspace, make_customer, make_playbook):
    both = make_customer(name="Both", phone=True, preferred_channel="email")
    email_only = make_customer(name="Email only")
    everything = make_customer(name="Nothing", phone=True)
    for c in (both, email_only):
        services.set_opt_out(workspace=workspace, customer_id=c.pk, channel="email", opted_out=True)
    services.set_opt_out(
        workspace=workspace, customer_id=everything.pk, channel="all", opted_out=True
    )
    pb = make_playbook("event", event_type="renewal_due", task_text="Call")
    for c in (both, email_only, everything):
        CustomerEvent.objects.create(
            workspace=workspace, customer=c, type="renewal_due", occurred_at=NOW
        )
    _run(workspace, NOW)
    got = {o.customer_id: o for o in Outreach.objects.filter(playbook=pb)}
    assert got[both.pk].status == "contacted" and got[both.pk].channel == "sms"
    assert got[email_only.pk].status == "skipped" and "opted out" in got[email_only.pk].skip_reason
    assert got[everything.pk].status == "skipped"
    assert not FollowUp.objects.filter(outreach__status="skipped").exists()
    assert OutboundMessage.objects.count() == 1
    with pytest.raises(InvalidInput):
        services.set_opt_out(
            workspace=workspace, customer_id=both.pk, channel="fax", opted_out=True
        )
    services.set_opt_out(workspace=workspace, customer_id=both.pk, channel="email", opted_out=False)
    assert not OptOut.objects.filter(customer=both).exists()


def test_opt_out_in_preferences_is_honoured(workspace, make_customer, make_playbook):
    """Opt-outs written into the customer's preferences (an import, the API, trend outreach)
    hold for playbooks as much as rows in the opt-out table."""
    quiet = make_customer(name="Quiet", phone=True, preferred_channel="email")
    quiet.preferences = {"opt_out_channels": ["email"]}
    quiet.save()
    silent = make_customer(name="Silent")
    silent.preferences = {"proactive_opt_out": True}
    silent.save()
    pb = make_playbook("event", event_type="renewal_due")
    for c in (quiet, silent):
        CustomerEvent.objects.create(
            workspace=workspace, customer=c, type="renewal_due", occurred_at=NOW
        )
    _run(workspace, NOW)
    got = {o.customer_id: o for o in Outreach.objects.filter(playbook=pb)}
    assert got[quiet.pk].status == "contacted" and got[quiet.pk].channel == "sms"
    assert got[silent.pk].status == "skipped" and "opted out" in got[silent.pk].skip_reason


def test_no_outreach_while_a_conversation_is_open(workspace, make_customer, make_playbook):
    busy = make_customer(name="Busy")
    ConversationFactory(customer=busy, status="open", customer_message_count=1)
    strict = make_playbook("event", event_type="renewal_due", name="strict")
    lenient = make_playbook(
        "event", event_type="renewal_due", name="lenient", allow_open_conversation=True
    )
    CustomerEvent.objects.create(
        workspace=workspace, customer=busy, type="renewal_due", occurred_at=NOW
    )
    _run(workspace, NOW)
    assert not Outreach.objects.filter(playbook=strict).exists()
    assert _contacted(lenient, busy).count() == 1
    # the outbound case the lenient playbook opened is not "open" for the strict one;
    # the customer's own case still is until it is resolved
    Conversation.objects.filter(customer=busy, customer_message_count=1).update(
        status="resolved", resolved_at=NOW
    )
    _run(workspace, NOW + dt.timedelta(hours=1))
    assert Outreach.objects.filter(playbook=strict).count() == 1


# --- exactly once ------------------------------------------------------------------------


def test_the_claim_is_a_database_constraint(workspace, make_customer, make_playbook):
    from django.db import IntegrityError, transaction

    c = make_customer()
    pb = make_playbook("detractor")
    row = dict(
        workspace=workspace,
        playbook=pb,
        customer=c,
        trigger_key="survey:1",
        reason="x",
        status="contacted",
        contacted_at=NOW,
    )
    Outreach.objects.create(**row)
    with pytest.raises(IntegrityError), transaction.atomic():
        Outreach.objects.create(**row)


def test_a_failure_mid_action_leaves_no_claim_and_the_next_run_contacts(
    workspace, make_customer, make_playbook, monkeypatch
):
    from warmline.channels import outbound

    c = make_customer()
    pb = make_playbook("event", event_type="renewal_due", task_text="Call")
    CustomerEvent.objects.create(
        workspace=workspace, customer=c, type="renewal_due", occurred_at=NOW
    )
    real = outbound.send

    def crash(**kw):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(outbound, "send", crash)
    with pytest.raises(RuntimeError):
        _run(workspace, NOW)
    assert not Outreach.objects.exists() and not FollowUp.objects.exists()
    monkeypatch.setattr(outbound, "send", real)
    _run(workspace, NOW + dt.timedelta(minutes=15))  # the restarted worker's next run
    _run(workspace, NOW + dt.timedelta(minutes=30))
    assert _contacted(pb, c).count() == 1 and FollowUp.objects.count() == 1
    assert OutboundMessage.objects.filter(customer_id=c.pk).count() == 1


def test_dry_run_lists_who_and_why_and_writes_nothing(workspace, make_customer, make_playbook):
    a = make_customer(name="Ana")
    b = make_customer(name="Bea", custom_attributes={"time_zone": "Asia/Tokyo"})
    pb = make_playbook("event", event_type="order_delivered")
    for c in (a, b):
        CustomerEvent.objects.create(
            workspace=workspace, customer=c, type="order_delivered", occurred_at=NOW
        )
    evaluation = services.dry_run(workspace=workspace, playbook=pb, now=NOW)
    summary = services.summarise(evaluation)
    assert summary["contact"] == 1 and summary["defer"] == 1
    first = evaluation.by_verdict(Verdict.CONTACT)[0]
    assert first.customer_id == a.pk and first.channel == "email"
    assert first.reason == "order_delivered on 2026-03-10"
    assert not Outreach.objects.exists() and not OutboundMessage.objects.exists()


def test_a_trend_marked_fixed_by_the_trends_app_tells_its_customers(
    workspace, make_customer, make_playbook, django_capture_on_commit_callbacks
):
    from warmline.proactive.models import Topic, Trend, TrendConversation

    hit, _spared = make_customer(), make_customer(name="Spared")
    pb = make_playbook("trend_fixed", message_body="Hi {first_name}: {reason}.")
    topic = Topic.objects.create(workspace=workspace, label="blank invoice pdf")
    trend = Trend.objects.create(
        workspace=workspace,
        topic=topic,
        reason="new_topic",
        flagged_at=NOW,
        first_seen_at=NOW,
        last_seen_at=NOW,
    )
    TrendConversation.objects.create(
        workspace=workspace,
        trend=trend,
        conversation=ConversationFactory(customer=hit),
        customer=hit,
    )
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        trend.state, trend.fixed_at = "fixed", NOW
        trend.fix_summary = "invoices render again"
        trend.save()
    out = Outreach.objects.get(playbook=pb)
    assert out.customer_id == hit.pk and out.trigger_key == f"trend:{trend.pk}"
    text = TimelineEntry.objects.get(conversation=out.conversation, kind="assistant_reply").text
    assert text == "Hi Ana: fixed: invoices render again."
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        trend.save()  # saved again while fixed: nobody hears twice
    assert Outreach.objects.count() == 1
