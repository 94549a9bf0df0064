"""Proactive care use cases: health, playbooks (dry run and run), follow-ups, opt-outs, reports.

Services take the workspace and the acting member explicitly and assume valid input;
forms and tasks call them. Running a playbook claims one ``Outreach`` row per
(playbook, customer, trigger key) before any action: the database's unique constraint
turns a second worker, a restart or an overlapping schedule into a no-op.
"""

from __future__ import annotations

import datetime as dt
import logging
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from warmline.conversations import services as conversations
from warmline.conversations.models import Conversation, EntryKind
from warmline.customers.models import Customer, Lifecycle
from warmline.errors import DomainError, InvalidInput, NotFound, PolicyDenied
from warmline.proactive.health import COMPONENTS, CustomerFacts, HealthScore, score_customer
from warmline.tenancy.models import Member, Workspace
from warmline.tenancy.services import notify, record_audit

from . import engine, scoring
from .engine import Decision, Evaluation, Verdict
from .models import (
    OPT_OUT_ALL,
    CareSettings,
    CustomerHealth,
    FollowUp,
    HealthSnapshot,
    OptOut,
    Outreach,
    OutreachStatus,
    PendingTrigger,
    Playbook,
    TriggerKind,
)

log = logging.getLogger(__name__)

REPLY_WINDOW = dt.timedelta(days=14)
SURVEY_WINDOW = dt.timedelta(days=30)
PURCHASE_WINDOW = dt.timedelta(days=60)
CHURN_WINDOW = dt.timedelta(days=90)
# Triggers that a new fact about one customer can fire at once (the rest are time-based
# and run on the schedule).
EVENT_TRIGGERS = (
    TriggerKind.EVENT,
    TriggerKind.DETRACTOR,
    TriggerKind.HEALTH_BELOW,
    TriggerKind.HEALTH_DROP,
    TriggerKind.TREND_FIXED,
)


def _require_lead(member: Member) -> None:
    if not member.is_lead:
        raise PolicyDenied(_("Only team leads and admins can change playbooks."))


# --- settings ------------------------------------------------------------------------


def get_settings(workspace: Workspace) -> CareSettings:
    found = CareSettings.objects.filter(workspace=workspace).first()
    return found or CareSettings.objects.get_or_create(workspace=workspace)[0]


def update_settings(
    *, workspace: Workspace, actor: Member, changes: dict[str, Any]
) -> CareSettings:
    """Quiet hours, weekly cap and health tuning; the tuning is validated field by field."""
    _require_lead(actor)
    cfg = get_settings(workspace)
    before = {"health": cfg.health, "weekly_cap": cfg.weekly_cap}
    for key, value in changes.items():
        if key == "health":
            try:
                scoring.HealthConfig.from_dict(value)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(str(exc), field="health") from None
            cfg.health = dict(value or {})
        elif key == "weekly_cap":
            if not isinstance(value, int) or not 0 <= value <= 50:
                raise InvalidInput(_("Give a whole number from 0 to 50."), field="weekly_cap")
            cfg.weekly_cap = value
        elif key in ("quiet_start", "quiet_end"):
            if not isinstance(value, dt.time):
                raise InvalidInput(_("Give a time of day."), field=key)
            setattr(cfg, key, value)
        else:
            raise InvalidInput(f"'{key}' cannot be changed.", field=key)
    cfg.save()
    record_audit(
        workspace=workspace,
        actor=actor,
        action="care.settings",
        obj=cfg,
        before=before,
        after={"health": cfg.health, "weekly_cap": cfg.weekly_cap},
    )
    return cfg


# --- health ----------------------------------------------------------------------------


def recompute_health(
    *,
    workspace: Workspace,
    customer_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
) -> scoring.Recomputed:
    return scoring.recompute_health(workspace=workspace, customer_ids=customer_ids, now=now)


@dataclass
class HealthView:
    """What the 360° panel shows: the score, its arrow, each component's contribution."""

    score: float
    previous: float | None
    trend: str
    explained: HealthScore
    churn_probability: float | None
    computed_at: dt.datetime
    history: list[tuple[dt.datetime, float]]


