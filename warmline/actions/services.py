"""Empowered actions: authority, the request → execute / approve path, and its records.

An action inside the member's authority executes at once; above it, it becomes an
approval request for a lead and the customer is told what happens next. Every action
writes a timeline entry and an audit entry, and carries an idempotency key (unique per
workspace) so a double click never gives twice. Caps hold under concurrency because the
check and the spend happen while holding the member's ``DailyUsage`` row for the day
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write transaction is already exclusive).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from warmline.conversations.models import Conversation, EntryKind
from warmline.conversations.services import add_system_entry, get_conversation
from warmline.customers.models import Order
from warmline.customers.services import get_order
from warmline.errors import Conflict, DomainError, InvalidInput, NotFound, PolicyDenied
from warmline.tenancy.models import Member, Role, Workspace
from warmline.tenancy.services import get_member, notify, record_audit

from .catalogue import CATALOGUE, ActionSpec, Params, get_spec, jsonable
from .connectors import FAILED, REFUSED, SUCCEEDED, Connector, OrderFacts, Outcome, connector_for
from .models import (
    ActionStatus,
    ApprovalRequest,
    ApprovalStatus,
    AuthorityProfile,
    DailyUsage,
    EmpoweredAction,
)

log = logging.getLogger(__name__)

DEFAULT_APPROVAL_HOURS = 24
CENT = Decimal("0.01")


# ------------------------------------------------------------------------ authority


@dataclass(frozen=True)
class Authority:
    """A member's effective authority: their own profile, else their role's, else none."""

    source: str  # "member", "role" or "none"
    limits: dict[str, Decimal | None] = field(default_factory=dict)
    daily_cap: Decimal | None = None
    profile_id: int | None = None


def effective_authority(member: Member) -> Authority:
    profiles = {
        ("member" if p.member_id else "role"): p
        for p in AuthorityProfile.objects.filter(workspace_id=member.workspace_id).filter(
            member=member
        )
        | AuthorityProfile.objects.filter(
            workspace_id=member.workspace_id, member__isnull=True, role=member.role
        )
    }
    profile = profiles.get("member") or profiles.get("role")
    if profile is None:
        return Authority(source="none")
    return Authority(
        source="member" if profile.member_id else "role",
        limits={k: (Decimal(v) if v is not None else None) for k, v in profile.limits.items()},
        daily_cap=profile.daily_cap,
        profile_id=profile.pk,
    )


@dataclass(frozen=True)
class Decision:
    within: bool
    reason: str = ""


def decide(
    authority: Authority,
    *,
    spec: ActionSpec,
    amount: Decimal | None,
    currency: str,
    workspace_currency: str,
    used_today: Decimal,
) -> Decision:
    """Whether an action is inside authority; the reason is what the approver will read."""
    if spec.code not in authority.limits:
        return Decision(False, f"{spec.label} is not within the requester's authority.")
    amount = amount or Decimal("0")
    if amount and currency != workspace_currency:
        return Decision(False, f"Amount in {currency}; authority is set in {workspace_currency}.")
    maximum = authority.limits[spec.code]
    if maximum is not None and amount > maximum:
        return Decision(False, f"{amount} {currency} is above the maximum of {maximum} per action.")
    cap = authority.daily_cap
    if cap is not None and amount and used_today + amount > cap:
        return Decision(
            False, f"{amount} {currency} would exceed today's cap ({used_today} of {cap} used)."
        )
    return Decision(True)


def local_day(workspace: Workspace, at: dt.datetime | None = None) -> dt.date:
    """The workspace-local calendar day: caps reset at the business's midnight, not UTC's."""
    try:
        zone = ZoneInfo(workspace.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return (at or timezone.now()).astimezone(zone).date()


def _locked_usage(member: Member, day: dt.date) -> DailyUsage:
    """The member's usage row for the day, created if needed, locked until commit."""
    DailyUsage.objects.get_or_create(workspace_id=member.workspace_id, member=member, day=day)
    return DailyUsage.objects.select_for_update().get(member=member, day=day)


