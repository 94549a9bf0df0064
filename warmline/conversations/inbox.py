"""The agent inbox: views, filters and sorts turned into bounded, index-walking queries.

A page is at most ``PAGE_SIZE`` rows fetched with their customer, owner and team.
Pages are keyset-paginated (``after`` names the last row seen), never OFFSET,
and "is there a next page" costs one extra row, never a COUNT over a
workspace's history.

Why several small queries instead of one: a view covers several statuses
(All = open, pending, snoozed; Resolved = resolved, closed) and a sort may be
made of segments (priority: urgent, then high...; waiting: the waiting ones,
then the rest). ``status IN (...) ORDER BY last_activity_at`` cannot walk one
index in order, so the database sorts every matching row: a million resolved
conversations per page view. One query per (segment, status) walks the index
``(workspace, status[, priority], key)`` and stops after a page of rows; the
pieces are merged in Python. Tag filtering works on both SQLite and
PostgreSQL by matching the JSON-encoded tag inside the list's text form.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from django.db.models import Count, Q, QuerySet, TextField
from django.db.models.functions import Cast

from warmline.tenancy.models import Member

from .models import ACTIVE_STATUSES, Conversation, Priority, Status
from .sla import breached_q

PAGE_SIZE = 50
VIEWS = ("mine", "unassigned", "team", "all", "snoozed", "resolved")
SORTS = ("waiting", "priority", "activity", "sla")
SENTIMENTS = ("negative", "neutral", "positive")
FLAGS = ("escalated", "sla_breached")  # signal and SLA markers one can filter on
# Sentiment bands on the compound score in [-1, 1] (VADER convention, widened a little).
NEGATIVE_BELOW = -0.3
POSITIVE_ABOVE = 0.3
WORKING = (Status.OPEN, Status.PENDING)
VIEW_STATUSES: dict[str, tuple[str, ...]] = {
    "mine": WORKING,
    "unassigned": WORKING,
    "team": WORKING,
    "all": ACTIVE_STATUSES,
    "snoozed": (Status.SNOOZED,),
    "resolved": (Status.RESOLVED, Status.CLOSED),
}
PRIORITY_ORDER = (Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW)


@dataclass(frozen=True)
class Segment:
    """A slice of a sort: rows matching ``where``, ordered by ``key`` (then id)."""

    where: Q
    key: str
    descending: bool


def segments(sort: str) -> list[Segment]:
    if sort == "waiting":
        # Longest-waiting first; conversations nobody waits on follow, most recent first.
        return [
            Segment(Q(waiting_since__isnull=False), "waiting_since", False),
            Segment(Q(waiting_since__isnull=True), "last_activity_at", True),
        ]
    if sort == "priority":
        return [Segment(Q(priority=p), "last_activity_at", True) for p in PRIORITY_ORDER]
    if sort == "sla":
        # Soonest response due first: cases awaiting a first response, then those awaiting
        # a next response, then everything else by activity. (Resolution targets show as
        # markers; they do not reorder.)
        first = Q(first_response_at__isnull=True, first_response_due_at__isnull=False)
        return [
            Segment(first, "first_response_due_at", False),
            Segment(~first & Q(next_response_due_at__isnull=False), "next_response_due_at", False),
            Segment(~first & Q(next_response_due_at__isnull=True), "last_activity_at", True),
        ]
    return [Segment(Q(), "last_activity_at", True)]


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: segment index, that row's sort key and id."""

    segment: int
    key: dt.datetime
    id: int

    def token(self) -> str:
        return f"{self.segment}~{self.key.isoformat()}~{self.id}"

    @classmethod
    def parse(cls, token: str) -> Cursor | None:
        try:
            seg, key, pk = token.split("~")
            parsed = dt.datetime.fromisoformat(key)
            if parsed.tzinfo is None:
                return None
            return cls(int(seg), parsed, int(pk))
        except (ValueError, TypeError):
            return None


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
    flag: str = ""
    sort: str = "activity"
    after: str = ""  # a Cursor token: the page starts after that row

    def params(self, **override) -> str:
        """The query string for this query with some fields changed (for links)."""
        q = replace(self, **override)
        data = {k: v for k, v in q.__dict__.items() if v not in ("", None)}
        return urlencode(data)

    @property
    def params_without_page(self) -> str:
        return self.params(after="")

    @property
    def cursor(self) -> Cursor | None:
        return Cursor.parse(self.after) if self.after else None


