"""The agent workspace's actions: the approvals queue (a lead approves or denies in one
click) and the conversation page's Actions section (take an action within authority)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from warmline.conversations.models import Conversation
from warmline.conversations.services import get_conversation_by_number
from warmline.errors import DomainError, NotFound
from warmline.web.context import member_view

from . import forms, services
from .catalogue import CATALOGUE, get_spec
from .models import ActionStatus, EmpoweredAction


@member_view
def approvals(request: HttpRequest) -> HttpResponse:
    member = request.member
    pending = list(
        services.list_approvals(member=member, status="pending").select_related(
            "action__conversation__customer", "requested_by"
        )[:200]
    )
    rows = [{"approval": a, "what": services.describe(a.action)} for a in pending]
    return render(
        request,
        "actions/approvals.html",
        {"member": member, "rows": rows, "can_decide": member.is_lead},
    )


@member_view
@require_POST
def decide(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    decide_fn = {"approve": services.approve, "deny": services.deny}.get(verb)
    if decide_fn is None:
        raise Http404
    try:
        approval = decide_fn(
            member=request.member, approval_id=pk, note=request.POST.get("note", "")
        )
    except DomainError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from exc
        messages.error(request, exc.message)
    else:
        done = _("Approved") if verb == "approve" else _("Denied")
        messages.success(request, f"{done}: {services.describe(approval.action)}")
    return redirect("actions:approvals")


# ------------------------------------------------------------- conversation page


def _conversation(request: HttpRequest, number: int) -> Conversation:
    try:
        return get_conversation_by_number(workspace=request.member.workspace, number=number)
    except NotFound:
        raise Http404 from None


def _panel(
    request: HttpRequest,
    conv: Conversation,
    *,
    code: str = "",
    key: str = "",
    values: dict[str, str] | None = None,
    action: EmpoweredAction | None = None,
    error: DomainError | None = None,
    status: int = 200,
) -> HttpResponse:
    """The Actions section: the member's allowed actions, their limits, one form with a
    fresh idempotency key (made here, when the form is rendered), and the last result."""
    member = request.member
    authority = services.authority_summary(member)
    allowed = [spec for c, spec in CATALOGUE.items() if c in authority["limits"]]
    spec = CATALOGUE.get(code) if code in authority["limits"] else None
    spec = spec or (allowed[0] if allowed else None)
    fields = forms.fields_for(spec) if spec else []
    needs_orders = any(f.kind == "order" for f in fields)
    ctx: dict[str, Any] = {
        "member": member,
        "conv": conv,
        "authority": authority,
        "allowed": [
            {"spec": s, "limit": authority["limits"][s.code], "chosen": s is spec} for s in allowed
        ],
        "spec": spec,
        "fields": [(f, (values or {}).get(f.name, "")) for f in fields],
        "orders": services.orders_for_conversation(member=member, conversation=conv)
        if needs_orders
        else [],
        "key": key or uuid.uuid4().hex,
        "action": action,
        "error": error,
    }
    if action is not None:
        ctx["what"] = services.describe(action)
        ctx["executed"] = action.status == ActionStatus.EXECUTED
        ctx["pending"] = action.status == ActionStatus.PENDING_APPROVAL
        if ctx["pending"]:
            ctx["approval_reason"] = action.approval.reason
            ctx["customer_told"] = services.customer_notice(action)
        ctx["changes"] = forms.changes(action.result or {})
    return render(request, "actions/_conversation_actions.html", ctx, status=status)


@member_view
@require_GET
def conversation_actions(request: HttpRequest, number: int) -> HttpResponse:
    """The Actions section, loaded into the 360° panel by htmx after the page."""
    conv = _conversation(request, number)
    return _panel(request, conv, code=request.GET.get("action", "")[:40])


@member_view
@require_POST
def take_action(request: HttpRequest, number: int) -> HttpResponse:
    """Request the action through the service: executed, sent to a lead, or an error that
    names the field (422). The same idempotency key never executes twice."""
    member = request.member
    conv = _conversation(request, number)
    code = request.POST.get("action", "")[:40]
    key = request.POST.get("idempotency_key", "")
    values = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    try:
        spec = get_spec(code)
        result = services.request_action(
            member=member,
            conversation_id=conv.pk,
            action=code,
            params=forms.params_from_post(spec, request.POST),
            idempotency_key=key,
        )
    except DomainError as exc:
        # Nothing was kept: the same form (and key) can be corrected and sent again. Another
        # workspace's (or customer's) order answers 404 like a missing one.
        return _panel(
            request, conv, code=code, key=key, values=values, error=exc, status=exc.status
        )
    return _panel(request, conv, code=code, action=result.action)