def authority_summary(member: Member) -> dict[str, Any]:
    authority = effective_authority(member)
    day = local_day(member.workspace)
    usage = DailyUsage.objects.filter(member=member, day=day).first()
    used = usage.total if usage else Decimal("0")
    return {
        "member_id": member.pk,
        "role": member.role,
        "source": authority.source,
        "currency": member.workspace.currency,
        "limits": {k: (str(v) if v is not None else None) for k, v in authority.limits.items()},
        "daily_cap": str(authority.daily_cap) if authority.daily_cap is not None else None,
        "day": day,
        "used_today": str(used),
        "actions_today": usage.count if usage else 0,
        "remaining_today": (
            str(max(Decimal("0"), authority.daily_cap - used))
            if authority.daily_cap is not None
            else None
        ),
    }


# ------------------------------------------------------------------------- request


@dataclass
class RequestResult:
    action: EmpoweredAction
    created: bool


def request_action(
    *,
    member: Member,
    conversation_id: Any,
    action: str,
    params: dict[str, Any],
    idempotency_key: str,
) -> RequestResult:
    """Execute the action if inside authority, else ask a lead; the same key never runs twice."""
    spec = get_spec(action)
    key = (idempotency_key or "").strip()
    if not key or len(key) > 200:
        raise InvalidInput(
            "Give an idempotency key of 1 to 200 characters.", field="idempotency_key"
        )
    parsed = spec.parse(params)
    workspace = member.workspace
    existing = _by_key(workspace, key)
    if existing is not None:
        return _replay(existing, spec, parsed)
    conversation = get_conversation(workspace=workspace, conversation_id=conversation_id)
    order = _order_of(workspace, conversation, parsed) if spec.takes_order else None
    try:
        with transaction.atomic():
            return _request_locked(member, spec, parsed, key, conversation, order)
    except IntegrityError:
        # Another request with the same key committed between our check and our insert.
        existing = _by_key(workspace, key)
        if existing is None:
            raise
        return _replay(existing, spec, parsed)


def _by_key(workspace: Workspace, key: str) -> EmpoweredAction | None:
    return (
        EmpoweredAction.objects.select_related("approval")
        .filter(workspace=workspace, idempotency_key=key)
        .first()
    )


def _replay(existing: EmpoweredAction, spec: ActionSpec, parsed: Params) -> RequestResult:
    if existing.code != spec.code or existing.params != jsonable(parsed):
        raise Conflict(
            "This idempotency key was already used for a different action.",
            field="idempotency_key",
        )
    return RequestResult(existing, created=False)


def _order_of(workspace: Workspace, conversation: Conversation, parsed: Params) -> Order:
    """The order named in the params; another customer's order is as absent as a missing one."""
    order_id = getattr(parsed, "order_id", None)
    try:
        order = get_order(workspace=workspace, order_id=order_id)
    except NotFound:
        raise NotFound("No such order.", field="params.order_id") from None
    if order.customer_id != conversation.customer_id:
        raise NotFound("No such order.", field="params.order_id")
    return order


def _request_locked(
    member: Member,
    spec: ActionSpec,
    parsed: Params,
    key: str,
    conversation: Conversation,
    order: Order | None,
) -> RequestResult:
    workspace = member.workspace
    day = local_day(workspace)
    usage = _locked_usage(member, day)
    # Re-read under the lock: a parallel twin may have committed while we waited for it.
    existing = _by_key(workspace, key)
    if existing is not None:
        return _replay(existing, spec, parsed)
    if order is not None:
        order = Order.objects.select_for_update().get(pk=order.pk)
    facts = OrderFacts.of(order) if order is not None else None
    amount = spec.money(parsed, facts).quantize(CENT) if spec.money else None
    currency = _currency(workspace, parsed, order)
    action = EmpoweredAction(
        workspace=workspace,
        conversation=conversation,
        customer_id=conversation.customer_id,
        order=order,
        requested_by=member,
        code=spec.code,
        params=jsonable(parsed),
        amount=amount,
        currency=currency,
        idempotency_key=key,
    )
    connector = connector_for(action)
    action.connector = connector.name
    connector.check(action, parsed)  # the store policy refuses impossible actions now
    decision = decide(
        effective_authority(member),
        spec=spec,
        amount=amount,
        currency=currency,
        workspace_currency=workspace.currency,
        used_today=usage.total,
    )
    if not decision.within:
        action.status = ActionStatus.PENDING_APPROVAL
        action.save()
        _ask_for_approval(action, spec, member, decision.reason)
        return RequestResult(action, created=True)
    action.within_authority = True
    action.counted_day = day
    action.status = ActionStatus.QUEUED if connector.deferred else ActionStatus.EXECUTED
    action.save()
    usage.total += amount or Decimal("0")
    usage.count += 1
    usage.save(update_fields=["total", "count", "updated_at"])
    outcome = _run(action, parsed, connector, actor=member)
    if outcome is not None and outcome.status == REFUSED:
        # Checked a moment ago under the same locks, so this is rare; nothing is kept.
        raise PolicyDenied(outcome.error or "The connector refused the action.")
    return RequestResult(action, created=True)