def parse(params: Mapping[str, str]) -> InboxQuery:
    """Lenient: an unknown value falls back to the default instead of failing the page."""

    def pick(name: str, allowed, default: str = "") -> str:
        value = (params.get(name) or "").strip()
        return value if value in allowed else default

    owner = (params.get("owner") or "").strip()
    team = (params.get("team") or "").strip()
    after = (params.get("after") or "").strip()[:80]
    return InboxQuery(
        view=pick("view", VIEWS, "mine"),
        channel=pick("channel", _channel_values()),
        status=pick("status", Status.values),
        priority=pick("priority", Priority.values),
        owner=owner if owner == "none" or owner.isdigit() else "",
        team=team if team.isdigit() else "",
        tag=(params.get("tag") or "").strip()[:60],
        sentiment=pick("sentiment", SENTIMENTS),
        flag=pick("flag", FLAGS),
        sort=pick("sort", SORTS, "activity"),
        after=after if Cursor.parse(after) else "",
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
    """The view's condition (statuses included), for callers that want one queryset."""
    cond = Q(status__in=VIEW_STATUSES.get(view, ACTIVE_STATUSES))
    if view == "mine":
        return cond & Q(owner_id=member.pk)
    if view == "unassigned":
        return cond & Q(owner__isnull=True)
    if view == "team":
        return cond & Q(team_id__in=_team_ids(member))
    return cond


def tag_filter(tag: str) -> Q:
    """Portable "list contains tag": the JSON text of the list contains the JSON string."""
    needles = {json.dumps(tag), json.dumps(tag, ensure_ascii=False)}
    cond = Q()
    for needle in needles:
        cond |= Q(tags_text__contains=needle)
    return cond


def _filtered(member: Member, q: InboxQuery) -> QuerySet[Conversation]:
    """Everything but status and sort: workspace, the view's people, the filters."""
    qs = Conversation.objects.filter(workspace_id=member.workspace_id)
    if q.view == "mine":
        qs = qs.filter(owner_id=member.pk)
    elif q.view == "unassigned":
        qs = qs.filter(owner__isnull=True)
    elif q.view == "team":
        qs = qs.filter(team_id__in=_team_ids(member))
    if q.channel:
        qs = qs.filter(Q(channel=q.channel) | Q(last_channel=q.channel))
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
    if q.flag == "escalated":
        qs = qs.filter(escalated_at__isnull=False)
    elif q.flag == "sla_breached":
        qs = qs.filter(breached_q(dt.datetime.now(dt.UTC)))
    return qs


def statuses(q: InboxQuery) -> tuple[str, ...]:
    """The view's statuses, narrowed by the status filter (empty when they exclude each other)."""
    allowed = VIEW_STATUSES[q.view]
    if q.status:
        return tuple(s for s in allowed if s == q.status)
    return allowed


# The inbox shows these; everything else on the row (JSON settings, SLA state...) stays behind.
ROW_FIELDS = (
    "id",
    "number",
    "subject",
    "status",
    "priority",
    "channel",
    "last_channel",
    "tags",
    "sentiment_last",
    "escalated_at",
    "first_response_at",
    "first_response_due_at",
    "next_response_due_at",
    "resolution_due_at",
    "sla_state",
    "waiting_since",
    "last_activity_at",
    "owner_id",
    "team_id",
    "customer_id",
    "customer__id",
    "customer__name",
    "owner__id",
    "owner__display_name",
    "team__id",
    "team__name",
)


def _after(seg: Segment, cursor: Cursor) -> Q:
    """Rows strictly after the cursor in this segment's order (a range the index can walk)."""
    k = seg.key
    if seg.descending:
        return Q(**{f"{k}__lte": cursor.key}) & (
            Q(**{f"{k}__lt": cursor.key}) | Q(id__lt=cursor.id)
        )
    return Q(**{f"{k}__gte": cursor.key}) & (Q(**{f"{k}__gt": cursor.key}) | Q(id__gt=cursor.id))


def _sort_key(seg: Segment):
    return lambda c: (getattr(c, seg.key), c.id)


@dataclass
class InboxPage:
    query: InboxQuery
    rows: list[Conversation]
    has_next: bool
    next_after: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def has_previous(self) -> bool:
        return bool(self.query.after)


def page(member: Member, q: InboxQuery) -> InboxPage:
    """One page of rows, plus one to tell whether more exist.

    One query per (segment, status) pair, each walking an index in order and
    stopping after the rows still needed; segments after the one that fills the
    page are never queried.
    """
    need = PAGE_SIZE + 1
    base = _filtered(member, q).select_related("customer", "owner", "team").only(*ROW_FIELDS)
    cursor = q.cursor
    found: list[tuple[int, Conversation]] = []
    for index, seg in enumerate(segments(q.sort)):
        if cursor and index < cursor.segment:
            continue
        qs = base.filter(seg.where)
        if cursor and index == cursor.segment:
            qs = qs.filter(_after(seg, cursor))
        order = (f"-{seg.key}", "-id") if seg.descending else (seg.key, "id")
        pieces: list[Conversation] = []
        wanted = need - len(found)
        for status in statuses(q):
            part = qs.filter(status=status)
            if len(pieces) >= wanted:
                # A full page is already in hand: only rows that sort before its last can win.
                pieces.sort(key=_sort_key(seg), reverse=seg.descending)
                pieces = pieces[:wanted]
                bound = getattr(pieces[-1], seg.key)
                part = part.filter(**{f"{seg.key}__{'gte' if seg.descending else 'lte'}": bound})
            pieces.extend(part.order_by(*order)[:wanted])
        pieces.sort(key=_sort_key(seg), reverse=seg.descending)
        found.extend((index, c) for c in pieces[: need - len(found)])
        if len(found) >= need:
            break
    rows = [c for _, c in found[:PAGE_SIZE]]
    has_next = len(found) > PAGE_SIZE
    next_after = ""
    if has_next:
        index, last = found[PAGE_SIZE - 1]
        seg = segments(q.sort)[index]
        next_after = Cursor(index, getattr(last, seg.key), last.id).token()
    return InboxPage(query=q, rows=rows, has_next=has_next, next_after=next_after)


def build(member: Member, q: InboxQuery) -> QuerySet[Conversation]:
    """The whole view as one queryset (for bulk actions and exports; pages use ``page``)."""
    return _filtered(member, q).filter(status__in=statuses(q)).order_by("-last_activity_at", "-id")


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
    "FLAGS",
    "SENTIMENTS",
    "SORTS",
    "VIEWS",
    "InboxPage",
    "InboxQuery",
    "build",
    "page",
    "segments",
    "statuses",
    "parse",
    "view_counts",
]
