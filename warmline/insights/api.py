"""KPI endpoints: the same numbers as the dashboard, as JSON or CSV (thin: engine computes)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpResponse
from ninja import Query as Q
from ninja import Router, Schema

from warmline.errors import InvalidInput
from warmline.schemas import ErrorOut

from . import engine, exports, loyalty, services

router = Router(tags=["kpis"])
ERRORS = {404: ErrorOut, 422: ErrorOut}


class KpiParams(Schema):
    scope: Literal["workspace", "brand_group", "all"] = "workspace"
    start: dt.date | None = None
    end: dt.date | None = None
    days: int | None = None
    team_id: int | None = None
    owner_id: int | None = None
    channel: str | None = None
    tier: str | None = None
    format: Literal["json", "csv"] = "json"


def _query(request, p: KpiParams) -> services.Query:
    if p.days is not None and not 1 <= p.days <= services.MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {services.MAX_DAYS}.", field="days")
    return services.build_query(
        request.member,
        scope=p.scope,
        start=p.start,
        end=p.end,
        days=p.days,
        team_id=p.team_id,
        owner_id=p.owner_id,
        channel=p.channel,
        tier=p.tier,
    )


def _meta(q: services.Query) -> dict:
    prev = q.period.previous()
    return {
        "scope": q.scope,
        "workspaces": [w.slug for w in q.workspaces],
        "period": {"start": q.period.start, "end": q.period.end},
        "previous_period": {"start": prev.start, "end": prev.end},
        "filters": {k: v for k, v in vars(q.filters).items() if v not in (None, "")},
    }


def _csv(q: services.Query, table: str, **kw) -> HttpResponse:
    body = exports.to_csv(exports.table_rows(q, table, **kw))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{table}-{q.period.start}-{q.period.end}.csv"'
    )
    return response


@router.get("/kpis", response={200: dict, **ERRORS})
def kpis(request, p: Q[KpiParams]):
    """Every KPI for the period with the previous period and the change ("no data" is null)."""
    q = _query(request, p)
    if p.format == "csv":
        return _csv(q, "kpis")
    return {**_meta(q), "kpis": engine.kpis(q.workspace_ids, q.period, q.filters)}


@router.get("/kpis/series", response={200: dict, **ERRORS})
def kpi_series(request, p: Q[KpiParams], granularity: Literal["day", "week", "month"] = "week"):
    q = _query(request, p)
    if p.format == "csv":
        return _csv(q, "series", granularity=granularity)
    points = engine.series(q.workspace_ids, q.period, q.filters, granularity)
    return {**_meta(q), "granularity": granularity, "series": points}


@router.get("/kpis/breakdown", response={200: dict, **ERRORS})
def kpi_breakdown(
    request,
    p: Q[KpiParams],
    by: Literal["channel", "team_id", "owner_id", "tier", "workspace_id"] = "channel",
):
    q = _query(request, p)
    if p.format == "csv":
        return _csv(q, "breakdown", by=by)
    return {
        **_meta(q),
        "by": by,
        "rows": engine.breakdown(q.workspace_ids, q.period, q.filters, by),
    }


@router.get("/kpis/correlations", response={200: dict, **ERRORS})
def kpi_correlations(request, p: Q[KpiParams]):
    """Weekly FCR vs NPS and sentiment change vs CSAT, with Pearson's r and its n."""
    q = _query(request, p)
    if p.format == "csv":
        return _csv(q, "correlations")
    return {**_meta(q), "pairs": engine.connect_the_dots(q.workspace_ids, q.period, q.filters)}


@router.get("/kpis/workspaces", response={200: dict, **ERRORS})
def kpi_workspaces(request, p: Q[KpiParams]):
    """The operator view: headline KPIs per workspace the member leads."""
    p.scope = "all" if p.scope == "workspace" else p.scope
    q = _query(request, p)
    if p.format == "csv":
        return _csv(q, "workspaces")
    rows = engine.per_workspace(q.workspaces, q.period, q.filters)
    return {
        **_meta(q),
        "rows": [{"workspace": r["workspace"].slug, "kpis": r["kpis"]} for r in rows],
    }


@router.get("/kpis/customers", response={200: dict, **ERRORS})
def kpi_customers(request, p: Q[KpiParams]):
    """Retention, churn and historical CLV (customer-level: not filtered by team or channel)."""
    q = _query(request, p)
    return {
        **_meta(q),
        "retention": loyalty.retention(q.workspaces, q.period),
        "clv": loyalty.historical_clv(q.workspaces, q.period),
        "predicted_clv": (
            loyalty.predicted_clv(q.workspaces[0], q.period)
            if len(q.workspaces) == 1
            else {"value": None, "n": 0, "reason": "predicted per workspace only"}
        ),
    }
