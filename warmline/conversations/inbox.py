"""The agent inbox: views, filters and sorts turned into one bounded query.

Every page is at most ``PAGE_SIZE`` rows fetched with their customer, owner and
team in the same query; "is there a next page" costs one extra row, never a
COUNT over a workspace's whole history. Tag filtering works on both SQLite and
PostgreSQL by matching the JSON-encoded tag inside the list's text form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast

from warmline.tenancy.models import Member

from .models import ACTIVE_STATUSES, Conversation, Priority, Status

PAGE_SIZE = 50
VIEWS = ("mine", "unassigned", "team", "all", "snoozed", "resolved")
SORTS = ("waiting", "priority", "activity")
SENTIMENTS = ("negative", "neutral", "positive")
# Sentiment bands on the compound score in [-1, 1] (VADER convention, widened a little).
NEGATIVE_BELOW = -0.3
POSITIVE_ABOVE = 0.3


@dataclass(frozen=True)
class InboxQuery:
    view: str = "mine"
    channel: str = ""
    status: str = ""
    priority: str = ""
    owner: str = ""  # a member id, or "none"
    team: str = ""
    tag: str = ""
    sentiment: str = ""
    sort: str = "activity"
    page: int = 1

    def params(self, **override) -> str:
        """The query string for this query with some fields changed (for links)."""
        q = replace(self, **override)
        data = {k: v for k, v in q.__dict__.items() if v not in ("", None)}
        if data.get("page") == 1:
            data.pop("page")
        return urlencode(data)

    @property
    def params_without_page(self) -> str:
        return self.params(page=1)


def parse(params: Mapping[str, str]) -> InboxQuery:
    """Lenient: an unknown value falls back to the default instead of failing the page."""

    def pick(name: str, allowed, default: str = "") -> str:
        value = (params.get(name) or "").strip()
        return value if value in allowed else default

    try:
        page = max(1, min(int(params.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    owner = (params.get("owner") or "").strip()
    team = (params.get("team") or "").strip()
    return InboxQuery(
        view=pick("view", VIEWS, "mine"),
        channel=pick("channel", _channel_values()),
        status=pick("status", Status.values),
        priority=pick("priority", Priority.values),
        owner=owner if owner == "none" or owner.isdigit() else "",
        team=team if team.isdigit() else "",
        tag=(params.get("tag") or "").strip()[:60],
        sentiment=pick("sentiment", SENTIMENTS),
        sort=pick("sort", SORTS, "activity"),
        page=page,
    )


def _channel_values() -> list[str]:
    from warmline.customers.models import Channel

    return Channel.values


def _team_ids(member: Member) -> list[int]:
    # Prefetched by the caller when possible; otherwise one small query.
    cached = getattr(member, "_team_ids", None)
    if cached is None:
        cached = list(member.teams.values_list("id", flat=True))
        member._team_ids = cached
    return cached


def view_filter(member: Member, view: str) -> Q:
    active = Q(status__in=[Status.OPEN, Status.PENDING])
    if view == "mine":
        return active & Q(owner_id=member.pk)
    if view == "unassigned":
        return active & Q(owner__isnull=True)
    if view == "team":
        return active & Q(team_id__in=_team_ids(member))
    if view == "snoozed":
        return Q(status=Status.SNOOZED)
    if view == "resolved":
        return Q(status__in=[Status.RESOLVED, Status.CLOSED])
    return Q(status__in=ACTIVE_STATUSES)


def tag_filter(tag: str) -> Q:
    """Portable "list contains tag": the JSON text of the list contains the JSON string."""
    needles = {json.dumps(tag), json.dumps(tag, ensure_ascii=False)}
    cond = Q()
    for needle in needles:
        cond |= Q(tags_text__contains=needle)
    return cond


def build(member: Member, q: InboxQuery) -> QuerySet[Conversation]:
    qs = Conversation.objects.filter(workspace_id=member.workspace_id).filter(
        view_filter(member, q.view)
    )
    if q.channel:
        qs = qs.filter(Q(channel=q.channel) | Q(last_channel=q.channel))
    if q.status:
        qs = qs.filter(status=q.status)
    if q.priority:
        qs = qs.filter(priority=q.priority)
    if q.owner == "none":
        qs = qs.filter(owner__isnull=True)
    elif q.owner:
        qs = qs.filter(owner_id=int(q.owner))
    if q.team:
        qs = qs.filter(team_id=int(q.team))
    if q.tag:
        qs = qs.annotate(tags_text=Cast("tags", TextField())).filter(tag_filter(q.tag))
    if q.sentiment == "negative":
        qs = qs.filter(sentiment_last__lt=NEGATIVE_BELOW)
    elif q.sentiment == "positive":
        qs = qs.filter(sentiment_last__gt=POSITIVE_ABOVE)
    elif q.sentiment == "neutral":
        qs = qs.filter(sentiment_last__gte=NEGATIVE_BELOW, sentiment_last__lte=POSITIVE_ABOVE)
    return _sorted(qs, q.sort).select_related("customer", "owner", "team")


def _sorted(qs: QuerySet[Conversation], sort: str) -> QuerySet[Conversation]:
    if sort == "waiting":
        # Longest-waiting first; conversations nobody waits on go last.
        return qs.order_by(F("waiting_since").asc(nulls_last=True), "-id")
    if sort == "priority":
        rank = Case(
            When(priority=Priority.URGENT, then=Value(0)),
            When(priority=Priority.HIGH, then=Value(1)),
            When(priority=Priority.NORMAL, then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        )
        return qs.annotate(priority_rank=rank).order_by("priority_rank", "-last_activity_at", "-id")
    return qs.order_by("-last_activity_at", "-id")


@dataclass
class InboxPage:
    query: InboxQuery
    rows: list[Conversation]
    has_next: bool
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def has_previous(self) -> bool:
        return self.query.page > 1


def page(member: Member, q: InboxQuery) -> InboxPage:
    """One page of rows: a single query (PAGE_SIZE + 1 rows tell whether more exist)."""
    start = (q.page - 1) * PAGE_SIZE
    rows = list(build(member, q)[start : start + PAGE_SIZE + 1])
    return InboxPage(query=q, rows=rows[:PAGE_SIZE], has_next=len(rows) > PAGE_SIZE)


def view_counts(member: Member) -> dict[str, int]:
    """Open work per view in one query (resolved history is never counted)."""
    team_ids = _team_ids(member)
    active = [Status.OPEN, Status.PENDING]
    agg = Conversation.objects.filter(
        workspace_id=member.workspace_id, status__in=ACTIVE_STATUSES
    ).aggregate(
        mine=Count("id", filter=Q(owner_id=member.pk, status__in=active)),
        unassigned=Count("id", filter=Q(owner__isnull=True, status__in=active)),
        team=Count("id", filter=Q(team_id__in=team_ids or [0], status__in=active)),
        all=Count("id"),
        snoozed=Count("id", filter=Q(status=Status.SNOOZED)),
    )
    return {k: v or 0 for k, v in agg.items()}


__all__ = [
    "PAGE_SIZE",
    "SENTIMENTS",
    "SORTS",
    "VIEWS",
    "InboxPage",
    "InboxQuery",
    "build",
    "page",
    "parse",
    "view_counts",
]