def health_for(*, workspace: Workspace, customer_id: int, history: int = 12) -> HealthView | None:
    """Two queries: the stored score and its recent history (None before the first run)."""
    row = CustomerHealth.objects.filter(workspace=workspace, customer_id=customer_id).first()
    if row is None:
        return None
    config = scoring.health_config(workspace)
    facts = CustomerFacts(**scoring.facts_dict(row.facts))
    explained = score_customer(facts, config, previous_score=row.previous_score)
    points = list(
        HealthSnapshot.objects.filter(workspace=workspace, customer_id=customer_id)
        .order_by("-computed_at", "-id")
        .values_list("computed_at", "score")[:history]
    )
    return HealthView(
        score=row.score,
        previous=row.previous_score,
        trend=row.trend,
        explained=explained,
        churn_probability=row.churn_probability,
        computed_at=row.computed_at,
        history=list(reversed(points)),
    )


def health_report(*, workspace: Workspace, days: int = 30, at_risk: int = 20) -> dict[str, Any]:
    """Distribution, the average over time, and the customers most at risk."""
    rows = CustomerHealth.objects.filter(workspace=workspace)
    bands = rows.aggregate(
        total=Count("id"),
        healthy=Count("id", filter=Q(score__gte=70)),
        watch=Count("id", filter=Q(score__gte=40, score__lt=70)),
        at_risk=Count("id", filter=Q(score__lt=40)),
        mean=Avg("score"),
        churn=Avg("churn_probability"),
    )
    since = timezone.now() - dt.timedelta(days=days)
    per_day: dict[dt.date, list[float]] = {}
    for at, score in (
        HealthSnapshot.objects.filter(workspace=workspace, computed_at__gte=since)
        .values_list("computed_at", "score")
        .iterator(chunk_size=10_000)
    ):
        per_day.setdefault(timezone.localtime(at).date(), []).append(score)
    series = [(day, sum(v) / len(v), len(v)) for day, v in sorted(per_day.items())]
    lowest = list(
        rows.select_related("customer", "customer__owner").order_by("score", "customer_id")[
            :at_risk
        ]
    )
    return {"bands": bands, "series": series, "lowest": lowest}


def train_churn_model(*, workspace: Workspace, now: dt.datetime | None = None):
    """Train when the workspace has enough churn events (churn.MIN_CHURN_EVENTS)."""
    return scoring.train_workspace_churn_model(workspace=workspace, now=now)


# --- playbooks -------------------------------------------------------------------------

PLAYBOOK_FIELDS = (
    "name",
    "description",
    "is_active",
    "trigger",
    "event_type",
    "days",
    "threshold",
    "date_label",
    "tiers",
    "languages",
    "ltv_min",
    "ltv_max",
    "tags",
    "attributes",
    "message_subject",
    "message_body",
    "task_text",
    "task_due_days",
    "incentive",
    "incentive_amount",
    "note_text",
    "allow_open_conversation",
)


def list_playbooks(*, workspace: Workspace) -> QuerySet[Playbook]:
    return Playbook.objects.filter(workspace=workspace).order_by("name", "id")


