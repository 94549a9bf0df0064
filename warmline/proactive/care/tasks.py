"""Background work for proactive care (Huey tasks call services; no logic here)."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from warmline.proactive import churn
from warmline.tenancy.models import Workspace

from . import services
from .models import ChurnModelRecord, Playbook

log = logging.getLogger(__name__)
CHURN_RETRAIN_EVERY = dt.timedelta(days=7)


@db_task()
def customer_changed(
    workspace_id: int,
    customer_id: int,
    outcome: str = "",
    at: str = "",
    triggers: list[str] | None = None,
    entry_id: int | None = None,
) -> None:
    """An input of the customer's health changed: note the outcome, rescore, run the
    playbooks a new fact can fire at once."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    when = dt.datetime.fromisoformat(at) if at else timezone.now()
    if entry_id is not None:
        from warmline.conversations.models import EntryKind, TimelineEntry

        entry = (
            TimelineEntry.objects.filter(pk=entry_id, workspace_id=workspace_id)
            .values_list("kind", "is_auto_reply", "occurred_at")
            .first()
        )
        if entry is None or entry[0] != EntryKind.CUSTOMER_MESSAGE or entry[1]:
            outcome = ""
        else:
            when = entry[2]
    record = {
        "reply": services.record_reply_outcome,
        "survey": services.record_survey_outcome,
        "purchase": services.record_purchase_outcome,
        "churn": services.record_churn_outcome,
    }.get(outcome)
    if record is not None:
        record(workspace_id=workspace_id, customer_id=customer_id, at=when)
    services.recompute_health(workspace=workspace, customer_ids=[customer_id])
    wanted = [*(triggers or []), "health_below", "health_drop"]
    if Playbook.objects.filter(workspace=workspace, is_active=True, trigger__in=wanted).exists():
        services.run_playbooks(workspace=workspace, customer_ids=[customer_id], triggers=wanted)


@db_task()
def trend_fixed(workspace_id: int, trend_id: int) -> int:
    """Queue the trend-fixed trigger for every customer the trend affected."""
    from django.apps import apps

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    trend = (
        apps.get_model("proactive", "Trend")
        .objects.filter(workspace_id=workspace_id, pk=trend_id)
        .first()
    )
    if workspace is None or trend is None:
        return 0
    affected = apps.get_model("proactive", "TrendConversation")
    ids = affected.objects.filter(workspace_id=workspace_id, trend_id=trend_id).values_list(
        "customer_id", flat=True
    )
    title = (trend.fix_summary or str(getattr(trend.topic, "label", "") or trend)).strip()
    return services.announce_trend_fixed(
        workspace=workspace,
        trend_key=str(trend_id),
        title=title[:200],
        customer_ids=list(ids),
        at=trend.fixed_at,
    )


@db_periodic_task(crontab(hour="2", minute="30"))
def nightly_health() -> None:
    """Retrain churn models that are a week old (when history allows), rescore everyone."""
    now = timezone.now()
    for workspace in Workspace.objects.all():
        last = (
            ChurnModelRecord.objects.filter(workspace=workspace)
            .order_by("-trained_at")
            .values_list("trained_at", flat=True)
            .first()
        )
        if last is None or now - last >= CHURN_RETRAIN_EVERY:
            try:
                services.train_churn_model(workspace=workspace, now=now)
            except churn.NotEnoughHistory as exc:
                log.info("workspace %s: %s", workspace.pk, exc)
        services.recompute_health(workspace=workspace, now=now)


@db_periodic_task(crontab(minute="*/15"))
def run_playbooks() -> None:
    """Every active playbook of every workspace; the unique claim makes overlaps harmless."""
    ids = Playbook.objects.filter(is_active=True).values_list("workspace_id", flat=True)
    for workspace in Workspace.objects.filter(pk__in=ids.distinct()):
        services.run_playbooks(workspace=workspace)
