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

from django.db import connection

from warmline.customers.models import Customer
from warmline.db import rows
from warmline.tenancy.hours import BusinessCalendar
from warmline.tenancy.models import Availability, Member, Workspace

from .models import ACTIVE_STATUSES


@dataclass
class Decision:
    member: Member | None
    reason: str


def _calendar(workspace: Workspace, member: Member) -> BusinessCalendar:
    if member.working_hours:
        return BusinessCalendar(workspace.time_zone, member.working_hours, workspace.holidays)
    return BusinessCalendar.for_workspace(workspace)


def open_load(workspace: Workspace, member_ids: list[int] | None = None) -> dict[int, int]:
    """Open cases per owner: one grouped count on the (workspace, owner, status) index.

    Raw SQL: it runs for every new case (warmline.db.rows).
    """
    if member_ids is not None and not member_ids:
        return {}
    sql = (
        'SELECT "owner_id", COUNT(*) FROM "conversations_conversation" '
        'WHERE "workspace_id" = %s AND "owner_id" IS NOT NULL AND "status" IN (%s, %s, %s)'
    )
    params: list = [workspace.pk, *[s.value for s in ACTIVE_STATUSES]]
    if member_ids is not None:
        sql += ' AND "owner_id" IN (' + ", ".join(["%s"] * len(member_ids)) + ")"
        params += member_ids
    with connection.cursor() as cursor:
        cursor.execute(sql + ' GROUP BY "owner_id"', params)
        return dict(cursor.fetchall())


def _member(member_id: int | None) -> Member | None:
    if member_id is None:
        return None
    found = rows.fetch(Member, '"id" = %s', [member_id])
    return found[0] if found else None


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


@dataclass
class _Candidate:
    pk: int
    languages: list
    skills: list
    channels: list
    capacity: int
    working_hours: dict
    load: int = 0


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
    # Plain rows, not model instances: routing reads hundreds of members per decision.
    where = '"workspace_id" = %s AND "is_active" = %s AND "availability" = %s'
    params: list = [workspace.pk, True, Availability.ONLINE.value]
    if exclude:
        where += ' AND "id" NOT IN (' + ", ".join(["%s"] * len(exclude)) + ")"
        params += list(exclude)
    found = rows.values(
        Member,
        ("id", "languages", "skills", "channels", "capacity", "working_hours"),
        where,
        params,
    )
    candidates = [_Candidate(*row) for row in found]
    if not candidates:
        return Decision(None, "nobody available")
    # One grouped count on the (workspace, owner, status) index, not a join per member.
    loads = open_load(workspace)
    workspace_open = BusinessCalendar.for_workspace(workspace).is_open(at)
    available = []
    for c in candidates:
        c.load = loads.get(c.pk, 0)
        if c.load >= c.capacity:
            continue
        if c.working_hours:
            if not BusinessCalendar(
                workspace.time_zone, c.working_hours, workspace.holidays
            ).is_open(at):
                continue
        elif not workspace_open:
            continue
        available.append(c)
    candidates = available
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
    return Decision(_member(best.pk), "; ".join(reasons))


def route(*, workspace: Workspace, customer: Customer, channel: str, at: dt.datetime) -> Decision:
    """Owner, then the owner's cover, then the routing rules."""
    cached = Customer._meta.get_field("owner").is_cached(customer)
    owner = customer.owner if cached else _member(customer.owner_id)
    if owner is not None:
        loads = open_load(workspace, [owner.pk] + ([owner.cover_id] if owner.cover_id else []))
        if is_available(workspace, owner, at, loads.get(owner.pk, 0)):
            return Decision(owner, "the customer's owner")
        cover = _member(owner.cover_id)
        if cover is not None and is_available(workspace, cover, at, loads.get(cover.pk, 0)):
            return Decision(cover, f"covering for {owner}")
        exclude = (owner.pk,)
    else:
        exclude = ()
    return choose_member(
        workspace=workspace, customer=customer, channel=channel, at=at, exclude=exclude
    )
