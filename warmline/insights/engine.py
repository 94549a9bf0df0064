"""Compute KPIs for any period and filter from the roll-ups (and the live backlog).

A scope is a list of workspaces (one brand, a brand group, or every workspace a
member can see); periods are local calendar dates, so each workspace's days are
its own.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass

from django.db.models import Avg, Count, FloatField, Func, Min, Q, QuerySet, Sum
from django.utils import timezone

from warmline.conversations.models import ACTIVE_STATUSES, Conversation
from warmline.tenancy.models import Team, Workspace

from .definitions import BY_KEY, HEADLINE, derive
from .models import DIMENSIONS, MEASURES, DailyRollup, DailyTotal

GRANULARITIES = ("day", "week", "month")


@dataclass(frozen=True)
class Period:
    """Inclusive local dates."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))

    @classmethod
    def last(cls, days: int, today: dt.date | None = None) -> Period:
        today = today or timezone.localdate()
        return cls(today - dt.timedelta(days=days - 1), today)


@dataclass(frozen=True)
class Filters:
    team_id: int | None = None
    owner_id: int | None = None
    channel: str | None = None
    tier: str | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) in (None, "") for name in DIMENSIONS)

    def q(self) -> Q:
        q = Q()
        for name in DIMENSIONS:
            value = getattr(self, name)
            if value not in (None, ""):
                q &= Q(**{name: value})
        return q

    def conversation_q(self) -> Q:
        q = Q()
        if self.team_id:
            q &= Q(team_id=self.team_id)
        if self.owner_id:
            q &= Q(owner_id=self.owner_id)
        if self.channel:
            q &= Q(channel=self.channel)
        if self.tier:
            q &= Q(customer__tier=self.tier)
        return q


NO_FILTERS = Filters()


def _rows(
    workspace_ids: list[int], period: Period, filters: Filters, *, by: str | None = None
) -> QuerySet:
    """The roll-up rows to sum: the per-day totals when no dimension is filtered or
    broken down (a year is 365 rows a workspace), the dimension buckets otherwise."""
    model = DailyTotal if filters.empty and by in (None, "workspace_id") else DailyRollup
    return model.objects.filter(
        filters.q(), workspace_id__in=workspace_ids, day__gte=period.start, day__lte=period.end
    )


def _zero() -> dict[str, int]:
    return dict.fromkeys(MEASURES, 0)


def sums(workspace_ids: list[int], period: Period, filters: Filters = NO_FILTERS) -> dict[str, int]:
    agg = _rows(workspace_ids, period, filters).aggregate(**{m: Sum(m) for m in MEASURES})
    return {m: int(agg[m] or 0) for m in MEASURES}


def kpis(
    workspace_ids: list[int], period: Period, filters: Filters = NO_FILTERS
) -> dict[str, dict]:
    """Every KPI for the period, its previous period and the change between them."""
    current = derive(sums(workspace_ids, period, filters))
    previous = derive(sums(workspace_ids, period.previous(), filters))
    for key, figure in current.items():
        before = previous[key]["value"]
        figure["previous"] = before
        figure["change"] = (
            None
            if figure["value"] is None or before is None
            else round(figure["value"] - before, 4)
        )
    current["backlog"] = backlog(workspace_ids, filters)
    current["handle_time"] = handle_time(workspace_ids, period, filters)
    before = handle_time(workspace_ids, period.previous(), filters)["value"]
    now_value = current["handle_time"]["value"]
    current["handle_time"]["previous"] = before
    current["handle_time"]["change"] = (
        None if now_value is None or before is None else round(now_value - before, 4)
    )
    return current


def handle_time(workspace_ids: list[int], period: Period, filters: Filters = NO_FILTERS) -> dict:
    """Average handle time per conversation handled in the period: answered calls' handle
    time (talk + hold + after-call work) plus agents' active work seconds on written
    conversations (``worktime``); shown, never a headline.

    A member filter means calls that member handled and that member's work; a team
    filter, its members'. The voice channel has only calls; written channels only work.
    """
    from . import worktime

    agents = None
    if filters.owner_id:
        agents = [filters.owner_id]
    elif filters.team_id:
        agents = list(
            Team.members.through.objects.filter(team_id=filters.team_id).values_list(
                "member_id", flat=True
            )
        )
    total_keys = ("n", "calls", "call_seconds", "work_sessions", "work_seconds", "talk_seconds",
                  "hold_seconds", "after_call_work_seconds")  # fmt: skip
    out = dict.fromkeys(total_keys, 0)
    for workspace in Workspace.objects.filter(pk__in=workspace_ids).only("time_zone"):
        start, end = local_range(workspace.time_zone, period)
        found = worktime.handle_time(
            workspace_ids=[workspace.pk],
            start=start,
            end=end,
            member_ids=agents,
            channel=filters.channel or None,
            tier=filters.tier or None,
        )
        for key in total_keys:
            out[key] += found[key]
    n = out["n"]
    value = round((out["call_seconds"] + out["work_seconds"]) / n, 1) if n else None
    return {"value": value, **out}


