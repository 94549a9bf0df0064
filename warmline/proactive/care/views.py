"""Care pages: playbooks (leads edit, everyone reads), dry run, outcomes, follow-ups, health."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from warmline.customers.models import Channel, Customer
from warmline.errors import DomainError, InvalidInput
from warmline.proactive.health import COMPONENTS, DEFAULT_WEIGHTS
from warmline.web.context import member_view

from . import services
from .engine import Verdict
from .forms import CareSettingsForm, PlaybookForm
from .models import OPT_OUT_ALL


def _forbid_unless_lead(request: HttpRequest) -> HttpResponse | None:
    if not request.member.is_lead:
        return render(
            request,
            "care/forbidden.html",
            {"member": request.member},
            status=403,
        )
    return None


def _playbook(request: HttpRequest, pk: int):
    try:
        return services.get_playbook(workspace=request.member.workspace, playbook_id=pk)
    except DomainError:
        raise Http404 from None


@member_view
def playbooks(request: HttpRequest) -> HttpResponse:
    """The playbooks and their outcomes (a small report); leads get the edit links."""
    workspace = request.member.workspace
    return render(
        request,
        "care/playbooks.html",
        {"member": request.member, "rows": services.outcomes_report(workspace=workspace)},
    )


@member_view
def playbook_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    denied = _forbid_unless_lead(request)
    if denied:
        return denied
    member = request.member
    pb = _playbook(request, pk) if pk else None
    form = PlaybookForm(request.POST or None, instance=pb, workspace=member.workspace)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_playbook(
                workspace=member.workspace,
                actor=member,
                data=form.service_data(),
                owner_ids=[m.pk for m in form.cleaned_data.get("owners") or []],
                playbook=_playbook(request, pk) if pk else None,
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Playbook saved."))
            return redirect("care:playbook_dry_run", pk=saved.pk)
    return render(
        request,
        "care/playbook_form.html",
        {"member": member, "form": form, "playbook": pb},
        status=422 if request.method == "POST" else 200,
    )


@member_view
@require_POST
def playbook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    denied = _forbid_unless_lead(request)
    if denied:
        return denied
    _playbook(request, pk)
    services.delete_playbook(
        workspace=request.member.workspace, actor=request.member, playbook_id=pk
    )
    messages.success(request, _("Playbook deleted."))
    return redirect("care:playbooks")


@member_view
def playbook_dry_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Who would be contacted now and why; nothing is sent."""
    pb = _playbook(request, pk)
    evaluation = services.dry_run(workspace=request.member.workspace, playbook=pb)
    groups = [
        (_("Would be contacted"), evaluation.by_verdict(Verdict.CONTACT)),
        (_("Owner-only actions (no message)"), evaluation.by_verdict(Verdict.INTERNAL)),
        (_("Not now (tried again on the next run)"), evaluation.by_verdict(Verdict.DEFER)),
        (_("Not contacted"), evaluation.by_verdict(Verdict.SKIP)),
    ]
    return render(
        request,
        "care/dry_run.html",
        {
            "member": request.member,
            "playbook": pb,
            "groups": groups,
            "summary": services.summarise(evaluation),
            "limit": 200,
        },
    )


@member_view
def follow_ups(request: HttpRequest) -> HttpResponse:
    """My follow-ups: due today, overdue, later and done."""
    return render(
        request,
        "care/follow_ups.html",
        {"member": request.member, "tasks": services.my_follow_ups(member=request.member)},
    )


@member_view
@require_POST
def follow_up_done(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.complete_follow_up(
            member=request.member, follow_up_id=pk, done=request.POST.get("undo") != "1"
        )
    except DomainError:
        raise Http404 from None
    return redirect("care:follow_ups")


@member_view
@require_POST
def recovery_done(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.complete_recovery(member=request.member, task_id=pk)
    except DomainError:
        raise Http404 from None
    return redirect("care:follow_ups")


@member_view
def health_report(request: HttpRequest) -> HttpResponse:
    report = services.health_report(workspace=request.member.workspace)
    return render(request, "care/health_report.html", {"member": request.member, **report})


@member_view
def care_settings(request: HttpRequest) -> HttpResponse:
    denied = _forbid_unless_lead(request)
    if denied:
        return denied
    member = request.member
    cfg = services.get_settings(member.workspace)
    weights = {**DEFAULT_WEIGHTS, **(cfg.health or {}).get("weights", {})}
    initial = {
        "weekly_cap": cfg.weekly_cap,
        "quiet_start": cfg.quiet_start,
        "quiet_end": cfg.quiet_end,
        **{f"w_{name}": weights[name] for name in COMPONENTS},
    }
    form = CareSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_settings(
                workspace=member.workspace,
                actor=member,
                changes={
                    "weekly_cap": form.cleaned_data["weekly_cap"],
                    "quiet_start": form.cleaned_data["quiet_start"],
                    "quiet_end": form.cleaned_data["quiet_end"],
                    "health": form.health(cfg.health),
                },
            )
        except InvalidInput as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("care:settings")
    return render(request, "care/settings.html", {"member": member, "form": form})


def _customer(request: HttpRequest, pk: int) -> Customer:
    found = Customer.objects.filter(workspace=request.member.workspace, pk=pk).first()
    if found is None:
        raise Http404
    return found


@member_view
def customer_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The 360° panel's care section (loaded into the panel by htmx): health, follow-ups,
    opt-outs."""
    customer = _customer(request, pk)
    workspace = request.member.workspace
    return render(
        request,
        "care/_panel.html",
        {
            "member": request.member,
            "customer": customer,
            "health": services.health_for(workspace=workspace, customer_id=customer.pk),
            "follow_ups": services.open_follow_ups_for(workspace=workspace, customer_id=pk),
            "opt_outs": services.opt_outs_of(workspace=workspace, customer_id=pk),
            "channels": [(OPT_OUT_ALL, _("All channels")), *Channel.choices],
            "now": timezone.now(),
        },
    )


@member_view
@require_POST
def opt_out(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    try:
        services.set_opt_out(
            workspace=request.member.workspace,
            customer_id=customer.pk,
            channel=request.POST.get("channel", ""),
            opted_out=request.POST.get("opted_out") == "1",
            source=f"agent:{request.member.pk}",
        )
    except InvalidInput as exc:
        return HttpResponse(exc.message, status=422)
    return customer_panel(request, pk) if request.htmx else redirect("web:customer", pk)
