"""Who takes a new conversation: the customer's owner first, then fair routing.

The owner (dedicated advocate) gets their customers' new cases whenever they
are available — online, inside their working hours, under capacity. If not,
their named cover does. Otherwise routing rules pick a member by language,
skills (a customer tier may require one), channel, and the lowest open
workload relative to capacity. Nobody available means the case waits in
Unassigned rather than landing on someone who is away.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q

from warmline.customers.models import Customer
from warmline.tenancy.hours import BusinessCalendar
from warmline.tenancy.models import Availability, Member, Workspace

from .models import ACTIVE_STATUSES, Conversation


@dataclass
class Decision:
    member: Member | None
    reason: str


def _calendar(workspace: Workspace, member: Member) -> BusinessCalendar:
    if member.working_hours:
        return BusinessCalendar(workspace.time_zone, member.working_hours, workspace.holidays)
    return BusinessCalendar.for_workspace(workspace)


def open_load(workspace: Workspace, member_ids: list[int] | None = None) -> dict[int, int]:
    qs = Conversation.objects.filter(
        workspace=workspace, status__in=ACTIVE_STATUSES, owner__isnull=False
    )
    if member_ids is not None:
        qs = qs.filter(owner_id__in=member_ids)
    return dict(qs.values_list("owner_id").annotate(n=Count("id")).order_by())


def is_available(workspace: Workspace, member: Member, at: dt.datetime, load: int) -> bool:
    return (
        member.is_active
        and member.availability == Availability.ONLINE
        and load < member.capacity
        and _calendar(workspace, member).is_open(at)
    )


def tier_skill(workspace: Workspace, tier: str) -> str | None:
    """Workspace rule, e.g. {"routing": {"tier_skills": {"platinum": "vip"}}}."""
    return ((workspace.settings or {}).get("routing", {}).get("tier_skills", {}) or {}).get(tier)


def choose_member(
    *,
    workspace: Workspace,
    customer: Customer,
    channel: str,
    at: dt.datetime,
    required_skills: tuple[str, ...] = (),
    exclude: tuple[int, ...] = (),
) -> Decision:
    """The best available member by the routing rules, or None."""
    candidates = list(
        Member.objects.filter(workspace=workspace, is_active=True, availability=Availability.ONLINE)
        .exclude(pk__in=exclude)
        .annotate(load=Count("conversations", filter=Q(conversations__status__in=ACTIVE_STATUSES)))
    )
    candidates = [m for m in candidates if is_available(workspace, m, at, m.load)]
    if not candidates:
        return Decision(None, "nobody available")
    skills = set(required_skills)
    needed = tier_skill(workspace, customer.tier)
    if needed:
        skills.add(needed)
    reasons = []

    def narrow(pool, keep, label):
        kept = [m for m in pool if keep(m)]
        if kept:
            reasons.append(label)
            return kept
        return pool  # a preference, not a wall: better someone than no one

    if skills:
        candidates = narrow(
            candidates,
            lambda m: skills <= set(m.skills or []),
            "skills " + ",".join(sorted(skills)),
        )
    if customer.preferred_language:
        lang = customer.preferred_language
        candidates = narrow(candidates, lambda m: lang in (m.languages or []), f"speaks {lang}")
    candidates = narrow(
        candidates, lambda m: not m.channels or channel in m.channels, f"handles {channel}"
    )
    best = min(candidates, key=lambda m: (m.load / max(m.capacity, 1), m.load, m.pk))
    reasons.append(f"lowest workload ({best.load}/{best.capacity})")
    return Decision(best, "; ".join(reasons))


def route(*, workspace: Workspace, customer: Customer, channel: str, at: dt.datetime) -> Decision:
    """Owner, then the owner's cover, then the routing rules."""
    owner = customer.owner
    if owner is not None:
        loads = open_load(workspace, [owner.pk] + ([owner.cover_id] if owner.cover_id else []))
        if is_available(workspace, owner, at, loads.get(owner.pk, 0)):
            return Decision(owner, "the customer's owner")
        cover = owner.cover
        if cover is not None and is_available(workspace, cover, at, loads.get(cover.pk, 0)):
            return Decision(cover, f"covering for {owner}")
        exclude = (owner.pk,)
    else:
        exclude = ()
    return choose_member(
        workspace=workspace, customer=customer, channel=channel, at=at, exclude=exclude
    )
