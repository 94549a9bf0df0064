"""Authority: inside it an action executes at once, above it a lead approves or denies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from warmline.actions import services
from warmline.actions.models import (
    ActionStatus,
    ApprovalRequest,
    ApprovalStatus,
    AuthorityProfile,
    DailyUsage,
    EmpoweredAction,
)
from warmline.conversations.models import EntryKind, TimelineEntry
from warmline.customers.models import Order
from warmline.errors import Conflict, InvalidInput, NotFound, PolicyDenied
from warmline.tenancy.models import AuditEntry, Notification

from ..factories import ConversationFactory, CustomerFactory, MemberFactory


def make_order(conversation, *, external_id="W1", status="delivered", total="100.00", **kw):
    items = kw.pop(
        "items",
        [
            {"item_id": "i1", "product_id": "p1", "name": "Lamp", "price": "60.00"},
            {"item_id": "i2", "product_id": "p2", "name": "Mug", "price": "40.00"},
        ],
    )
    return Order.objects.create(
        workspace=conversation.workspace,
        customer=conversation.customer,
        external_id=external_id,
        status=status,
        items=items,
        total=Decimal(total),
        payment_method=kw.pop("payment_method", "credit_card_1"),
        **kw,
    )


def agent_profile(workspace, limits=None, daily_cap="100.00", **kw):
    return AuthorityProfile.objects.create(
        workspace=workspace,
        role=kw.pop("role", "agent"),
        limits=limits
        if limits is not None
        else {"refund": "50.00", "account_credit": "30.00", "change_address": None},
        daily_cap=Decimal(daily_cap) if daily_cap is not None else None,
        **kw,
    )


@pytest.fixture
def conversation(workspace):
    return ConversationFactory(customer=CustomerFactory(workspace=workspace))


def credit(member, conversation, amount, key):
    return services.request_action(
        member=member,
        conversation_id=conversation.pk,
        action="account_credit",
        params={"amount": amount, "reason": "late delivery"},
        idempotency_key=key,
    )


def test_inside_authority_executes_at_once(member, conversation):
    agent_profile(member.workspace)
    result = credit(member, conversation, "20.00", "k1")
    action = result.action
    assert result.created and action.status == ActionStatus.EXECUTED and action.within_authority
    assert action.amount == Decimal("20.00") and action.currency == "USD"
    conversation.customer.refresh_from_db()
    assert conversation.customer.custom_attributes["account_credit"] == "20.00"
    usage = DailyUsage.objects.get(member=member)
    assert usage.total == Decimal("20.00") and usage.count == 1


def test_above_the_per_action_maximum_needs_approval_and_tells_the_customer(member, conversation):
    agent_profile(member.workspace)
    lead = MemberFactory(workspace=member.workspace, role="lead")
    action = credit(member, conversation, "30.01", "k1").action
    assert action.status == ActionStatus.PENDING_APPROVAL and not action.within_authority
    approval = action.approval
    assert approval.status == ApprovalStatus.PENDING
    assert "above the maximum of 30.00" in approval.reason
    hours = (approval.expires_at - approval.created_at).total_seconds() / 3600
    assert round(hours) == 24
    reply = TimelineEntry.objects.get(conversation=conversation, kind=EntryKind.AGENT_REPLY)
    assert reply.text.startswith("I've asked my team lead to approve this account credit of 30.01")
    assert "within 24 hours" in reply.text
    assert Notification.objects.filter(member=lead, kind="approval_requested").count() == 1
    # Nothing was given and nothing counted against the cap.
    conversation.customer.refresh_from_db()
    assert "account_credit" not in conversation.customer.custom_attributes
    assert DailyUsage.objects.get(member=member).total == 0


def test_the_customer_hears_what_happens_next_in_spanish(member, workspace):
    agent_profile(workspace, daily_cap=None)
    conv = ConversationFactory(
        customer=CustomerFactory(workspace=workspace, preferred_language="es")
    )
    credit(member, conv, "45.00", "k1")
    reply = TimelineEntry.objects.get(conversation=conv, kind=EntryKind.AGENT_REPLY)
    assert reply.text.startswith("He pedido a mi responsable de equipo que apruebe el crédito")


def test_an_action_the_profile_does_not_list_needs_approval(member, conversation):
    agent_profile(member.workspace)
    result = services.request_action(
        member=member,
        conversation_id=conversation.pk,
        action="fee_waiver",
        params={"fee": "late payment", "amount": "5", "reason": "first time"},
        idempotency_key="k1",
    )
    assert result.action.status == ActionStatus.PENDING_APPROVAL
    assert "not within" in result.action.approval.reason


def test_without_any_profile_everything_needs_approval(member, conversation):
    action = credit(member, conversation, "1.00", "k1").action
    assert action.status == ActionStatus.PENDING_APPROVAL


def test_daily_cap_sends_the_action_that_would_exceed_it_for_approval(member, conversation):
    agent_profile(member.workspace, daily_cap="50.00")
    assert credit(member, conversation, "30.00", "a").action.status == ActionStatus.EXECUTED
    assert credit(member, conversation, "20.00", "b").action.status == ActionStatus.EXECUTED
    third = credit(member, conversation, "0.01", "c").action
    assert third.status == ActionStatus.PENDING_APPROVAL
    assert "today's cap (50.00 of 50.00 used)" in third.approval.reason
    # Non-money actions are not capped by money.
    moved = services.request_action(
        member=member,
        conversation_id=conversation.pk,
        action="change_address",
        params={
            "address": {"address1": "1 Main St", "city": "Madrid", "country": "ES", "zip": "28001"}
        },
        idempotency_key="d",
    )
    assert moved.action.status == ActionStatus.EXECUTED


def test_cap_is_per_workspace_local_day(member, conversation, monkeypatch):
    # Madrid is UTC+1 in January: 23:30 UTC on the 1st is already the 2nd there.
    agent_profile(member.workspace, daily_cap="50.00")
    late = dt.datetime(2026, 1, 1, 23, 30, tzinfo=dt.UTC)
    assert services.local_day(member.workspace, late) == dt.date(2026, 1, 2)
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 1, 1, 22, 0, tzinfo=dt.UTC))
    credit(member, conversation, "30.00", "a")
    monkeypatch.setattr(timezone, "now", lambda: late)
    second = credit(member, conversation, "30.00", "b").action
    assert second.status == ActionStatus.EXECUTED  # a new day in Madrid: a fresh cap
    days = sorted(DailyUsage.objects.filter(member=member).values_list("day", flat=True))
    assert days == [dt.date(2026, 1, 1), dt.date(2026, 1, 2)]


def test_a_member_profile_overrides_the_role_profile(member, conversation):
    agent_profile(member.workspace)
    AuthorityProfile.objects.create(
        workspace=member.workspace, member=member, limits={"account_credit": "500.00"}
    )
    assert credit(member, conversation, "400.00", "k1").action.status == ActionStatus.EXECUTED
    summary = services.authority_summary(member)
    assert summary["source"] == "member" and summary["limits"] == {"account_credit": "500.00"}
    assert summary["daily_cap"] is None and summary["used_today"] == "400.00"


def test_a_currency_other_than_the_workspaces_needs_approval(member, conversation):
    agent_profile(member.workspace)
    action = credit(member, conversation, "5.00", "k1")
    assert action.action.status == ActionStatus.EXECUTED
    services.request_action(
        member=member,
        conversation_id=conversation.pk,
        action="account_credit",
        params={"amount": "5.00", "currency": "EUR", "reason": "x"},
        idempotency_key="k2",
    )
    assert EmpoweredAction.objects.get(idempotency_key="k2").status == ActionStatus.PENDING_APPROVAL


# ------------------------------------------------------------------- approvals


@pytest.fixture
def pending(member, conversation):
    agent_profile(member.workspace)
    order = make_order(conversation)
    result = services.request_action(
        member=member,
        conversation_id=conversation.pk,
        action="refund",
        params={"order_id": order.pk, "amount": "80.00", "reason": "broken"},
        idempotency_key="refund-1",
    )
    return result.action.approval


def test_a_lead_approves_and_the_action_executes(pending, lead, conversation):
    approval = services.approve(member=lead, approval_id=pending.pk, note="ok, loyal customer")
    assert approval.status == ApprovalStatus.APPROVED and approval.decided_by == lead
    action = EmpoweredAction.objects.get(pk=pending.action_id)
    assert action.status == ActionStatus.EXECUTED and action.result["amount"] == "80.00"
    assert action.counted_day is None  # approved actions do not spend the agent's cap
    texts = list(
        TimelineEntry.objects.filter(conversation=conversation, kind=EntryKind.ACTION)
        .order_by("id")
        .values_list("text", flat=True)
    )
    assert texts[0].startswith("Refund of 80.00 USD on order W1 needs approval")
    assert texts[1] == f"Refund of 80.00 USD on order W1 approved by {lead}."
    assert texts[2] == "Refund of 80.00 USD on order W1"
    audit = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert "action.refund.request_approval" in audit and "approval.approve" in audit
    assert audit[-1] == "action.refund.execute"
    with pytest.raises(Conflict):
        services.approve(member=lead, approval_id=pending.pk)


def test_a_denied_request_never_executes(pending, lead):
    services.deny(member=lead, approval_id=pending.pk, note="outside policy")
    action = EmpoweredAction.objects.get(pk=pending.action_id)
    assert action.status == ActionStatus.DENIED and action.result == {}
    assert Notification.objects.filter(member=action.requested_by, kind="approval_decided").exists()
    with pytest.raises(Conflict):
        services.approve(member=lead, approval_id=pending.pk)


def test_an_expired_request_cannot_be_approved(pending, lead):
    ApprovalRequest.objects.filter(pk=pending.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(Conflict, match="expired"):
        services.approve(member=lead, approval_id=pending.pk)
    pending.refresh_from_db()
    assert pending.status == ApprovalStatus.EXPIRED
    assert EmpoweredAction.objects.get(pk=pending.action_id).status == ActionStatus.EXPIRED
    assert AuditEntry.objects.filter(action="approval.expire").count() == 1


def test_the_periodic_sweep_expires_old_requests(pending):
    assert services.expire_approvals(now=timezone.now()) == 0
    assert services.expire_approvals(now=timezone.now() + dt.timedelta(hours=25)) == 1
    pending.refresh_from_db()
    assert pending.status == ApprovalStatus.EXPIRED


def test_agents_cannot_decide_and_nobody_approves_their_own(pending, member, workspace):
    with pytest.raises(PolicyDenied):
        services.approve(member=member, approval_id=pending.pk)
    member.role = "lead"
    member.save()
    with pytest.raises(PolicyDenied, match="own request"):
        services.approve(member=member, approval_id=pending.pk)


def test_approval_refuses_when_the_order_moved_on(pending, lead):
    Order.objects.filter(pk=pending.action.order_id).update(status="cancelled")
    services.approve(member=lead, approval_id=pending.pk)
    action = EmpoweredAction.objects.get(pk=pending.action_id)
    assert action.status == ActionStatus.REFUSED and action.rule == "refund.not_cancelled"


def test_another_workspaces_approval_is_not_found(pending, other_workspace):
    outsider = MemberFactory(workspace=other_workspace, role="admin")
    with pytest.raises(NotFound):
        services.approve(member=outsider, approval_id=pending.pk)


# ------------------------------------------------------------------ idempotency


def test_the_same_key_returns_the_same_action_and_never_executes_twice(member, conversation):
    agent_profile(member.workspace)
    first = credit(member, conversation, "10.00", "double-click")
    again = credit(member, conversation, "10.00", "double-click")
    assert first.created and not again.created and again.action.pk == first.action.pk
    conversation.customer.refresh_from_db()
    assert conversation.customer.custom_attributes["account_credit"] == "10.00"
    assert EmpoweredAction.objects.count() == 1
    assert DailyUsage.objects.get(member=member).total == Decimal("10.00")
    with pytest.raises(Conflict):
        credit(member, conversation, "11.00", "double-click")


def test_every_executed_action_has_a_timeline_and_an_audit_entry(member, conversation):
    agent_profile(member.workspace)
    action = credit(member, conversation, "12.50", "k1").action
    entry = TimelineEntry.objects.get(conversation=conversation, kind=EntryKind.ACTION)
    assert entry.text == "Account credit of 12.50 USD" and entry.author_member == member
    assert entry.data["action_id"] == action.pk and entry.data["amount"] == "12.50"
    audit = AuditEntry.objects.get(action="action.account_credit.execute")
    assert audit.actor == member and audit.object_id == str(action.pk)
    assert audit.before == {"account_credit": "0"}
    assert audit.after["result"]["after"] == {"account_credit": "12.50"}
    assert audit.after["amount"] == "12.50" and audit.after["idempotency_key"] == "k1"


def test_bad_params_name_the_field(member, conversation):
    with pytest.raises(InvalidInput) as exc:
        credit(member, conversation, "-3", "k1")
    assert exc.value.field == "params.amount"
    with pytest.raises(InvalidInput) as exc:
        credit(member, conversation, "1.001", "k1")
    assert exc.value.field == "params.amount"
    with pytest.raises(InvalidInput) as exc:
        services.request_action(
            member=member,
            conversation_id=conversation.pk,
            action="teleport",
            params={},
            idempotency_key="k",
        )
    assert exc.value.field == "action"


def test_float_amounts_are_read_as_the_decimal_written(member, conversation):
    agent_profile(member.workspace)
    action = credit(member, conversation, 0.1, "k1").action
    assert action.amount == Decimal("0.10")


def test_another_customers_order_is_not_found(member, conversation, workspace):
    other = ConversationFactory(customer=CustomerFactory(workspace=workspace))
    order = make_order(other)
    with pytest.raises(NotFound) as exc:
        services.request_action(
            member=member,
            conversation_id=conversation.pk,
            action="refund",
            params={"order_id": order.pk, "reason": "x"},
            idempotency_key="k",
        )
    assert exc.value.field == "params.order_id"


def test_store_preconditions_refuse_before_any_approval(member, conversation):
    order = make_order(conversation, status="delivered")
    with pytest.raises(PolicyDenied, match="non-pending order cannot be cancelled"):
        services.request_action(
            member=member,
            conversation_id=conversation.pk,
            action="cancel_order",
            params={"order_id": order.pk, "reason": "no longer needed"},
            idempotency_key="k",
        )
    assert not EmpoweredAction.objects.exists() and not ApprovalRequest.objects.exists()


# -------------------------------------------------------------------- profiles


def test_profiles_are_validated_and_audited(workspace, member):
    admin = MemberFactory(workspace=workspace, role="admin")
    profile = services.create_profile(
        actor=admin, role="agent", limits={"refund": 25, "replacement": None}, daily_cap="200"
    )
    assert profile.limits == {"refund": "25.00", "replacement": None}
    assert profile.daily_cap == Decimal("200.00")
    with pytest.raises(Conflict):
        services.create_profile(actor=admin, role="agent", limits={})
    with pytest.raises(InvalidInput) as exc:
        services.update_profile(actor=admin, profile_id=profile.pk, changes={"limits": {"fly": 1}})
    assert exc.value.field == "limits.fly"
    with pytest.raises(InvalidInput) as exc:
        services.update_profile(actor=admin, profile_id=profile.pk, changes={"daily_cap": "-1"})
    assert exc.value.field == "daily_cap"
    with pytest.raises(PolicyDenied):
        services.create_profile(actor=member, member_id=member.pk, limits={})
    services.update_profile(actor=admin, profile_id=profile.pk, changes={"daily_cap": None})
    audit = AuditEntry.objects.get(action="authority.update")
    assert audit.before["daily_cap"] == "200.00" and audit.after["daily_cap"] is None