def _currency(workspace: Workspace, parsed: Params, order: Order | None) -> str:
    given = getattr(parsed, "currency", None)
    if order is not None:
        if given and given != order.currency:
            raise InvalidInput(
                f"The order is in {order.currency}, not {given}.", field="params.currency"
            )
        return order.currency
    return given or workspace.currency


def _run(
    action: EmpoweredAction, parsed: Params, connector: Connector, *, actor: Member | None
) -> Outcome | None:
    """Execute now (store) or after commit in a task (webhook); returns the outcome if now."""
    if connector.deferred:
        _timeline(action, f"{describe(action)} sent to the business's system.", actor)
        record_audit(
            workspace=action.workspace,
            actor=actor,
            action=f"action.{action.code}.queue",
            obj=action,
            after=_audit_after(action),
        )
        from .tasks import run_deferred_action

        transaction.on_commit(lambda: run_deferred_action(action.pk))
        return None
    outcome = connector.execute(action, parsed)
    record_outcome(action=action, outcome=outcome, actor=actor)
    return outcome


def record_outcome(*, action: EmpoweredAction, outcome: Outcome, actor: Member | None) -> None:
    """Store what the connector did; a refusal or failure gives the spent amount back."""
    action.result = outcome.result
    action.error = outcome.error[:500]
    action.rule = outcome.rule[:60]
    action.response_code = outcome.response_code
    action.attempts = outcome.attempts
    before = (outcome.result or {}).get("before")
    if outcome.status == SUCCEEDED:
        action.status = ActionStatus.EXECUTED
        action.executed_at = timezone.now()
        text = describe(action)
    else:
        action.status = ActionStatus.REFUSED if outcome.status == REFUSED else ActionStatus.FAILED
        _release(action)
        text = f"{describe(action)} {action.status}: {action.error}"
    action.save()
    _timeline(action, text, actor)
    record_audit(
        workspace=action.workspace,
        actor=actor,
        action=f"action.{action.code}.{'execute' if outcome.status == SUCCEEDED else action.status}",
        obj=action,
        before=before,
        after=_audit_after(action),
    )
    if outcome.status == FAILED and action.requested_by_id:
        notify(
            member=action.requested_by,
            kind="action_failed",
            text=f"{describe(action)} failed: {action.error}",
        )


def _release(action: EmpoweredAction) -> None:
    if action.counted_day is None or action.requested_by_id is None:
        return
    usage = _locked_usage(action.requested_by, action.counted_day)
    usage.total = max(Decimal("0"), usage.total - (action.amount or Decimal("0")))
    usage.count = max(0, usage.count - 1)
    usage.save(update_fields=["total", "count", "updated_at"])
    action.counted_day = None


def run_deferred(action_id: int) -> EmpoweredAction:
    """The Huey task's body: deliver a queued action through its connector and record it."""
    action = EmpoweredAction.objects.select_related(
        "workspace", "conversation", "order", "requested_by"
    ).get(pk=action_id)
    if action.status != ActionStatus.QUEUED:
        return action  # already delivered (a redelivered task must not post twice)
    spec = get_spec(action.code)
    outcome = connector_for(action).execute(action, spec.parse(action.params))
    with transaction.atomic():
        locked = EmpoweredAction.objects.select_for_update().get(pk=action_id)
        if locked.status != ActionStatus.QUEUED:
            return locked
        record_outcome(action=action, outcome=outcome, actor=None)
    return action


