"""SLA clocks: first response, next response and resolution, in business hours.

A conversation gets the most specific matching policy when it opens. Due
times are computed in the workspace's business calendar; while the case is
pending or snoozed the clocks stop, and on resuming every due time moves
forward by the working time that passed. A periodic task announces each
approaching and breached target once: a timeline entry and notifications to
the owner and the team lead.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from warmline.db import rows
from warmline.tenancy.hours import BusinessCalendar
from warmline.tenancy.models import Workspace
from warmline.tenancy.services import notify

from .models import ACTIVE_STATUSES, Conversation, EntryKind, SlaPolicy, Status, TimelineEntry

CLOCKS = ("first_response", "next_response", "resolution")
PAUSED = (Status.PENDING, Status.SNOOZED)


class _AlwaysOpen(BusinessCalendar):
    def __init__(self):
        super().__init__("UTC", {})


ALWAYS = _AlwaysOpen()


def calendar(workspace: Workspace, policy: SlaPolicy) -> BusinessCalendar:
    return ALWAYS if policy.calendar_time else BusinessCalendar.for_workspace(workspace)


def policy_for(workspace: Workspace, *, priority: str, tier: str, channel: str) -> SlaPolicy | None:
    best, best_score = None, -1
    # Read for every new case: raw SQL (warmline.db.rows), in the model's ordering.
    policies = rows.fetch(
        SlaPolicy,
        '"workspace_id" = %s AND "is_active" = %s',
        [workspace.pk, True],
        tail='ORDER BY "position", "id"',
    )
    for p in policies:
        wanted = {"priority": p.priority, "tier": p.tier, "channel": p.channel}
        actual = {"priority": priority, "tier": tier, "channel": channel}
        if any(v and v != actual[k] for k, v in wanted.items()):
            continue
        score = sum(1 for v in wanted.values() if v)
        if score > best_score:
            best, best_score = p, score
    return best


def start(conv: Conversation, workspace: Workspace, *, tier: str, at: dt.datetime) -> set[str]:
    """Attach a policy and start the first-response and resolution clocks."""
    policy = policy_for(workspace, priority=conv.priority, tier=tier, channel=conv.channel)
    conv.sla_policy = policy
    if policy is None:
        return {"sla_policy"}
    cal = calendar(workspace, policy)
    if policy.first_response_minutes is not None:
        conv.first_response_due_at = cal.add(at, policy.first_response_minutes * 60)
    if policy.resolution_minutes is not None:
        conv.resolution_due_at = cal.add(at, policy.resolution_minutes * 60)
    return {"sla_policy", "first_response_due_at", "resolution_due_at"}


def on_customer_message(conv: Conversation, workspace: Workspace, at: dt.datetime) -> set[str]:
    """After a first response, a new customer message starts the next-response clock."""
    # The case's own fields first: most messages need no policy read at all.
    if (
        conv.sla_policy_id is None
        or conv.first_response_at is None
        or conv.next_response_due_at is not None
    ):
        return set()
    policy = conv.sla_policy
    if policy is None or policy.next_response_minutes is None:
        return set()
    conv.next_response_due_at = calendar(workspace, policy).add(
        at, policy.next_response_minutes * 60
    )
    conv.sla_state = {k: v for k, v in conv.sla_state.items() if k != "next_response"}
    return {"next_response_due_at", "sla_state"}


def on_agent_reply(conv: Conversation) -> set[str]:
    if conv.next_response_due_at is None:
        return set()
    conv.next_response_due_at = None
    return {"next_response_due_at"}


def on_status(
    conv: Conversation, workspace: Workspace, old: str, new: str, at: dt.datetime
) -> set[str]:
    """Pause while pending/snoozed; on resuming move every due time forward."""
    if new in PAUSED and old not in PAUSED:
        conv.sla_paused_at = at
        return {"sla_paused_at"}
    if old in PAUSED and new not in PAUSED and conv.sla_paused_at is not None:
        touched = {"sla_paused_at"}
        if conv.sla_policy is not None:
            cal = calendar(workspace, conv.sla_policy)
            for clock in CLOCKS:
                due = getattr(conv, f"{clock}_due_at")
                if due is not None:
                    left = (
                        cal.seconds_between(conv.sla_paused_at, due)
                        if due > conv.sla_paused_at
                        else 0
                    )
                    setattr(conv, f"{clock}_due_at", cal.add(at, left))
                    touched.add(f"{clock}_due_at")
        conv.sla_paused_at = None
        return touched
    return set()


def _met(conv: Conversation, clock: str) -> bool:
    if clock == "first_response":
        return conv.first_response_at is not None
    if clock == "resolution":
        return conv.status in (Status.RESOLVED, Status.CLOSED)
    return conv.next_response_due_at is None


def check(now: dt.datetime | None = None) -> int:
    """Announce approaching and breached targets once each; returns announcements."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(days=2)
    due_soon = (
        Q(first_response_due_at__lte=horizon, first_response_at__isnull=True)
        | Q(next_response_due_at__lte=horizon)
        | Q(resolution_due_at__lte=horizon)
    )
    announced = 0
    qs = (
        Conversation.objects.filter(
            due_soon, status__in=ACTIVE_STATUSES, sla_paused_at__isnull=True
        )
        .exclude(sla_policy__isnull=True)
        .select_related("sla_policy", "owner", "team__lead", "workspace")
    )
    for conv in qs.iterator(chunk_size=500):
        policy = conv.sla_policy
        cal = calendar(conv.workspace, policy)
        for clock in CLOCKS:
            due = getattr(conv, f"{clock}_due_at")
            minutes = getattr(policy, f"{clock}_minutes")
            if due is None or minutes is None or _met(conv, clock):
                continue
            state = conv.sla_state.get(clock)
            if now >= due and state != "breached":
                announced += _announce(conv, clock, "breached", due, now)
            elif (
                now < due
                and state is None
                and cal.seconds_between(now, due)
                <= minutes * 60 * (100 - policy.warn_at_percent) / 100
            ):
                announced += _announce(conv, clock, "warning", due, now)
    return announced


