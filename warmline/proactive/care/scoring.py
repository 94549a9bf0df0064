"""Health recomputation over the database: facts in a handful of set queries, scores in numpy.

One code path serves the whole workspace (nightly) and a few customers (when their
inputs change): every query takes an optional ``customer_ids`` filter, the facts
become numpy columns, ``health.score_batch`` scores them, and one multi-row upsert
writes the current scores. History gets a snapshot whenever the score moves by half
a point or more, and at least once per day, so the trend is visible without storing
a row per customer per recompute.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Avg, Count, Max, Min, Q
from django.utils import timezone

from warmline.conversations.models import ACTIVE_STATUSES, Conversation, EntryKind, TimelineEntry
from warmline.customers.models import Customer, CustomerEvent, Lifecycle, Order, OrderStatus
from warmline.proactive import churn
from warmline.proactive.health import COMPONENTS, FactsBatch, HealthConfig, score_batch
from warmline.tenancy.models import Workspace

from .models import CareSettings, ChurnModelRecord, CustomerHealth, HealthSnapshot

SENTIMENT_WINDOW = dt.timedelta(days=30)
ISSUE_WINDOW = dt.timedelta(days=90)
SURVEY_WINDOW = dt.timedelta(days=90)
CONTACT_WEEK = dt.timedelta(days=7)
# Activity that shows the customer still uses the business (besides orders).
ACTIVITY_EVENT_TYPES = ("purchase", "order_placed", "renewal", "login", "activity")
SNAPSHOT_MIN_CHANGE = 0.5
CHUNK = 20_000

FACT_FIELDS = (
    "sentiment_recent",
    "sentiment_previous",
    "open_issues",
    "reopened_issues",
    "contacts_recent",
    "contacts_baseline",
    "nps",
    "csat",
    "ces",
    "days_since_activity",
    "usual_gap_days",
    "escalations",
    "tenure_days",
)

CHURN_SPEC = churn.FeatureSpec(
    numeric=(
        "tenure_days",
        "lifetime_value",
        "open_issues",
        "reopened_issues",
        "escalations",
        "contacts_recent",
        "contacts_baseline",
        "sentiment_recent",
        "nps",
        "csat",
        "days_since_activity",
        "usual_gap_days",
        "orders",
    ),
    categorical=("tier", "preferred_channel"),
)


def health_config(workspace: Workspace) -> HealthConfig:
    data = CareSettings.objects.filter(workspace=workspace).values_list("health", flat=True).first()
    return HealthConfig.from_dict(data or {})


@dataclass
class Facts:
    """Facts for many customers: ids, numpy columns (NaN = no data) and churn-only extras."""

    ids: np.ndarray
    columns: dict[str, np.ndarray]
    lifetime_value: np.ndarray
    orders: np.ndarray
    tier: list[str]
    preferred_channel: list[str]
    churned: np.ndarray

    def row(self, i: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in FACT_FIELDS:
            v = float(self.columns[name][i])
            out[name] = None if math.isnan(v) else v
        return out

    def churn_rows(self) -> list[dict[str, Any]]:
        cols = {name: self.columns[name].tolist() for name in FACT_FIELDS}
        ltv, orders = self.lifetime_value.tolist(), self.orders.tolist()
        rows = []
        for i in range(len(self.ids)):
            row = {name: cols[name][i] for name in CHURN_SPEC.numeric if name in cols}
            row["lifetime_value"] = ltv[i]
            row["orders"] = orders[i]
            row["tier"] = self.tier[i]
            row["preferred_channel"] = self.preferred_channel[i]
            rows.append(row)
        return rows


def _filter(qs, field: str, customer_ids: Sequence[int] | None):
    return qs if customer_ids is None else qs.filter(**{f"{field}__in": customer_ids})


def gather_facts(
    *, workspace: Workspace, now: dt.datetime, customer_ids: Sequence[int] | None = None
) -> Facts:
    """Every fact the score needs, for all customers (or the ones named), in seven queries."""
    customers = list(
        _filter(Customer.objects.filter(workspace=workspace), "pk", customer_ids)
        .order_by("pk")
        .values_list(
            "pk",
            "customer_since",
            "created_at",
            "lifetime_value",
            "tier",
            "preferred_channel",
            "lifecycle",
        )
    )
    n = len(customers)
    ids = np.fromiter((c[0] for c in customers), dtype=np.int64, count=n)
    index = {int(cid): i for i, cid in enumerate(ids)}
    cols = {name: np.full(n, np.nan) for name in FACT_FIELDS}
    for name in ("open_issues", "reopened_issues", "contacts_recent", "escalations"):
        cols[name][:] = 0.0
    today = now.date()
    for i, (_pk, since, created, *_rest) in enumerate(customers):
        start = since or (created.date() if created else today)
        cols["tenure_days"][i] = max(0, (today - start).days)
    if n == 0:
        return Facts(ids, cols, np.zeros(0), np.zeros(0), [], [], np.zeros(0, dtype=bool))

    # sentiment: the mean of the customer's messages in this window and the one before
    recent_from, previous_from = now - SENTIMENT_WINDOW, now - 2 * SENTIMENT_WINDOW
    sentiments = _filter(
        TimelineEntry.objects.filter(
            workspace=workspace,
            kind=EntryKind.CUSTOMER_MESSAGE,
            sentiment__isnull=False,
            occurred_at__gte=previous_from,
            occurred_at__lte=now,
        ),
        "conversation__customer_id",
        customer_ids,
    ).values_list(
        "conversation__customer_id",
    )
    sentiments = sentiments.annotate(
        recent=Avg("sentiment", filter=Q(occurred_at__gte=recent_from)),
        previous=Avg("sentiment", filter=Q(occurred_at__lt=recent_from)),
    ).order_by()
    for cid, recent, previous in sentiments:
        i = index.get(cid)
        if i is not None:
            cols["sentiment_recent"][i] = np.nan if recent is None else recent
            cols["sentiment_previous"][i] = np.nan if previous is None else previous
    # a customer who wrote only in the earlier window has no "recent" level: use it as recent
    only_prev = np.isnan(cols["sentiment_recent"]) & ~np.isnan(cols["sentiment_previous"])
    cols["sentiment_recent"][only_prev] = cols["sentiment_previous"][only_prev]
    cols["sentiment_previous"][only_prev] = np.nan

    # issues, escalations and contacts come from the customer's cases
    week_ago, window_from = now - CONTACT_WEEK, now - ISSUE_WINDOW
    cases = (
        _filter(
            Conversation.objects.filter(workspace=workspace, opened_at__lte=now),
            "customer_id",
            customer_ids,
        )
        .values_list("customer_id")
        .annotate(
            open=Count("id", filter=Q(status__in=ACTIVE_STATUSES)),
            reopened=Count("id", filter=Q(reopen_count__gt=0, last_activity_at__gte=window_from)),
            escalated=Count("id", filter=Q(escalated_at__gte=window_from)),
            recent=Count("id", filter=Q(opened_at__gte=week_ago)),
            earlier=Count("id", filter=Q(opened_at__lt=week_ago)),
            first=Min("opened_at"),
        )
        .order_by()
    )
    for cid, open_, reopened, escalated, recent, earlier, first in cases:
        i = index.get(cid)
        if i is None:
            continue
        cols["open_issues"][i] = open_
        cols["reopened_issues"][i] = reopened
        cols["escalations"][i] = escalated
        cols["contacts_recent"][i] = recent
        if earlier and first is not None and first < week_ago:
            weeks = max(1.0, (week_ago - first).total_seconds() / CONTACT_WEEK.total_seconds())
            cols["contacts_baseline"][i] = earlier / weeks

    _survey_facts(workspace, now, customer_ids, index, cols)

    # recency and cadence: order days and activity events, per customer
    days: dict[int, set[dt.date]] = defaultdict(set)
    order_counts = np.zeros(n)
    orders = _filter(
        Order.objects.filter(workspace=workspace, placed_at__isnull=False, placed_at__lte=now),
        "customer_id",
        customer_ids,
    ).exclude(status=OrderStatus.CANCELLED)
    for cid, placed in orders.values_list("customer_id", "placed_at").iterator(chunk_size=CHUNK):
        days[cid].add(placed.date())
        i = index.get(cid)
        if i is not None:
            order_counts[i] += 1
    events = _filter(
        CustomerEvent.objects.filter(
            workspace=workspace, type__in=ACTIVITY_EVENT_TYPES, occurred_at__lte=now
        ),
        "customer_id",
        customer_ids,
    )
    for cid, at in events.values_list("customer_id", "occurred_at").iterator(chunk_size=CHUNK):
        days[cid].add(at.date())
    for cid, seen in days.items():
        i = index.get(cid)
        if i is None:
            continue
        ordered = sorted(seen)
        cols["days_since_activity"][i] = max(0, (today - ordered[-1]).days)
        if len(ordered) >= 2:
            gaps = [(b - a).days for a, b in zip(ordered, ordered[1:], strict=False)]
            cols["usual_gap_days"][i] = float(np.median(gaps))

    return Facts(
        ids=ids,
        columns=cols,
        lifetime_value=np.fromiter((float(c[3]) for c in customers), dtype=np.float64, count=n),
        orders=order_counts,
        tier=[c[4] for c in customers],
        preferred_channel=[c[5] or "" for c in customers],
        churned=np.fromiter((c[6] == Lifecycle.CHURNED for c in customers), dtype=bool, count=n),
    )


def _survey_facts(workspace, now, customer_ids, index, cols) -> None:
    """The latest NPS, CSAT and CES answer of each customer within the survey window."""
    from warmline.feedback.models import Answer

    answers = _filter(
        Answer.objects.filter(
            workspace=workspace, answered_at__gte=now - SURVEY_WINDOW, answered_at__lte=now
        ),
        "survey__customer_id",
        customer_ids,
    ).values_list("survey__customer_id", "kind", "score", "scale_min", "scale_max", "direction")
    for cid, kind, score, lo, hi, direction in answers.order_by("answered_at", "id"):
        i = index.get(cid)
        if i is None or kind not in ("nps", "csat", "ces"):
            continue
        # re-express on the component's scale (higher = happier) whatever scale was asked
        target = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[kind]
        frac = (score - lo) / (hi - lo) if hi > lo else 0.0
        if direction != "higher_better":
            frac = 1.0 - frac
        cols[kind][i] = target[0] + frac * (target[1] - target[0])


# --- churn model ---------------------------------------------------------------------


def current_churn_model(workspace: Workspace) -> churn.ChurnModel | None:
    record = ChurnModelRecord.objects.filter(workspace=workspace).order_by("-trained_at").first()
    return churn.ChurnModel.from_dict(record.model) if record else None


def train_workspace_churn_model(
    *, workspace: Workspace, now: dt.datetime | None = None
) -> ChurnModelRecord:
    """Train on the workspace's customers (label: lifecycle churned); NotEnoughHistory below
    the threshold in churn.MIN_CHURN_EVENTS / MIN_RETAINED / MIN_CUSTOMERS."""
    now = now or timezone.now()
    facts = gather_facts(workspace=workspace, now=now)
    labels = facts.churned.astype(int)
    churn.check_history(labels)
    rows = facts.churn_rows()
    auc = None
    try:
        auc = float(np.mean(churn.cross_validated_auc(rows, labels, CHURN_SPEC, folds=5)))
    except ValueError:
        auc = None
    model = churn.train_churn_model(rows, labels, CHURN_SPEC)
    return ChurnModelRecord.objects.create(
        workspace=workspace,
        model=model.to_dict(),
        customers=len(labels),
        churn_events=int(labels.sum()),
        cv_auc=auc,
        trained_at=now,
    )


# --- recomputation ---------------------------------------------------------------------


@dataclass
class Recomputed:
    customers: int
    snapshots: int
    seconds_facts: float = 0.0
    seconds_score: float = 0.0
    seconds_write: float = 0.0


def recompute_health(
    *,
    workspace: Workspace,
    customer_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
) -> Recomputed:
    """Recompute, store and keep history for the workspace's customers (or those named)."""
    import time

    now = now or timezone.now()
    ids = None if customer_ids is None else sorted({int(c) for c in customer_ids})
    t0 = time.perf_counter()
    facts = gather_facts(workspace=workspace, now=now, customer_ids=ids)
    t1 = time.perf_counter()
    n = len(facts.ids)
    if n == 0:
        return Recomputed(0, 0)
    previous = _previous(workspace, facts.ids, ids)
    prev_scores = np.array([previous.get(int(c), (np.nan,))[0] for c in facts.ids])
    config = health_config(workspace)
    result = score_batch(FactsBatch(facts.columns), config, previous_scores=prev_scores)
    probabilities = np.full(n, np.nan)
    model = current_churn_model(workspace)
    if model is not None:
        probabilities = model.predict_proba(facts.churn_rows())
        probabilities[facts.churned] = np.nan
    t2 = time.perf_counter()
    snapshots = _write(workspace, now, facts, result, prev_scores, previous, probabilities)
    t3 = time.perf_counter()
    return Recomputed(n, snapshots, t1 - t0, t2 - t1, t3 - t2)


