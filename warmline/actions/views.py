"""The approvals queue in the agent workspace: a lead approves or denies in one click."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from warmline.errors import DomainError
from warmline.web.context import member_view

from . import services


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