# ------------------------------------------------------------------------- approvals


LABELS_ES = {
    "refund": "el reembolso",
    "account_credit": "el crédito en tu cuenta",
    "discount_code": "el código de descuento",
    "fee_waiver": "la exención del cargo",
    "free_period": "la extensión gratuita",
    "replacement": "el envío de reposición",
    "cancel_order": "la cancelación del pedido",
    "modify_order": "el cambio del pedido",
    "return_items": "la devolución",
    "exchange_items": "el cambio de artículos",
    "change_address": "el cambio de dirección",
}


def approval_hours(workspace: Workspace) -> int:
    try:
        return max(1, int((workspace.settings or {}).get("approval_hours", DEFAULT_APPROVAL_HOURS)))
    except (TypeError, ValueError):
        return DEFAULT_APPROVAL_HOURS


def _ask_for_approval(
    action: EmpoweredAction, spec: ActionSpec, member: Member, reason: str
) -> ApprovalRequest:
    hours = approval_hours(action.workspace)
    approval = ApprovalRequest.objects.create(
        workspace=action.workspace,
        action=action,
        requested_by=member,
        reason=reason[:300],
        expires_at=timezone.now() + dt.timedelta(hours=hours),
    )
    _timeline(action, f"{describe(action)} needs approval: {reason}", member)
    record_audit(
        workspace=action.workspace,
        actor=member,
        action=f"action.{action.code}.request_approval",
        obj=action,
        after=_audit_after(action) | {"approval_id": approval.pk, "reason": reason},
    )
    for lead in _approvers(action):
        notify(
            member=lead,
            kind="approval_requested",
            text=f"{member} asks you to approve {describe(action)}: {reason}",
            link=f"/actions/approvals/#a{approval.pk}",
        )
    # The customer is told on their channel: the one outbound path records and delivers.
    from warmline.channels import outbound

    outbound.send(
        workspace=action.workspace,
        actor=member,
        conversation=action.conversation,
        text=_what_happens_next(action, spec, hours),
    )
    return approval


def _what_happens_next(action: EmpoweredAction, spec: ActionSpec, hours: int) -> str:
    amount = f" of {action.amount} {action.currency}" if action.amount else ""
    language = (action.conversation.customer.preferred_language or "").lower()
    if language.startswith("es"):
        importe = f" de {action.amount} {action.currency}" if action.amount else ""
        return (
            f"He pedido a mi responsable de equipo que apruebe {LABELS_ES[spec.code]}{importe}; "
            f"tendrás noticias nuestras en un plazo de {hours} horas."
        )
    return (
        f"I've asked my team lead to approve this {spec.label.lower()}{amount}; "
        f"you'll hear from us within {hours} hours."
    )


def _approvers(action: EmpoweredAction) -> list[Member]:
    """The conversation's team lead if it has one, else every lead and admin but the requester."""
    team = action.conversation.team
    if team is not None and team.lead_id and team.lead_id != action.requested_by_id:
        return [team.lead]
    return list(
        Member.objects.filter(
            workspace_id=action.workspace_id, is_active=True, role__in=[Role.LEAD, Role.ADMIN]
        ).exclude(pk=action.requested_by_id)
    )