LABELS = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


def _announce(
    conv: Conversation, clock: str, level: str, due: dt.datetime, now: dt.datetime
) -> int:
    with transaction.atomic():
        fresh = Conversation.objects.select_for_update().get(pk=conv.pk)
        if fresh.sla_state.get(clock) == level:
            return 0  # another worker got here first
        fresh.sla_state = {**fresh.sla_state, clock: level}
        fresh.save(update_fields=["sla_state", "updated_at"])
        text = (
            f"SLA {LABELS[clock]} {'breached' if level == 'breached' else 'due soon'} "
            f"(due {due:%Y-%m-%d %H:%M} UTC)"
        )
        TimelineEntry.objects.create(
            workspace_id=conv.workspace_id,
            conversation=conv,
            kind=EntryKind.SYSTEM,
            text=text,
            data={"sla": clock, "level": level, "due": due.isoformat()},
            occurred_at=now,
        )
        link = f"/c/{conv.number}/"
        people = {
            m.pk: m for m in (conv.owner, conv.team.lead if conv.team else None) if m is not None
        }
        for member in people.values():
            notify(member=member, kind=f"sla_{level}", text=f"#{conv.number}: {text}", link=link)
    conv.sla_state = fresh.sla_state
    return 1


def pending_due(conv: Conversation) -> dt.datetime | None:
    """The earliest due time of a clock still running (None when all are met or unset)."""
    dues = []
    if conv.first_response_at is None and conv.first_response_due_at is not None:
        dues.append(conv.first_response_due_at)
    if conv.next_response_due_at is not None:
        dues.append(conv.next_response_due_at)
    if conv.resolution_due_at is not None and conv.status not in (Status.RESOLVED, Status.CLOSED):
        dues.append(conv.resolution_due_at)
    return min(dues) if dues else None


def marker(conv: Conversation, now: dt.datetime) -> str:
    """The inbox marker: "breached" once a running clock is past due, "warning" after the
    periodic check announced one as due soon, else ""."""
    due = pending_due(conv)
    if due is None:
        return ""
    if due <= now:
        return "breached"
    if "warning" in (conv.sla_state or {}).values():
        return "warning"
    return ""


def breached_q(now: dt.datetime) -> Q:
    """Conversations with a running clock past due (the inbox's "SLA breached" filter)."""
    return (
        Q(first_response_at__isnull=True, first_response_due_at__lte=now)
        | Q(next_response_due_at__lte=now)
        | Q(resolution_due_at__lte=now)
    )
