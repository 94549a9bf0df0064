"""Member-facing KPI use cases: who may see which workspaces, and the query parsing they share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from warmline.customers.models import Channel, Tier
from warmline.errors import InvalidInput
from warmline.tenancy.models import Member, Workspace
from warmline.tenancy.services import get_member, get_team, memberships_for_user

from . import engine

SCOPES = ("workspace", "brand_group", "all")
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Query:
    workspaces: list[Workspace]
    period: engine.Period
    filters: engine.Filters
    scope: str

    @property
    def workspace_ids(self) -> list[int]:
        return [w.pk for w in self.workspaces]


def visible_workspaces(member: Member, scope: str = "workspace") -> list[Workspace]:
    """The member's own workspace, plus the other workspaces (of its brand group, or all)
    where the same person is a lead or admin: an agent elsewhere sees no cross-brand numbers.
    """
    if scope not in SCOPES:
        raise InvalidInput(f"Unknown scope '{scope}'.", field="scope")
    found = [member.workspace]
    if scope == "workspace":
        return found
    group = member.workspace.brand_group
    for m in memberships_for_user(member.user):
        if m.workspace_id == member.workspace_id or not m.is_lead:
            continue
        if scope == "brand_group" and not (group and m.workspace.brand_group == group):
            continue
        found.append(m.workspace)
    return found


def build_query(
    member: Member,
    *,
    scope: str = "workspace",
    start: dt.date | None = None,
    end: dt.date | None = None,
    days: int | None = None,
    team_id: int | None = None,
    owner_id: int | None = None,
    channel: str | None = None,
    tier: str | None = None,
) -> Query:
    workspaces = visible_workspaces(member, scope)
    if scope != "workspace" and (team_id or owner_id):
        raise InvalidInput("Team and member filters need scope=workspace.", field="scope")
    # Ids from another workspace answer 404, like every other endpoint.
    if team_id:
        get_team(workspace=member.workspace, team_id=team_id)
    if owner_id:
        get_member(workspace=member.workspace, member_id=owner_id)
    if channel and channel not in Channel.values:
        raise InvalidInput(f"Unknown channel '{channel}'.", field="channel")
    if tier and tier not in Tier.values:
        raise InvalidInput(f"Unknown tier '{tier}'.", field="tier")
    with timezone.override(member.workspace.time_zone or "UTC"):
        today = timezone.localdate()
    if start and end:
        period = engine.Period(start, end)
    elif start or end:
        raise InvalidInput("Give both start and end, or days.", field="start" if end else "end")
    else:
        period = engine.Period.last(days or 30, today)
    if period.end < period.start:
        raise InvalidInput("end is before start.", field="end")
    if period.days > MAX_DAYS:
        raise InvalidInput(f"A period is at most {MAX_DAYS} days.", field="start")
    return Query(
        workspaces=workspaces,
        period=period,
        filters=engine.Filters(team_id=team_id, owner_id=owner_id, channel=channel, tier=tier),
        scope=scope,
    )