def get_approval(*, member: Member, approval_id: Any) -> ApprovalRequest:
    try:
        return ApprovalRequest.objects.select_related(
            "action__conversation__customer", "action__order", "action__requested_by"
        ).get(workspace_id=member.workspace_id, pk=approval_id)
    except (ApprovalRequest.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such approval request.", field="approval_id") from None


def list_approvals(*, member: Member, status: str | None = None) -> QuerySet[ApprovalRequest]:
    expire_approvals(workspace=member.workspace)
    qs = ApprovalRequest.objects.filter(workspace_id=member.workspace_id).select_related("action")
    if status:
        if status not in ApprovalStatus.values:
            raise InvalidInput(f"Unknown status '{status}'.", field="status")
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def _decidable(member: Member, approval_id: Any) -> ApprovalRequest:
    if not member.is_lead:
        raise PolicyDenied("Only team leads and admins decide approval requests.")
    approval = get_approval(member=member, approval_id=approval_id)
    if approval.status == ApprovalStatus.PENDING and approval.expires_at <= timezone.now():
        with transaction.atomic():
            _expire(approval)
    if approval.status != ApprovalStatus.PENDING:
        raise Conflict(f"The request is already {approval.status}.", field="approval_id")
    if approval.requested_by_id == member.pk:
        raise PolicyDenied("Nobody approves their own request.")
    return approval


def approve(*, member: Member, approval_id: Any, note: str = "") -> ApprovalRequest:
    """Execute the waiting action as approved; it does not count against anyone's daily cap."""
    approval = _decidable(member, approval_id)
    with transaction.atomic():
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
        if approval.status != ApprovalStatus.PENDING:
            raise Conflict(f"The request is already {approval.status}.", field="approval_id")
        action = EmpoweredAction.objects.select_related(
            "workspace", "conversation__customer", "order", "requested_by"
        ).get(pk=approval.action_id)
        approval.status = ApprovalStatus.APPROVED
        approval.decided_by = member
        approval.decided_at = timezone.now()
        approval.note = note[:500]
        approval.save()
        _timeline(action, f"{describe(action)} approved by {member}.", member)
        record_audit(
            workspace=action.workspace,
            actor=member,
            action="approval.approve",
            obj=approval,
            before={"status": ApprovalStatus.PENDING},
            after={"status": approval.status, "action_id": action.pk, "note": approval.note},
        )
        spec = get_spec(action.code)
        parsed = spec.parse(action.params)
        connector = connector_for(action)
        action.connector = connector.name
        try:
            connector.check(action, parsed)
        except DomainError as exc:
            # The order moved on while the request waited (shipped, cancelled…): record why.
            outcome = Outcome(REFUSED, error=exc.message, rule=getattr(exc, "rule", "") or "")
            record_outcome(action=action, outcome=outcome, actor=member)
        else:
            action.status = ActionStatus.QUEUED if connector.deferred else ActionStatus.EXECUTED
            action.save(update_fields=["status", "connector", "updated_at"])
            _run(action, parsed, connector, actor=member)
        if action.requested_by_id:
            notify(
                member=action.requested_by,
                kind="approval_decided",
                text=f"{member} approved {describe(action)} ({action.status}).",
            )
    approval.action = action
    return approval


def deny(*, member: Member, approval_id: Any, note: str = "") -> ApprovalRequest:
    approval = _decidable(member, approval_id)
    with transaction.atomic():
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
        if approval.status != ApprovalStatus.PENDING:
            raise Conflict(f"The request is already {approval.status}.", field="approval_id")
        action = EmpoweredAction.objects.select_related(
            "workspace", "conversation", "requested_by"
        ).get(pk=approval.action_id)
        approval.status = ApprovalStatus.DENIED
        approval.decided_by = member
        approval.decided_at = timezone.now()
        approval.note = note[:500]
        approval.save()
        action.status = ActionStatus.DENIED
        action.save(update_fields=["status", "updated_at"])
        reason = f": {approval.note}" if approval.note else "."
        _timeline(action, f"{describe(action)} denied by {member}{reason}", member)
        record_audit(
            workspace=action.workspace,
            actor=member,
            action="approval.deny",
            obj=approval,
            before={"status": ApprovalStatus.PENDING},
            after={"status": approval.status, "action_id": action.pk, "note": approval.note},
        )
        if action.requested_by_id:
            notify(
                member=action.requested_by,
                kind="approval_decided",
                text=f"{member} denied {describe(action)}{reason}",
            )
    approval.action = action
    return approval


def _expire(approval: ApprovalRequest) -> None:
    ApprovalRequest.objects.filter(pk=approval.pk, status=ApprovalStatus.PENDING).update(
        status=ApprovalStatus.EXPIRED, updated_at=timezone.now()
    )
    approval.status = ApprovalStatus.EXPIRED
    action = EmpoweredAction.objects.select_related(
        "workspace", "conversation", "requested_by"
    ).get(pk=approval.action_id)
    action.status = ActionStatus.EXPIRED
    action.save(update_fields=["status", "updated_at"])
    _timeline(action, f"{describe(action)}: the approval request expired.", None)
    record_audit(
        workspace=action.workspace,
        actor=None,
        action="approval.expire",
        obj=approval,
        before={"status": ApprovalStatus.PENDING},
        after={"status": ApprovalStatus.EXPIRED, "action_id": action.pk},
    )
    if action.requested_by_id:
        notify(
            member=action.requested_by,
            kind="approval_expired",
            text=f"Nobody decided {describe(action)} in time; follow up with the customer.",
        )


def expire_approvals(*, workspace: Workspace | None = None, now: dt.datetime | None = None) -> int:
    """Mark pending requests past their expiry as expired (periodic task and list views)."""
    qs = ApprovalRequest.objects.filter(
        status=ApprovalStatus.PENDING, expires_at__lte=now or timezone.now()
    )
    if workspace is not None:
        qs = qs.filter(workspace=workspace)
    ids = list(qs.values_list("pk", flat=True)[:500])
    for pk in ids:
        with transaction.atomic():
            approval = ApprovalRequest.objects.select_for_update().get(pk=pk)
            if approval.status == ApprovalStatus.PENDING:
                _expire(approval)
    return len(ids)


# ----------------------------------------------------------------------- reading


def get_action(*, member: Member, action_id: Any) -> EmpoweredAction:
    try:
        return EmpoweredAction.objects.select_related("approval").get(
            workspace_id=member.workspace_id, pk=action_id
        )
    except (EmpoweredAction.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such action.", field="action_id") from None


def list_actions(
    *, member: Member, conversation_id: int | None = None, limit: int = 100
) -> list[EmpoweredAction]:
    qs = EmpoweredAction.objects.filter(workspace_id=member.workspace_id)
    if conversation_id is not None:
        conversation = get_conversation(workspace=member.workspace, conversation_id=conversation_id)
        qs = qs.filter(conversation=conversation)
    return list(qs.select_related("approval").order_by("-created_at", "-id")[:limit])


def describe(action: EmpoweredAction) -> str:
    """One line for timelines and notifications: what, how much, on which order."""
    spec = CATALOGUE.get(action.code)
    text = spec.label if spec else action.code
    if action.amount:
        text += f" of {action.amount} {action.currency}"
    if action.order_id and action.order is not None:
        text += f" on order {action.order.external_id}"
    return text


def _timeline(action: EmpoweredAction, text: str, member: Member | None) -> None:
    add_system_entry(
        conversation=action.conversation,
        kind=EntryKind.ACTION,
        text=text,
        member=member,
        data={
            "action_id": action.pk,
            "action": action.code,
            "status": action.status,
            "amount": str(action.amount) if action.amount is not None else None,
            "currency": action.currency,
            "order_id": action.order_id,
        },
    )


def _audit_after(action: EmpoweredAction) -> dict[str, Any]:
    return {
        "action": action.code,
        "status": action.status,
        "amount": str(action.amount) if action.amount is not None else None,
        "currency": action.currency,
        "params": action.params,
        "conversation_id": action.conversation_id,
        "order_id": action.order_id,
        "idempotency_key": action.idempotency_key,
        "connector": action.connector,
        "result": action.result,
        "error": action.error,
        "rule": action.rule,
        "response_code": action.response_code,
        "attempts": action.attempts,
    }


# ------------------------------------------------------------------ profile admin


def _require_admin(member: Member) -> None:
    if member.role != Role.ADMIN:
        raise PolicyDenied("Only admins manage authority profiles.")


def clean_limits(limits: Any) -> dict[str, str | None]:
    """Action codes from the catalogue → a maximum amount (decimal string) or None."""
    if not isinstance(limits, dict):
        raise InvalidInput("limits must map action codes to amounts.", field="limits")
    out: dict[str, str | None] = {}
    for code, value in limits.items():
        if code not in CATALOGUE:
            raise InvalidInput(f"Unknown action '{code}'.", field=f"limits.{code}")
        if value is None:
            out[code] = None
            continue
        out[code] = str(_money(value, field=f"limits.{code}"))
    return out


def _money(value: Any, *, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidInput('Give an amount such as "50.00".', field=field)
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise InvalidInput('Give an amount such as "50.00".', field=field) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT):
        raise InvalidInput("A non-negative amount with at most 2 decimals.", field=field)
    return amount.quantize(CENT)


def _profile_state(p: AuthorityProfile) -> dict[str, Any]:
    return {
        "role": p.role,
        "member_id": p.member_id,
        "limits": p.limits,
        "daily_cap": str(p.daily_cap) if p.daily_cap is not None else None,
    }


def list_profiles(*, member: Member) -> list[AuthorityProfile]:
    _require_admin(member)
    return list(AuthorityProfile.objects.filter(workspace_id=member.workspace_id).order_by("id"))


def get_profile(*, member: Member, profile_id: Any) -> AuthorityProfile:
    _require_admin(member)
    try:
        return AuthorityProfile.objects.get(workspace_id=member.workspace_id, pk=profile_id)
    except (AuthorityProfile.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such authority profile.", field="profile_id") from None


@transaction.atomic
def create_profile(
    *,
    actor: Member,
    role: str = "",
    member_id: int | None = None,
    limits: dict[str, Any],
    daily_cap: Any = None,
) -> AuthorityProfile:
    """A role's profile (``role``) or one member's override (``member_id``), never both."""
    _require_admin(actor)
    workspace = actor.workspace
    if bool(role) == (member_id is not None):
        raise InvalidInput("Give either a role or a member_id.", field="role")
    if role and role not in Role.values:
        raise InvalidInput(f"Unknown role '{role}'.", field="role")
    target = get_member(workspace=workspace, member_id=member_id) if member_id else None
    taken = AuthorityProfile.objects.filter(workspace=workspace)
    if (target and taken.filter(member=target).exists()) or (
        role and taken.filter(role=role, member__isnull=True).exists()
    ):
        raise Conflict(
            "That role or member already has a profile.", field="member_id" if target else "role"
        )
    profile = AuthorityProfile.objects.create(
        workspace=workspace,
        role=role or "",
        member=target,
        limits=clean_limits(limits),
        daily_cap=_money(daily_cap, field="daily_cap") if daily_cap is not None else None,
    )
    record_audit(
        workspace=workspace,
        actor=actor,
        action="authority.create",
        obj=profile,
        after=_profile_state(profile),
    )
    return profile


@transaction.atomic
def update_profile(*, actor: Member, profile_id: Any, changes: dict[str, Any]) -> AuthorityProfile:
    profile = get_profile(member=actor, profile_id=profile_id)
    before = _profile_state(profile)
    if "limits" in changes:
        profile.limits = clean_limits(changes["limits"])
    if "daily_cap" in changes:
        cap = changes["daily_cap"]
        profile.daily_cap = _money(cap, field="daily_cap") if cap is not None else None
    profile.save()
    record_audit(
        workspace=actor.workspace,
        actor=actor,
        action="authority.update",
        obj=profile,
        before=before,
        after=_profile_state(profile),
    )
    return profile


@transaction.atomic
def delete_profile(*, actor: Member, profile_id: Any) -> None:
    profile = get_profile(member=actor, profile_id=profile_id)
    record_audit(
        workspace=actor.workspace,
        actor=actor,
        action="authority.delete",
        obj=profile,
        before=_profile_state(profile),
    )
    profile.delete()


# ---------------------------------------------------------------- agent workspace


def pending_approval_count(member: Member) -> int | None:
    """Pending, unexpired requests a lead could decide (one query); None for agents."""
    if not member.is_lead:
        return None
    return ApprovalRequest.objects.filter(
        workspace_id=member.workspace_id,
        status=ApprovalStatus.PENDING,
        expires_at__gt=timezone.now(),
    ).count()


def customer_notice(action: EmpoweredAction) -> str:
    """What the customer was told when the action went to a lead (as sent to them)."""
    return _what_happens_next(action, get_spec(action.code), approval_hours(action.workspace))


def orders_for_conversation(*, member: Member, conversation: Conversation, limit: int = 50):
    """The conversation's customer's most recent orders, for the action form's picker."""
    return list(
        Order.objects.filter(
            workspace_id=member.workspace_id, customer_id=conversation.customer_id
        ).order_by("-placed_at", "-id")[:limit]
    )