def local_range(time_zone: str, period: Period) -> tuple[dt.datetime, dt.datetime]:
    """The period's local days as a UTC-comparable [start, end) pair."""
    try:
        zone = zoneinfo.ZoneInfo(time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    start = dt.datetime.combine(period.start, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start, end


def backlog(workspace_ids: list[int], filters: Filters = NO_FILTERS, now=None) -> dict:
    """Open work right now: how many conversations and how long they have waited on average."""
    now = now or timezone.now()
    # No merged_into filter: a merge closes the merged case, so it is never in the backlog
    # unless reopened (then it is open work again) — and the count and ages come from the
    # (workspace, status, opened_at) index alone.
    qs = Conversation.objects.filter(
        filters.conversation_q(), workspace_id__in=workspace_ids, status__in=ACTIVE_STATUSES
    )
    agg = qs.aggregate(n=Count("id"), oldest=Min("opened_at"), mean=Avg(EpochSeconds("opened_at")))
    if not agg["n"]:
        return {"value": 0, "n": 0, "age_seconds": None, "oldest_seconds": None}
    return {
        "value": agg["n"],
        "n": agg["n"],
        "age_seconds": round(now.timestamp() - agg["mean"]),
        "oldest_seconds": round((now - agg["oldest"]).total_seconds()),
    }


class EpochSeconds(Func):
    """Seconds since 1970 of a timestamp column, so the database averages the ages
    (streaming a large backlog through Python cost more than every roll-up query)."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores SQLite timestamps as UTC text; julianday() reads it.
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
            **extra,
        )


def _bucket_start(day: dt.date, granularity: str) -> dt.date:
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def series(
    workspace_ids: list[int],
    period: Period,
    filters: Filters = NO_FILTERS,
    granularity: str = "week",
) -> list[dict]:
    """[{"start": date, "kpis": {...}}] for each day/week/month touching the period."""
    rows = (
        _rows(workspace_ids, period, filters)
        .values("day")
        .annotate(**{m: Sum(m) for m in MEASURES})
        .order_by("day")
    )
    buckets: dict[dt.date, dict[str, int]] = {}
    for row in rows:
        start = _bucket_start(row["day"], granularity)
        bucket = buckets.setdefault(start, _zero())
        for m in MEASURES:
            bucket[m] += int(row[m] or 0)
    out = []
    day = _bucket_start(period.start, granularity)
    while day <= period.end:
        out.append({"start": day, "kpis": derive(buckets.get(day, _zero()))})
        day = _next(day, granularity)
    return out


def _next(day: dt.date, granularity: str) -> dt.date:
    if granularity == "week":
        return day + dt.timedelta(days=7)
    if granularity == "month":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day + dt.timedelta(days=1)


def breakdown(
    workspace_ids: list[int], period: Period, filters: Filters = NO_FILTERS, by: str = "channel"
) -> list[dict]:
    """KPIs per value of one dimension (channel, team_id, owner_id, tier or workspace_id)."""
    if by not in (*DIMENSIONS, "workspace_id"):
        raise ValueError(by)
    rows = (
        _rows(workspace_ids, period, filters, by=by)
        .values(by)
        .annotate(**{m: Sum(m) for m in MEASURES})
        .order_by(by)
    )
    return [
        {"key": row[by], "kpis": derive({m: int(row[m] or 0) for m in MEASURES})} for row in rows
    ]


def pearson(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r, or None when fewer than 3 pairs or a constant series make it meaningless."""
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return round(sxy / math.sqrt(sxx * syy), 4)


def connect_the_dots(
    workspace_ids: list[int], period: Period, filters: Filters = NO_FILTERS
) -> dict:
    """Weekly FCR against weekly NPS, weekly sentiment change against CSAT; r with its n."""
    weeks = series(workspace_ids, period, filters, "week")
    out = {}
    for name, x_key, y_key in (
        ("fcr_vs_nps", "fcr", "nps"),
        ("sentiment_change_vs_csat", "sentiment_change", "csat"),
    ):
        points = [
            {"week": w["start"], "x": w["kpis"][x_key]["value"], "y": w["kpis"][y_key]["value"]}
            for w in weeks
            if w["kpis"][x_key]["value"] is not None and w["kpis"][y_key]["value"] is not None
        ]
        out[name] = {
            "x": x_key,
            "y": y_key,
            "points": points,
            "n": len(points),
            "r": pearson([p["x"] for p in points], [p["y"] for p in points]),
        }
    return out


def headline(workspace_ids: list[int], period: Period, filters: Filters = NO_FILTERS) -> dict:
    figures = kpis(workspace_ids, period, filters)
    return {k: figures[k] for k in (*HEADLINE, "backlog")}


def per_workspace(workspaces, period: Period, filters: Filters = NO_FILTERS) -> list[dict]:
    """The operator view: headline KPIs for each workspace, one grouped query per period."""
    rows = {
        r["key"]: r["kpis"]
        for r in breakdown([w.pk for w in workspaces], period, filters, by="workspace_id")
    }
    empty = derive(_zero())
    return [{"workspace": w, "kpis": rows.get(w.pk, empty)} for w in workspaces]


def label(key: str) -> str:
    return str(BY_KEY[key].label) if key in BY_KEY else key