def get_playbook(*, workspace: Workspace, playbook_id: Any) -> Playbook:
    try:
        return Playbook.objects.select_related("workspace").get(workspace=workspace, pk=playbook_id)
    except (Playbook.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such playbook."), field="playbook_id") from None


def check_playbook(pb: Playbook) -> None:
    """The invariants a form or API must not let through, each naming its field."""
    if pb.trigger not in TriggerKind.values:
        raise InvalidInput(_("Choose a trigger."), field="trigger")
    if pb.trigger == TriggerKind.EVENT and not pb.event_type.strip():
        raise InvalidInput(_("Name the business event, e.g. order_delivered."), field="event_type")
    if pb.trigger in (TriggerKind.HEALTH_BELOW, TriggerKind.HEALTH_DROP):
        if pb.threshold is None or not 0 < pb.threshold <= 100:
            raise InvalidInput(_("Give a threshold between 0 and 100."), field="threshold")
    if pb.trigger == TriggerKind.INACTIVITY and pb.threshold is not None and pb.threshold < 1:
        raise InvalidInput(_("Inactivity counts at least one usual gap."), field="threshold")
    if not (pb.message_body.strip() or pb.task_text.strip() or pb.note_text.strip()):
        raise InvalidInput(
            _("Give the playbook at least one action: a message, a task or a note."),
            field="message_body",
        )
    if pb.incentive and (pb.incentive_amount is None or pb.incentive_amount <= 0):
        raise InvalidInput(_("Give the incentive's amount."), field="incentive_amount")
    if pb.incentive and not pb.message_body.strip():
        raise InvalidInput(
            _("An incentive goes with a message to the customer."), field="message_body"
        )
    if pb.ltv_min is not None and pb.ltv_max is not None and pb.ltv_min > pb.ltv_max:
        raise InvalidInput(_("The minimum is above the maximum."), field="ltv_min")
    if pb.message_body:
        try:
            render_message(pb.message_body, {})
        except ValueError as exc:
            raise InvalidInput(str(exc), field="message_body") from None
    if not isinstance(pb.attributes, dict):
        raise InvalidInput(_("Custom attributes are key: value pairs."), field="attributes")


def save_playbook(
    *,
    workspace: Workspace,
    actor: Member,
    data: dict[str, Any],
    owner_ids: Sequence[int] = (),
    playbook: Playbook | None = None,
) -> Playbook:
    """Create or edit a playbook (leads only); audited with its before and after."""
    _require_lead(actor)
    pb = playbook or Playbook(workspace=workspace, created_by=actor)
    before = _playbook_state(pb) if playbook else None
    for key, value in data.items():
        if key not in PLAYBOOK_FIELDS:
            raise InvalidInput(f"'{key}' cannot be set.", field=key)
        setattr(pb, key, value)
    owners = list(Member.objects.filter(workspace=workspace, pk__in=list(owner_ids)))
    if len(owners) != len(set(owner_ids)):
        raise InvalidInput(_("Unknown owner."), field="owners")
    check_playbook(pb)
    pb.updated_by = actor
    with transaction.atomic():
        pb.save()
        pb.owners.set(owners)
        record_audit(
            workspace=workspace,
            actor=actor,
            action="playbook.update" if playbook else "playbook.create",
            obj=pb,
            before=before,
            after=_playbook_state(pb),
        )
    return pb


def _playbook_state(pb: Playbook) -> dict[str, Any]:
    out = {}
    for name in PLAYBOOK_FIELDS:
        value = getattr(pb, name)
        out[name] = str(value) if isinstance(value, Decimal) else value
    return out


def delete_playbook(*, workspace: Workspace, actor: Member, playbook_id: Any) -> None:
    _require_lead(actor)
    pb = get_playbook(workspace=workspace, playbook_id=playbook_id)
    record_audit(
        workspace=workspace,
        actor=actor,
        action="playbook.delete",
        obj=pb,
        before=_playbook_state(pb),
        after=None,
    )
    pb.delete()


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


ALLOWED_PLACEHOLDERS = ("first_name", "name", "owner", "company", "reason")


def render_message(template: str, values: dict[str, str]) -> str:
    """str.format with the documented placeholders only; anything else is an error."""
    for _text, name, spec, conv in string.Formatter().parse(template):
        if name is None:
            continue
        if name not in ALLOWED_PLACEHOLDERS or spec or conv:
            raise ValueError(
                _("Unknown placeholder {%(name)s}; use %(allowed)s.")
                % {"name": name, "allowed": ", ".join(f"{{{p}}}" for p in ALLOWED_PLACEHOLDERS)}
            )
    return template.format_map(_Blank(values))


def dry_run(
    *, workspace: Workspace, playbook: Playbook, now: dt.datetime | None = None
) -> Evaluation:
    """Who the playbook would contact now and why, and who it would not (nothing is sent)."""
    if playbook.workspace_id != workspace.pk:
        raise NotFound(_("No such playbook."), field="playbook_id")
    return engine.evaluate(playbook, now=now or timezone.now(), settings=get_settings(workspace))


@dataclass
class RunResult:
    contacted: int = 0
    internal: int = 0
    skipped: int = 0
    deferred: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)


def run_playbook(
    *,
    workspace: Workspace,
    playbook: Playbook,
    now: dt.datetime | None = None,
    customer_ids: Sequence[int] | None = None,
) -> RunResult:
    """Evaluate and act; each customer's claim and actions commit together or not at all."""
    now = now or timezone.now()
    settings = get_settings(workspace)
    evaluation = engine.evaluate(playbook, now=now, customer_ids=customer_ids, settings=settings)
    result = RunResult()
    for decision in evaluation.decisions:
        if decision.verdict == Verdict.DEFER:
            result.deferred += 1
            continue
        try:
            status = _act(workspace, playbook, decision, settings, now)
        except IntegrityError:
            status = None
        except DomainError as exc:
            log.warning("playbook %s for customer %s: %s", playbook.pk, decision.customer_id, exc)
            result.errors.append(f"{decision.customer_id}: {exc.message}")
            continue
        if status is None:
            result.duplicates += 1
        elif status == OutreachStatus.CONTACTED:
            result.contacted += 1
        elif status == OutreachStatus.INTERNAL:
            result.internal += 1
        else:
            result.skipped += 1
    return result


