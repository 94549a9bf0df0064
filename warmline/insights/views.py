"""The KPI dashboard (server-rendered; Chart.js draws when its vendored file is present)."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _

from warmline.errors import DomainError
from warmline.web.context import member_view

from . import engine, exports, loyalty, services
from .definitions import BY_KEY, HEADLINE

CHART_JS = "vendor/chart.umd.js"
BREAKDOWNS = ("channel", "team_id", "owner_id", "tier")
BREAKDOWN_LABELS = {
    "channel": _("Channel"),
    "team_id": _("Team"),
    "owner_id": _("Member"),
    "tier": _("Tier"),
}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _query(request: HttpRequest, scope: str = "workspace") -> services.Query:
    g = request.GET
    return services.build_query(
        request.member,
        scope=g.get("scope", scope),
        start=parse_date(g.get("start", "") or "") if g.get("start") else None,
        end=parse_date(g.get("end", "") or "") if g.get("end") else None,
        days=_int(g.get("days")) or 30,
        team_id=_int(g.get("team_id")),
        owner_id=_int(g.get("owner_id")),
        channel=g.get("channel") or None,
        tier=g.get("tier") or None,
    )


def _error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    if exc.status == 404:
        raise Http404(exc.message)
    return render(
        request,
        "insights/error.html",
        {"member": request.member, "message": exc.message},
        status=exc.status,
    )


def _tile(key: str, figure: dict) -> dict:
    kpi = BY_KEY.get(key)
    change = figure.get("change")
    better = None
    if change is not None and change != 0 and kpi and kpi.better:
        better = (change > 0) == (kpi.better == "up")
    return {
        "key": key,
        "label": kpi.label if kpi else key,
        "unit": kpi.unit if kpi else "",
        "value": figure.get("value"),
        "n": figure.get("n"),
        "previous": figure.get("previous"),
        "change": change,
        "better": better,
    }


def _without(request: HttpRequest, *names: str) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


def _filter_choices(member) -> dict:
    from warmline.customers.models import Channel, Tier
    from warmline.tenancy.models import Member, Team

    return {
        "period_choices": (7, 30, 90, 365),
        "channels": Channel.choices,
        "tiers": Tier.choices,
        "teams": Team.objects.filter(workspace=member.workspace).order_by("name"),
        "members": Member.objects.filter(workspace=member.workspace).select_related("user"),
    }


def _named(rows: list[dict], by: str, workspace) -> list[dict]:
    """Breakdown keys as people read them: team and member names, channel and tier labels."""
    from warmline.customers.models import Channel, Tier
    from warmline.tenancy.models import Member, Team

    names: dict = {}
    if by == "team_id":
        names = dict(Team.objects.filter(workspace=workspace).values_list("pk", "name"))
    elif by == "owner_id":
        names = {m.pk: str(m) for m in Member.objects.filter(workspace=workspace)}
    elif by == "channel":
        names = dict(Channel.choices)
    elif by == "tier":
        names = dict(Tier.choices)
    for row in rows:
        key = row["key"]
        row["name"] = names.get(key, key) if key not in (0, "", None) else _("(none)")
    return rows


@member_view
def dashboard(request: HttpRequest) -> HttpResponse:
    try:
        q = _query(request)
    except DomainError as exc:
        return _error(request, exc)
    by = request.GET.get("by") if request.GET.get("by") in BREAKDOWNS else "channel"
    figures = engine.kpis(q.workspace_ids, q.period, q.filters)
    weeks = engine.series(q.workspace_ids, q.period, q.filters, "week")
    dots = engine.connect_the_dots(q.workspace_ids, q.period, q.filters)
    for pair in dots.values():
        pair["x_label"], pair["y_label"] = BY_KEY[pair["x"]].label, BY_KEY[pair["y"]].label
    chart_data = {
        "weeks": [w["start"] for w in weeks],
        "series": {k: [w["kpis"][k]["value"] for w in weeks] for k in ("nps", "csat", "fcr")},
        "dots": {name: pair["points"] for name, pair in dots.items()},
        "axes": {
            name: {"x": str(BY_KEY[pair["x"]].label), "y": str(BY_KEY[pair["y"]].label)}
            for name, pair in dots.items()
        },
    }
    ctx = {
        "member": request.member,
        "memberships": getattr(request, "memberships", []),
        "q": q,
        "previous": q.period.previous(),
        "tiles": [_tile(k, figures[k]) for k in HEADLINE],
        "secondary": [
            _tile(k, figures[k])
            for k in ("csat_mean", "ces_easy", "response_rate", "handoffs", "sentiment_change")
        ],
        "backlog": figures["backlog"],
        "handle_time": figures["handle_time"],
        # Customer-level (not split by team, member or channel): retention, churn, CLV.
        "retention": loyalty.retention(q.workspaces, q.period),
        "clv": loyalty.historical_clv(q.workspaces, q.period),
        "weeks": weeks,
        "by": by,
        "breakdown": _named(
            engine.breakdown(q.workspace_ids, q.period, q.filters, by), by, request.member.workspace
        ),
        "breakdowns": list(BREAKDOWN_LABELS.items()),
        "by_label": BREAKDOWN_LABELS[by],
        "dots": dots,
        # json_script encodes (dates included): a pre-encoded string would arrive as a string.
        "chart_data": chart_data,
        "has_chartjs": finders.find(CHART_JS) is not None,
        "chart_js": CHART_JS,
        "query_string": _without(request, "by"),
        **_filter_choices(request.member),
    }
    return render(request, "insights/dashboard.html", ctx)


@member_view
def operator(request: HttpRequest) -> HttpResponse:
    try:
        q = _query(request, scope="all")
    except DomainError as exc:
        return _error(request, exc)
    rows = engine.per_workspace(q.workspaces, q.period, q.filters)
    ctx = {
        "member": request.member,
        "memberships": getattr(request, "memberships", []),
        "q": q,
        "rows": [
            {"workspace": r["workspace"], "tiles": [_tile(k, r["kpis"][k]) for k in HEADLINE]}
            for r in rows
        ],
        "headline": [BY_KEY[k].label for k in HEADLINE],
        "query_string": request.GET.urlencode(),
        **_filter_choices(request.member),
    }
    return render(request, "insights/operator.html", ctx)


@member_view
def export(request: HttpRequest, table: str) -> HttpResponse:
    if table not in exports.TABLES:
        raise Http404("No such table.")
    try:
        q = _query(request, scope="all" if table == "workspaces" else "workspace")
    except DomainError as exc:
        return _error(request, exc)
    by = request.GET.get("by") if request.GET.get("by") in BREAKDOWNS else "channel"
    granularity = request.GET.get("granularity", "week")
    if granularity not in engine.GRANULARITIES:
        granularity = "week"
    body = exports.to_csv(exports.table_rows(q, table, by=by, granularity=granularity))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}.csv"'
    return response