def _previous(
    workspace: Workspace, ids: np.ndarray, only: Sequence[int] | None
) -> dict[int, tuple[float, float | None, str, dt.datetime | None]]:
    """Each customer's stored score, its previous score and arrow, and their latest snapshot."""
    qs = _filter(CustomerHealth.objects.filter(workspace=workspace), "customer_id", only)
    stored = {
        cid: (score, prev, trend, None)
        for cid, score, prev, trend in qs.values_list(
            "customer_id", "score", "previous_score", "trend"
        )
    }
    snaps = _filter(HealthSnapshot.objects.filter(workspace=workspace), "customer_id", only)
    for cid, last in snaps.values_list("customer_id").annotate(last=Max("computed_at")).order_by():
        if cid in stored:
            stored[cid] = (*stored[cid][:3], last)
    return stored


TREND_NAMES = {1: "up", -1: "down", 0: "flat"}


def _write(workspace, now, facts, result, prev_scores, previous, probabilities) -> int:
    qn = connection.ops.quote_name
    table = qn(CustomerHealth._meta.db_table)
    columns = [
        "workspace_id",
        "customer_id",
        "score",
        "previous_score",
        "trend",
        "points",
        "facts",
        "churn_probability",
        "computed_at",
        "created_at",
        "updated_at",
    ]
    updates = [c for c in columns if c not in ("workspace_id", "customer_id", "created_at")]
    placeholders = ", ".join(["%s"] * len(columns))
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({qn('customer_id')}) DO UPDATE SET "
        + ", ".join(f"{qn(c)} = EXCLUDED.{qn(c)}" for c in updates)
    )
    snap_table = qn(HealthSnapshot._meta.db_table)
    snap_cols = [
        "workspace_id",
        "customer_id",
        "score",
        "churn_probability",
        "computed_at",
        "created_at",
        "updated_at",
    ]
    snap_sql = (
        f"INSERT INTO {snap_table} ({', '.join(qn(c) for c in snap_cols)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(snap_cols))})"
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    today = now.date()
    scores = np.round(result.scores, 2).tolist()
    points = np.round(result.points, 3).tolist()
    trends = result.trend.tolist()
    prev = prev_scores.tolist()
    probs = probabilities.tolist()
    ids = facts.ids.tolist()
    rows, snaps = [], []
    for i, cid in enumerate(ids):
        p = None if math.isnan(prev[i]) else prev[i]
        prob = None if math.isnan(probs[i]) else round(probs[i], 4)
        stored = previous.get(cid)
        trend, shown_prev = TREND_NAMES[trends[i]], p
        if stored is not None and abs(scores[i] - stored[0]) < 0.01:
            # nothing changed: keep the arrow against the score before the last change
            shown_prev, trend = stored[1], stored[2]
        facts_json = json.dumps(facts.row(i), separators=(",", ":"))
        rows.append(
            [
                workspace.pk,
                cid,
                scores[i],
                shown_prev,
                trend,
                json.dumps(points[i], separators=(",", ":")),
                facts_json,
                prob,
                stamp,
                stamp,
                stamp,
            ]
        )
        last_snapshot = stored[3] if stored is not None else None
        moved = p is None or abs(scores[i] - p) >= SNAPSHOT_MIN_CHANGE
        if moved or last_snapshot is None or last_snapshot.date() != today:
            snaps.append([workspace.pk, cid, scores[i], prob, stamp, stamp, stamp])
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            cursor.executemany(sql, rows[start : start + CHUNK])
        for start in range(0, len(snaps), CHUNK):
            cursor.executemany(snap_sql, snaps[start : start + CHUNK])
    return len(snaps)


def component_names() -> tuple[str, ...]:
    return COMPONENTS