def run_playbooks(
    *,
    workspace: Workspace,
    now: dt.datetime | None = None,
    customer_ids: Sequence[int] | None = None,
    triggers: Sequence[str] | None = None,
) -> dict[int, RunResult]:
    """Every active playbook of the workspace (or those with the given triggers)."""
    qs = Playbook.objects.filter(workspace=workspace, is_active=True).select_related("workspace")
    if triggers is not None:
        qs = qs.filter(trigger__in=list(triggers))
    return {
        pb.pk: run_playbook(workspace=workspace, playbook=pb, now=now, customer_ids=customer_ids)
        for pb in qs.order_by("pk")
    }


def _act(
    workspace: Workspace, pb: Playbook, d: Decision, settings: CareSettings, now: dt.datetime
) -> str | None:
    """Claim, then act. Returns the outreach status, or None if it was already claimed."""
    with transaction.atomic():
        # Serialise per customer so the weekly cap holds across playbooks and workers
        # (PostgreSQL locks the row; SQLite's IMMEDIATE transaction holds the write lock).
        customer = (
            Customer.objects.select_for_update(of=("self",))
            .select_related("owner", "workspace")
            .get(workspace=workspace, pk=d.customer_id)
        )
        if Outreach.objects.filter(playbook=pb, customer=customer, trigger_key=d.key).exists():
            return None
        verdict, note, channel = d.verdict, d.note, d.channel
        if verdict == Verdict.CONTACT:
            sent = Outreach.objects.filter(
                workspace=workspace,
                customer=customer,
                messaged=True,
                contacted_at__gt=now - dt.timedelta(days=7),
                contacted_at__lte=now,
            ).count()
            week_ago = now - dt.timedelta(days=7)
            sent += sum(
                engine.other_proactive_sends(workspace.pk, [customer.pk], week_ago, now).values()
            )
            if sent >= settings.weekly_cap:
                verdict = Verdict.SKIP
                note = _("weekly cap of %(n)d proactive contacts reached") % {
                    "n": settings.weekly_cap
                }
        status = {
            Verdict.CONTACT: OutreachStatus.CONTACTED,
            Verdict.INTERNAL: OutreachStatus.INTERNAL,
            Verdict.SKIP: OutreachStatus.SKIPPED,
        }[verdict]
        outreach = Outreach.objects.create(
            workspace=workspace,
            playbook=pb,
            customer=customer,
            trigger_key=d.key,
            reason=d.reason[:300],
            status=status,
            skip_reason=note[:200] if verdict == Verdict.SKIP else "",
            channel=channel if verdict == Verdict.CONTACT else "",
            contacted_at=now,
        )
        if verdict == Verdict.SKIP:
            return status
        conversation = None
        owner = customer.owner
        if verdict == Verdict.CONTACT:
            conversation = _send_message(workspace, pb, customer, d, channel, outreach)
            outreach.conversation = conversation
            outreach.messaged = True
            outreach.save(update_fields=["conversation", "messaged", "updated_at"])
            if pb.incentive:
                _offer_incentive(pb, outreach, owner, conversation)
        if pb.task_text.strip():
            task = FollowUp.objects.create(
                workspace=workspace,
                member=owner,
                customer=customer,
                playbook=pb,
                outreach=outreach,
                text=f"{pb.task_text.strip()} — {customer}: {d.reason}"[:300],
                due_at=now + dt.timedelta(days=pb.task_due_days),
            )
            if owner is not None:
                member = owner
                transaction.on_commit(
                    lambda: notify(
                        member=member,
                        kind="follow_up",
                        text=task.text,
                        link="/care/follow-ups/",
                    )
                )
        if pb.note_text.strip():
            _add_note(workspace, pb, customer, conversation, d, now)
        return status


