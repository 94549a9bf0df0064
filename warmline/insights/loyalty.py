"""Customer-level KPIs: retention, churn and historical lifetime value.

A customer is *active* in a period when they opened a conversation, placed a
(non-cancelled) order or had a business event in it. See docs/kpis.md.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.db.models import Count, Sum

from warmline.conversations.models import Conversation
from warmline.customers.models import Customer, CustomerEvent, Lifecycle, Order, OrderStatus
from warmline.tenancy.models import Workspace

from .engine import Period

NOT_REVENUE = (OrderStatus.CANCELLED, OrderStatus.RETURNED)


def utc_range(workspace: Workspace, period: Period) -> tuple[dt.datetime, dt.datetime]:
    try:
        zone = zoneinfo.ZoneInfo(workspace.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    start = dt.datetime.combine(period.start, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start, end


def active_customers(workspace: Workspace, period: Period) -> set[int]:
    start, end = utc_range(workspace, period)
    ids = set(
        Conversation.objects.filter(
            workspace=workspace, opened_at__gte=start, opened_at__lt=end
        ).values_list("customer_id", flat=True)
    )
    ids |= set(
        Order.objects.filter(workspace=workspace, placed_at__gte=start, placed_at__lt=end)
        .exclude(status=OrderStatus.CANCELLED)
        .values_list("customer_id", flat=True)
    )
    ids |= set(
        CustomerEvent.objects.filter(
            workspace=workspace, occurred_at__gte=start, occurred_at__lt=end
        ).values_list("customer_id", flat=True)
    )
    return ids


def retention(workspaces: list[Workspace], period: Period) -> dict:
    """Retention (E − N) / S and churn over S, where S is the previous period's actives."""
    s = e = n = churned = 0
    for workspace in workspaces:
        before = active_customers(workspace, period.previous())
        now = active_customers(workspace, period)
        # Intersect in Python: S can be tens of thousands (too many for an IN list).
        marked = (
            set(
                Customer.objects.filter(
                    workspace=workspace, lifecycle=Lifecycle.CHURNED
                ).values_list("pk", flat=True)
            )
            & before
            if before
            else set()
        )
        s += len(before)
        e += len(now)
        n += len(now - before)
        churned += len((before - now) | marked)
    return {
        "start": s,
        "end": e,
        "new": n,
        "churned": churned,
        "retention_rate": None if not s else round(100 * (e - n) / s, 4),
        "churn_rate": None if not s else round(100 * churned / s, 4),
    }


def historical_clv(workspaces: list[Workspace], period: Period) -> dict:
    """Sum of kept order totals up to the period's end, per customer who has ordered."""
    total, customers, currencies = Decimal("0"), 0, set()
    for workspace in workspaces:
        _, end = utc_range(workspace, period)
        agg = (
            Order.objects.filter(workspace=workspace, placed_at__lt=end)
            .exclude(status__in=NOT_REVENUE)
            .aggregate(total=Sum("total"), customers=Count("customer_id", distinct=True))
        )
        total += agg["total"] or Decimal("0")
        customers += agg["customers"] or 0
        currencies.add(workspace.currency)
    total = total.quantize(Decimal("0.01"))  # SQLite sums 40.00 + 130.50 to 170.5
    return {
        "total": str(total),
        "customers": customers,
        "average": None if not customers else str((total / customers).quantize(Decimal("0.01"))),
        "currency": currencies.pop() if len(currencies) == 1 else None,
    }


def predicted_clv(workspace: Workspace, period: Period, *, weeks: int = 52) -> dict:
    """BG/NBD × Gamma-Gamma fitted on the workspace's own orders up to the period's end.

    A customer's history: purchase days (several orders on one day are one purchase),
    x = repeat purchase days, t_x = weeks from first to last, T = weeks from first to the
    period's end, m_x = mean value of the repeat purchases. Undiscounted, in weeks.
    """
    from collections import defaultdict

    import numpy as np

    from . import clv

    _, end = utc_range(workspace, period)
    days: dict[int, dict] = defaultdict(lambda: defaultdict(Decimal))
    orders = (
        Order.objects.filter(workspace=workspace, placed_at__lt=end, placed_at__isnull=False)
        .exclude(status__in=NOT_REVENUE)
        .values_list("customer_id", "placed_at", "total")
    )
    for customer_id, placed_at, total in orders.iterator():
        days[customer_id][placed_at.date()] += total
    if not days:
        return {"value": None, "n": 0, "reason": "no orders"}
    end_day = (end - dt.timedelta(microseconds=1)).date()
    x, t_x, big_t, m_x = [], [], [], []
    for per_day in days.values():
        ordered = sorted(per_day)
        first, last = ordered[0], ordered[-1]
        x.append(len(ordered) - 1)
        t_x.append((last - first).days / 7)
        big_t.append(max((end_day - first).days, 1) / 7)
        repeat = [float(per_day[d]) for d in ordered[1:]]
        m_x.append(sum(repeat) / len(repeat) if repeat else 0.0)
    try:
        bg = clv.fit_bgnbd(x, t_x, big_t)
        gg = clv.fit_gamma_gamma(x, m_x)
    except ValueError as exc:
        return {"value": None, "n": len(x), "reason": str(exc)}
    if bg.a <= 1 or gg.q <= 1:
        return {"value": None, "n": len(x), "reason": "the fitted model has no finite mean"}
    values = clv.predicted_clv(bg, gg, weeks, x, t_x, big_t, m_x)
    return {
        "value": round(float(np.mean(values)), 2),
        "n": len(x),
        "weeks": weeks,
        "currency": workspace.currency,
        "method": "BG/NBD + Gamma-Gamma (undiscounted)",
        "bgnbd": {k: round(v, 4) for k, v in vars(bg).items()},
        "gamma_gamma": {k: round(v, 4) for k, v in vars(gg).items()},
    }
