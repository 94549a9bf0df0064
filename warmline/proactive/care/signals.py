"""Subscribers: new facts about a customer rescore them and may fire a playbook.

Handlers only enqueue (after commit) and never raise into the code that announced the
fact: care must not be able to break ingest, surveys or order sync.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save

log = logging.getLogger(__name__)


def _enqueue(
    workspace_id,
    customer_id,
    outcome: str = "",
    at=None,
    triggers=None,
    entry_id=None,
    *,
    inline: bool = False,
) -> None:
    """Queue the rescoring, or run it here when already in the worker (``inline``)."""
    from .tasks import customer_changed

    try:
        (customer_changed.call_local if inline else customer_changed)(
            workspace_id,
            customer_id,
            outcome=outcome,
            at=at.isoformat() if at is not None else "",
            triggers=list(triggers or []),
            entry_id=entry_id,
        )
    except Exception:  # noqa: BLE001 - never break the announcer
        log.exception("care: could not handle a change of customer %s", customer_id)


def on_message_ingested(sender, *, workspace_id, customer_id, entry_id=None, **kwargs) -> None:
    # In the worker (message_ingested_background). The task reads the entry: an
    # auto-reply is not the customer answering an outreach.
    _enqueue(workspace_id, customer_id, "reply", entry_id=entry_id, inline=True)


def on_conversation_changed(sender, *, workspace_id, conversation_id, changes=None, **kwargs):
    # replies and notes do not move the score; status, priority and system entries may
    if isinstance(changes, dict) and set(changes) <= {"reply", "note"}:
        return
    from warmline.conversations.models import Conversation

    customer_id = (
        Conversation.objects.filter(pk=conversation_id)
        .values_list("customer_id", flat=True)
        .first()
    )
    if customer_id is not None:
        _enqueue(workspace_id, customer_id)


def on_survey_response(sender, instance, created, **kwargs) -> None:
    if not created:
        return
    survey = instance.survey
    transaction.on_commit(
        lambda: _enqueue(
            instance.workspace_id,
            survey.customer_id,
            "survey",
            instance.submitted_at,
            ["detractor"],
        )
    )


def on_order_saved(sender, instance, created, **kwargs) -> None:
    outcome = "purchase" if created and instance.placed_at else ""
    transaction.on_commit(
        lambda: _enqueue(instance.workspace_id, instance.customer_id, outcome, instance.placed_at)
    )


def on_event_saved(sender, instance, created, **kwargs) -> None:
    if not created:
        return
    from .scoring import ACTIVITY_EVENT_TYPES

    outcome = "purchase" if instance.type in ("purchase", "order_placed") else ""
    if instance.type not in ACTIVITY_EVENT_TYPES:
        outcome = ""
    transaction.on_commit(
        lambda: _enqueue(
            instance.workspace_id, instance.customer_id, outcome, instance.occurred_at, ["event"]
        )
    )


def on_customer_saved(sender, instance, created, **kwargs) -> None:
    from warmline.customers.models import Lifecycle

    if created or instance.lifecycle != Lifecycle.CHURNED:
        return
    from django.utils import timezone

    from .services import record_churn_outcome

    record_churn_outcome(
        workspace_id=instance.workspace_id, customer_id=instance.pk, at=timezone.now()
    )


def on_trend_fixed(sender, *, workspace_id, trend_id, customer_ids, title="", **kwargs) -> None:
    """Hook for the trends capability: `trend_fixed.send(..., workspace_id, trend_id,
    customer_ids, title)`."""
    from warmline.tenancy.models import Workspace

    from .services import announce_trend_fixed

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    try:
        announce_trend_fixed(
            workspace=workspace, trend_key=str(trend_id), title=title, customer_ids=customer_ids
        )
    except Exception:  # noqa: BLE001 - never break the announcer
        log.exception("care: trend %s fixed could not be announced", trend_id)


def on_trend_saved(sender, instance, created, **kwargs) -> None:
    """The trends capability marks a trend fixed: tell its affected customers (once)."""
    if getattr(instance, "state", None) != "fixed":
        return
    workspace_id, trend_id = instance.workspace_id, instance.pk

    def enqueue() -> None:
        from .tasks import trend_fixed

        try:
            trend_fixed(workspace_id, trend_id)
        except Exception:  # noqa: BLE001 - never break the announcer
            log.exception("care: trend %s fixed could not be announced", trend_id)

    transaction.on_commit(enqueue)


def connect() -> None:
    from warmline.conversations.signals import conversation_changed, message_ingested_background
    from warmline.customers.models import Customer, CustomerEvent, Order
    from warmline.feedback.models import SurveyResponse

    message_ingested_background.connect(on_message_ingested, dispatch_uid="care.message_ingested")
    conversation_changed.connect(on_conversation_changed, dispatch_uid="care.conversation_changed")
    post_save.connect(on_survey_response, sender=SurveyResponse, dispatch_uid="care.survey")
    post_save.connect(on_order_saved, sender=Order, dispatch_uid="care.order")
    post_save.connect(on_event_saved, sender=CustomerEvent, dispatch_uid="care.event")
    post_save.connect(on_customer_saved, sender=Customer, dispatch_uid="care.customer")
    from django.apps import apps

    try:
        trend = apps.get_model("proactive", "Trend")
    except LookupError:
        trend = None
    if trend is not None:
        post_save.connect(on_trend_saved, sender=trend, dispatch_uid="care.trend")
    try:
        from warmline.proactive import signals as proactive_signals
    except ImportError:
        return
    trend_fixed = getattr(proactive_signals, "trend_fixed", None)
    if trend_fixed is not None:
        trend_fixed.connect(on_trend_fixed, dispatch_uid="care.trend_fixed")