def _values(pb: Playbook, customer: Customer, d: Decision) -> dict[str, str]:
    name = customer.name or ""
    return {
        "first_name": name.split()[0] if name.split() else "",
        "name": name,
        "owner": str(customer.owner) if customer.owner_id else customer.workspace.name,
        "company": customer.workspace.name,
        "reason": d.reason,
    }


def _send_message(
    workspace: Workspace,
    pb: Playbook,
    customer: Customer,
    d: Decision,
    channel: str,
    outreach: Outreach,
) -> Conversation:
    """Write first through the one outbound path (warmline.channels.outbound.send).

    send() opens a new pending case for the customer and records the message on its
    timeline and in the outbox in this transaction; delivery happens after commit. The
    case is tagged "proactive"; until the customer answers it does not count as an open
    conversation for the gates. The outreach id is the send's idempotency key.
    """
    from warmline.channels import outbound

    values = _values(pb, customer, d)
    text = render_message(pb.message_body, values)
    subject = render_message(pb.message_subject, values) if pb.message_subject else pb.name
    message = outbound.send(
        workspace=workspace,
        actor=None,
        customer=customer,
        channel=channel,
        text=text,
        subject=subject[:300],
        kind=EntryKind.ASSISTANT_REPLY,
        idempotency_key=f"care-outreach-{outreach.pk}",
    )
    conv = message.conversation
    Conversation.objects.filter(pk=conv.pk).update(tags=[*conv.tags, "proactive"])
    return conv


def _offer_incentive(pb: Playbook, outreach: Outreach, owner: Member | None, conv) -> None:
    """Within the owner's authority it executes; above it, a lead is asked (actions app)."""
    if owner is None:
        conversations.add_system_entry(
            conversation=conv,
            kind=EntryKind.INTERNAL_NOTE,
            text=_("Incentive not offered: the customer has no owner whose authority covers it."),
        )
        return
    from warmline.actions import services as actions

    try:
        actions.request_action(
            member=owner,
            conversation_id=conv.pk,
            action=pb.incentive,
            params={"amount": str(pb.incentive_amount), "reason": f"Playbook: {pb.name}"[:500]},
            idempotency_key=f"care-outreach-{outreach.pk}",
        )
    except DomainError as exc:
        conversations.add_system_entry(
            conversation=conv,
            kind=EntryKind.INTERNAL_NOTE,
            text=_("Incentive not offered: %(why)s") % {"why": exc.message},
        )


def _add_note(workspace, pb: Playbook, customer: Customer, conv, d: Decision, now) -> None:
    text = f"{pb.note_text.strip()} ({pb.name}: {d.reason})"
    target = conv or (
        Conversation.objects.filter(workspace=workspace, customer=customer)
        .order_by("-last_activity_at", "-id")
        .first()
    )
    if target is not None:
        conversations.add_system_entry(
            conversation=target, kind=EntryKind.INTERNAL_NOTE, text=text, at=now
        )
    else:
        stamp = f"{now:%Y-%m-%d}"
        Customer.objects.filter(pk=customer.pk).update(
            notes=(customer.notes + "\n" if customer.notes else "") + f"[{stamp}] {text}"
        )


# --- triggers announced by other capabilities ---------------------------------------------


def announce_trend_fixed(
    *,
    workspace: Workspace,
    trend_key: str,
    title: str,
    customer_ids: Iterable[int],
    at: dt.datetime | None = None,
) -> int:
    """A trend that affected these customers is fixed: queue the trigger (idempotent) and
    run the trend-fixed playbooks for them."""
    at = at or timezone.now()
    ids = sorted(
        set(
            Customer.objects.filter(workspace=workspace, pk__in=list(customer_ids)).values_list(
                "pk", flat=True
            )
        )
    )
    PendingTrigger.objects.bulk_create(
        [
            PendingTrigger(
                workspace=workspace,
                kind=TriggerKind.TREND_FIXED,
                customer_id=cid,
                key=f"trend:{trend_key}"[:200],
                reason=(_("fixed: %(title)s") % {"title": title})[:300],
                occurred_at=at,
            )
            for cid in ids
        ],
        ignore_conflicts=True,
    )
    if ids:
        run_playbooks(
            workspace=workspace, now=at, customer_ids=ids, triggers=[TriggerKind.TREND_FIXED]
        )
    return len(ids)


# --- outcomes -------------------------------------------------------------------------------


