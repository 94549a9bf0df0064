"""The agent workspace's pages (thin: fetch through services, render)."""

from __future__ import annotations

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from warmline.conversations import services as conversations
from warmline.conversations.models import ACTIVE_STATUSES
from warmline.errors import NotFound
from warmline.tenancy.models import Member
from warmline.tenancy.services import memberships_for_user

from .forms import ThrottledAuthenticationForm


class SignInView(LoginView):
    template_name = "web/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:login")


def current_member(request: HttpRequest) -> Member | None:
    memberships = memberships_for_user(request.user)
    wanted = request.session.get("workspace_id")
    for m in memberships:
        if m.workspace_id == wanted:
            return m
    return memberships[0] if memberships else None


@login_required
def switch_workspace(request: HttpRequest, slug: str) -> HttpResponse:
    for m in memberships_for_user(request.user):
        if m.workspace.slug == slug:
            request.session["workspace_id"] = m.workspace_id
            return redirect("web:home")
    raise Http404


@login_required
def home(request: HttpRequest) -> HttpResponse:
    member = current_member(request)
    if member is None:
        return render(request, "web/no_workspace.html", status=403)
    view = request.GET.get("view", "mine")
    qs = conversations.list_conversations(workspace=member.workspace)
    if view == "mine":
        qs = qs.filter(owner=member, status__in=ACTIVE_STATUSES)
    elif view == "unassigned":
        qs = qs.filter(owner__isnull=True, status__in=ACTIVE_STATUSES)
    elif view == "resolved":
        qs = qs.filter(status="resolved")
    else:
        view = "all"
        qs = qs.filter(status__in=ACTIVE_STATUSES)
    rows = list(qs.select_related("customer", "owner").order_by("-last_activity_at", "-id")[:50])
    return render(
        request,
        "web/inbox.html",
        {
            "member": member,
            "memberships": memberships_for_user(request.user),
            "rows": rows,
            "view": view,
        },
    )


@login_required
def conversation(request: HttpRequest, number: int) -> HttpResponse:
    member = current_member(request)
    if member is None:
        raise Http404
    try:
        conv = conversations.get_conversation_by_number(workspace=member.workspace, number=number)
    except NotFound:
        raise Http404 from None
    entries = list(conversations.timeline(conversation=conv))
    return render(
        request,
        "web/conversation.html",
        {"member": member, "memberships": memberships_for_user(request.user), "conv": conv, "entries": entries},
    )
