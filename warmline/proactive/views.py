"""Trends and topics in the agent workspace (thin: every change goes through services)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from warmline.errors import DomainError
from warmline.web.context import member_view

from . import services
from .models import OutreachRecipient, TrendState


def _ws(request: HttpRequest):
    return request.member.workspace


def _guard(request: HttpRequest, action) -> bool:
    """Run a service call; a domain error becomes a message on the page (404 stays 404)."""
    try:
        action()
    except DomainError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from exc
        messages.error(request, exc.message)
        return False
    return True


@member_view
def trend_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state") or None
    if state not in (None, *TrendState.values):
        state = None
    trends = services.list_trends(workspace=_ws(request), state=state)[:200]
    return render(
        request,
        "proactive/trends.html",
        {"member": request.member, "trends": trends, "state": state, "states": TrendState.choices},
    )


@member_view
def trend_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ws, actor = _ws(request), request.member
    preview = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        post = request.POST
        if action == "acknowledge":
            _guard(request, lambda: services.acknowledge(workspace=ws, actor=actor, trend_id=pk))
        elif action == "confirm":
            _guard(request, lambda: services.confirm(workspace=ws, actor=actor, trend_id=pk))
        elif action == "dismiss":
            _guard(
                request,
                lambda: services.dismiss(
                    workspace=ws, actor=actor, trend_id=pk, reason=post.get("reason", "")
                ),
            )
        elif action == "fix":
            fixed_at = parse_datetime(post.get("fixed_at", "")) if post.get("fixed_at") else None
            _guard(
                request,
                lambda: services.record_fix(
                    workspace=ws,
                    actor=actor,
                    trend_id=pk,
                    summary=post.get("summary", ""),
                    fixed_at=fixed_at,
                ),
            )
        elif action == "preview":
            try:
                preview = services.preview_outreach(
                    workspace=ws, trend_id=pk, template=post.get("template", "")
                )
            except DomainError as exc:
                if exc.status == 404:
                    raise Http404(exc.message) from exc
                messages.error(request, exc.message)
        elif action == "send":
            if _guard(
                request,
                lambda: services.create_outreach(
                    workspace=ws, actor=actor, trend_id=pk, template=post.get("template", "")
                ),
            ):
                messages.success(request, _("The message is being sent in the background."))
        if preview is None:
            return redirect("trends:detail", pk=pk)
    try:
        trend = services.get_trend(workspace=ws, trend_id=pk)
        report = services.problem_report(workspace=ws, trend_id=pk)
        comparison = services.fix_comparison(workspace=ws, trend_id=pk) if trend.fixed_at else None
    except DomainError as exc:
        raise Http404(exc.message) from exc
    return render(
        request,
        "proactive/trend.html",
        {
            "member": request.member,
            "trend": trend,
            "report": report,
            "comparison": comparison,
            "preview": preview,
            "template": request.POST.get("template", ""),
            "outreach": trend.outreach.order_by("-id")[:5],
            "sent_status": OutreachRecipient.Status.SENT,
            "max_volume": max((d["messages"] for d in report["volume"]["by_day"]), default=1),
        },
    )


@member_view
def report_md(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        report = services.problem_report(workspace=_ws(request), trend_id=pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    response = HttpResponse(
        services.report_markdown(report), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="trend-{pk}.md"'
    return response


@member_view
def topic_list(request: HttpRequest) -> HttpResponse:
    topics = services.list_topics(workspace=_ws(request))[:300]
    return render(request, "proactive/topics.html", {"member": request.member, "topics": topics})


@member_view
@require_POST
def topic_action(request: HttpRequest, pk: int) -> HttpResponse:
    ws, actor, post = _ws(request), request.member, request.POST
    action = post.get("action")
    if action == "rename":
        _guard(
            request,
            lambda: services.rename_topic(
                workspace=ws, actor=actor, topic_id=pk, name=post.get("name", "")
            ),
        )
    elif action == "merge":
        _guard(
            request,
            lambda: services.merge_topics(
                workspace=ws, actor=actor, keep_id=pk, absorb_id=post.get("absorb_id") or 0
            ),
        )
    elif action == "split":
        try:
            parts = int(post.get("parts", "2"))
        except ValueError:
            parts = 0
        _guard(
            request,
            lambda: services.split_topic(workspace=ws, actor=actor, topic_id=pk, parts=parts),
        )
    return redirect("trends:topics")