def record_reply_outcome(*, workspace_id: int, customer_id: int, at: dt.datetime) -> int:
    return Outreach.objects.filter(
        workspace_id=workspace_id,
        customer_id=customer_id,
        messaged=True,
        replied_at__isnull=True,
        contacted_at__lte=at,
        contacted_at__gte=at - REPLY_WINDOW,
    ).update(replied_at=at)


def record_survey_outcome(*, workspace_id: int, customer_id: int, at: dt.datetime) -> int:
    return Outreach.objects.filter(
        workspace_id=workspace_id,
        customer_id=customer_id,
        status__in=(OutreachStatus.CONTACTED, OutreachStatus.INTERNAL),
        survey_answered_at__isnull=True,
        contacted_at__lte=at,
        contacted_at__gte=at - SURVEY_WINDOW,
    ).update(survey_answered_at=at)


def record_purchase_outcome(*, workspace_id: int, customer_id: int, at: dt.datetime) -> int:
    return Outreach.objects.filter(
        workspace_id=workspace_id,
        customer_id=customer_id,
        status__in=(OutreachStatus.CONTACTED, OutreachStatus.INTERNAL),
        purchased_at__isnull=True,
        contacted_at__lte=at,
        contacted_at__gte=at - PURCHASE_WINDOW,
    ).update(purchased_at=at)


def record_churn_outcome(*, workspace_id: int, customer_id: int, at: dt.datetime) -> int:
    return Outreach.objects.filter(
        workspace_id=workspace_id,
        customer_id=customer_id,
        churned_at__isnull=True,
        contacted_at__lte=at,
        contacted_at__gte=at - CHURN_WINDOW,
    ).update(churned_at=at)


def outcomes_report(*, workspace: Workspace) -> list[dict[str, Any]]:
    """Per playbook: contacted, owner-only, skipped, replied, survey answered, purchased
    again, churned (each outcome counted once per outreach)."""
    rows = (
        Outreach.objects.filter(workspace=workspace)
        .values("playbook_id")
        .annotate(
            contacted=Count("id", filter=Q(status=OutreachStatus.CONTACTED)),
            internal=Count("id", filter=Q(status=OutreachStatus.INTERNAL)),
            skipped=Count("id", filter=Q(status=OutreachStatus.SKIPPED)),
            replied=Count("id", filter=Q(replied_at__isnull=False)),
            surveyed=Count("id", filter=Q(survey_answered_at__isnull=False)),
            purchased=Count("id", filter=Q(purchased_at__isnull=False)),
            churned=Count("id", filter=Q(churned_at__isnull=False)),
        )
        .order_by()
    )
    by_id = {r["playbook_id"]: r for r in rows}
    out = []
    for pb in list_playbooks(workspace=workspace):
        r = by_id.get(pb.pk, {})
        entry = {
            "playbook": pb,
            **{
                k: r.get(k, 0)
                for k in (
                    "contacted",
                    "internal",
                    "skipped",
                    "replied",
                    "surveyed",
                    "purchased",
                    "churned",
                )
            },
        }
        reached = entry["contacted"]
        entry["reply_rate"] = entry["replied"] / reached if reached else None
        out.append(entry)
    return out


# --- follow-ups ---------------------------------------------------------------------------


@dataclass
class Task:
    """One follow-up in "My follow-ups": a playbook's task or a survey recovery call."""

    kind: str  # "care" (FollowUp) or "recovery" (feedback.RecoveryTask)
    pk: int
    text: str
    customer: Customer
    customer_id: int
    due_at: dt.datetime
    done_at: dt.datetime | None


@dataclass
class FollowUps:
    due_today: list[Task]
    overdue: list[Task]
    upcoming: list[Task]
    done: list[Task]


def _tasks(rows, kind: str, text) -> list[Task]:
    return [Task(kind, r.pk, text(r), r.customer, r.customer_id, r.due_at, r.done_at) for r in rows]


def my_follow_ups(
    *, member: Member, now: dt.datetime | None = None, done_limit: int = 20
) -> FollowUps:
    """The member's follow-ups by the workspace's calendar day: due today, overdue, later,
    and the most recently done. Recovery calls that detractor answers opened (feedback app)
    are follow-ups too, so owners have one list."""
    from warmline.feedback.models import RecoveryTask

    now = now or timezone.now()
    zone = engine.customer_zone(member.workspace.time_zone, {}, {})
    start = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + dt.timedelta(days=1)
    mine = FollowUp.objects.filter(workspace_id=member.workspace_id, member=member).select_related(
        "customer"
    )
    recovery = RecoveryTask.objects.filter(
        workspace_id=member.workspace_id, member=member
    ).select_related("customer")
    open_ = _tasks(
        mine.filter(done_at__isnull=True).order_by("due_at", "id")[:500], "care", lambda r: r.text
    ) + _tasks(
        recovery.filter(done_at__isnull=True).order_by("due_at", "id")[:500],
        "recovery",
        lambda r: r.reason,
    )
    done = _tasks(
        mine.filter(done_at__isnull=False).order_by("-done_at", "-id")[:done_limit],
        "care",
        lambda r: r.text,
    ) + _tasks(
        recovery.filter(done_at__isnull=False).order_by("-done_at", "-id")[:done_limit],
        "recovery",
        lambda r: r.reason,
    )
    open_.sort(key=lambda t: (t.due_at, t.pk))
    done.sort(key=lambda t: t.done_at, reverse=True)
    return FollowUps(
        due_today=[t for t in open_ if start <= t.due_at < end],
        overdue=[t for t in open_ if t.due_at < start],
        upcoming=[t for t in open_ if t.due_at >= end],
        done=done[:done_limit],
    )


def complete_recovery(*, member: Member, task_id: Any) -> None:
    """Mark a survey recovery call done (the feedback app owns the task)."""
    from warmline.feedback import services as feedback
    from warmline.feedback.models import RecoveryTask

    task = RecoveryTask.objects.filter(workspace_id=member.workspace_id, pk=task_id).first()
    if task is None or (task.member_id not in (None, member.pk) and not member.is_lead):
        raise NotFound(_("No such follow-up."), field="follow_up_id")
    feedback.complete_recovery_task(workspace=member.workspace, actor=member, task_id=task.pk)


def complete_follow_up(*, member: Member, follow_up_id: Any, done: bool = True) -> FollowUp:
    try:
        task = FollowUp.objects.get(workspace_id=member.workspace_id, pk=follow_up_id)
    except (FollowUp.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such follow-up."), field="follow_up_id") from None
    if task.member_id not in (None, member.pk) and not member.is_lead:
        raise NotFound(_("No such follow-up."), field="follow_up_id")
    task.done_at = timezone.now() if done else None
    task.save(update_fields=["done_at", "updated_at"])
    return task


def open_follow_ups_for(*, workspace: Workspace, customer_id: int) -> list[FollowUp]:
    return list(
        FollowUp.objects.filter(workspace=workspace, customer_id=customer_id, done_at__isnull=True)
        .select_related("member")
        .order_by("due_at")[:5]
    )


# --- opt-outs --------------------------------------------------------------------------------


def set_opt_out(
    *, workspace: Workspace, customer_id: int, channel: str, opted_out: bool, source: str = ""
) -> None:
    """Record (or withdraw) a customer's opt-out from proactive contact on a channel."""
    from warmline.customers.models import CHANNELS

    if channel != OPT_OUT_ALL and channel not in CHANNELS:
        raise InvalidInput(f"Unknown channel '{channel}'.", field="channel")
    customer = Customer.objects.filter(workspace=workspace, pk=customer_id).first()
    if customer is None:
        raise NotFound(_("No such customer."), field="customer_id")
    if opted_out:
        OptOut.objects.get_or_create(
            workspace=workspace, customer=customer, channel=channel, defaults={"source": source}
        )
    else:
        OptOut.objects.filter(workspace=workspace, customer=customer, channel=channel).delete()


def opt_outs_of(*, workspace: Workspace, customer_id: int) -> list[str]:
    return sorted(
        OptOut.objects.filter(workspace=workspace, customer_id=customer_id).values_list(
            "channel", flat=True
        )
    )


def summarise(evaluation: Evaluation) -> dict[str, int]:
    counts = Counter(d.verdict for d in evaluation.decisions)
    return {
        "triggered": evaluation.triggered,
        "out_of_segment": evaluation.out_of_segment,
        "already_done": evaluation.already_done,
        "contact": counts[Verdict.CONTACT],
        "internal": counts[Verdict.INTERNAL],
        "defer": counts[Verdict.DEFER],
        "skip": counts[Verdict.SKIP],
    }


def churned_now(customer: Customer) -> bool:
    return customer.lifecycle == Lifecycle.CHURNED


__all__ = ["COMPONENTS"]
