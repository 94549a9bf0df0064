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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Avg, Count, IntegerField, Min, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from warmline.conversations.models import ACTIVE_STATUSES, Conversation, EntryKind, TimelineEntry
from warmline.customers.models import Customer, CustomerEvent, Lifecycle, Order, OrderStatus
from warmline.proactive import churn
from warmline.proactive.health import FactsBatch, HealthConfig, score_batch
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
    last_day: np.ndarray  # database day number of the last activity (NaN: none)

    def row(self, i: int) -> dict[str, Any]:  # used by tests and tools, not the batch path
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


def _raw(qs) -> list[tuple]:
    """The queryset's rows as the driver returns them: no per-value Django converters
    (dates and decimals arrive as SQLite gives them; callers only read numbers)."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _positions(ids: np.ndarray, cids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of customer ids in the sorted `ids`, and which were found."""
    if len(ids) == 0 or len(cids) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(len(cids), dtype=bool)
    pos = np.clip(np.searchsorted(ids, cids), 0, len(ids) - 1)
    return pos, ids[pos] == cids


def _day(column: str) -> RawSQL:
    """The UTC calendar day of a date/datetime column as an integer (the date's ordinal plus
    a per-database offset, see `day_offset`). Computed in SQL so that 100k rows cost no
    Python datetime conversions."""
    table, col = column.split(".")
    qn = connection.ops.quote_name
    ref = f"{qn(table)}.{qn(col)}"
    if connection.vendor == "sqlite":
        # julianday starts at noon; +0.5 makes the integer part change at midnight
        sql = f"CAST(julianday({ref}) + 0.5 AS INTEGER)"
    elif connection.vendor == "postgresql":
        sql = f"(CAST({ref} AS date) - DATE '1970-01-01')"
    else:  # pragma: no cover - the two supported databases are above
        raise NotImplementedError(connection.vendor)
    return RawSQL(sql, [], output_field=IntegerField())  # noqa: S611 - no user input


def day_offset() -> int:
    """What `_day` adds to a date's ordinal on this database."""
    if connection.vendor == "sqlite":
        return 1721425
    return -dt.date(1970, 1, 1).toordinal()


def _ordinal(day: int | None) -> int | None:
    return None if day is None else int(day) - day_offset()


def _to_json_rows(matrix: np.ndarray, decimals: int) -> list[str]:
    """One JSON array per row (NaN as null) from one C-speed json.dumps of the whole matrix."""
    if len(matrix) == 0:
        return []
    text = json.dumps(np.round(matrix, decimals).tolist(), separators=(",", ":"))
    # the encoder writes NaN for NaN; no other token of a number list can contain it
    text = text.replace("NaN", "null")
    return ["[" + part + "]" for part in text[2:-2].split("],[")]


def facts_dict(stored: Any) -> dict[str, Any]:
    """Stored facts (a list in FACT_FIELDS order; older rows a dict) as a dict."""
    if isinstance(stored, dict):
        return {k: v for k, v in stored.items() if k in FACT_FIELDS}
    if isinstance(stored, list) and len(stored) == len(FACT_FIELDS):
        out = dict(zip(FACT_FIELDS, stored, strict=True))
        for name in COUNT_FIELDS:
            out[name] = int(out[name] or 0)
        return out
    return {}


COUNT_FIELDS = ("open_issues", "reopened_issues", "contacts_recent", "escalations")


def gather_facts(
    *, workspace: Workspace, now: dt.datetime, customer_ids: Sequence[int] | None = None
) -> Facts:
    """Every fact the score needs, for all customers (or the ones named), in seven queries."""
    customers = _raw(
        _filter(Customer.objects.filter(workspace=workspace), "pk", customer_ids)
        .order_by("pk")
        .annotate(
            since_day=_day(f"{Customer._meta.db_table}.customer_since"),
            created_day=_day(f"{Customer._meta.db_table}.created_at"),
        )
        .values_list(
            "pk",
            "since_day",
            "created_day",
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
    today = now.date().toordinal()
    offset = day_offset()
    start = np.fromiter(
        (
            (c[1] if c[1] is not None else (c[2] if c[2] is not None else today + offset))
            for c in customers
        ),
        dtype=np.float64,
        count=n,
    )
    cols["tenure_days"] = np.maximum(0.0, today + offset - start)
    last_day = np.full(n, np.nan)
    if n == 0:
        return Facts(ids, cols, np.zeros(0), np.zeros(0), [], [], np.zeros(0, dtype=bool), last_day)

    # sentiment: the mean of the customer's messages in this window and the one before
    recent_from, previous_from = now - SENTIMENT_WINDOW, now - 2 * SENTIMENT_WINDOW
    sentiments = (
        _filter(
            TimelineEntry.objects.filter(
                workspace=workspace,
                kind=EntryKind.CUSTOMER_MESSAGE,
                sentiment__isnull=False,
                occurred_at__gte=previous_from,
                occurred_at__lte=now,
            ),
            "conversation__customer_id",
            customer_ids,
        )
        .values_list("conversation__customer_id")
        .annotate(
            recent=Avg("sentiment", filter=Q(occurred_at__gte=recent_from)),
            previous=Avg("sentiment", filter=Q(occurred_at__lt=recent_from)),
        )
        .order_by()
    )
    rows = _raw(sentiments)
    if rows:
        cid = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        pos, ok = _positions(ids, cid)
        for name, k in (("sentiment_recent", 1), ("sentiment_previous", 2)):
            vals = np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=np.float64)
            cols[name][pos[ok]] = vals[ok]
    # a customer who wrote only in the earlier window has no "recent" level: use it as recent
    only_prev = np.isnan(cols["sentiment_recent"]) & ~np.isnan(cols["sentiment_previous"])
    cols["sentiment_recent"][only_prev] = cols["sentiment_previous"][only_prev]
    cols["sentiment_previous"][only_prev] = np.nan

    # issues, escalations and contacts come from the customer's cases
    week_ago, window_from = now - CONTACT_WEEK, now - ISSUE_WINDOW
    week_day = (now - CONTACT_WEEK).date().toordinal() + offset
    week_frac = week_ago - dt.datetime.combine(week_ago.date(), dt.time(), week_ago.tzinfo)
    cases = (
        _filter(
            # cases the customer raised or wrote in: a proactive case we opened and nobody
            # answered is neither an issue nor a contact
            Conversation.objects.filter(
                workspace=workspace, opened_at__lte=now, customer_message_count__gt=0
            ),
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
            first=Min(_day(f"{Conversation._meta.db_table}.opened_at")),
        )
        .order_by()
    )
    week_len = CONTACT_WEEK.total_seconds() / 86400
    rows = _raw(cases)
    if rows:
        arr = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64)
        pos, ok = _positions(ids, arr[:, 0].astype(np.int64))
        arr, pos = arr[ok], pos[ok]
        cols["open_issues"][pos] = arr[:, 1]
        cols["reopened_issues"][pos] = arr[:, 2]
        cols["escalations"][pos] = arr[:, 3]
        cols["contacts_recent"][pos] = arr[:, 4]
        earlier, first = arr[:, 5], arr[:, 6]
        has = (earlier > 0) & ~np.isnan(first)
        # days from the first case to the start of the recent week, counted as at least a week
        span = week_day - first + week_frac.total_seconds() / 86400
        weeks = np.maximum(1.0, span / week_len)
        cols["contacts_baseline"][pos[has]] = (earlier / weeks)[has]

    _survey_facts(workspace, now, customer_ids, index, cols)
    order_counts = _cadence(workspace, now, customer_ids, index, cols, last_day)

    return Facts(
        ids=ids,
        columns=cols,
        lifetime_value=np.fromiter((float(c[3]) for c in customers), dtype=np.float64, count=n),
        orders=order_counts,
        tier=[c[4] for c in customers],
        preferred_channel=[c[5] or "" for c in customers],
        churned=np.fromiter((c[6] == Lifecycle.CHURNED for c in customers), dtype=bool, count=n),
        last_day=last_day,
    )


def _cadence(workspace, now, customer_ids, index, cols, last_day) -> np.ndarray:
    """Days since the last purchase or activity, and the median gap between active days.

    Day numbers come from SQL; grouping, gaps and per-customer medians are numpy.
    """
    n = len(index)
    orders = (
        _filter(
            Order.objects.filter(workspace=workspace, placed_at__isnull=False, placed_at__lte=now),
            "customer_id",
            customer_ids,
        )
        .exclude(status=OrderStatus.CANCELLED)
        .annotate(day=_day(f"{Order._meta.db_table}.placed_at"))
        .values_list("customer_id", "day")
    )
    events = (
        _filter(
            CustomerEvent.objects.filter(
                workspace=workspace, type__in=ACTIVITY_EVENT_TYPES, occurred_at__lte=now
            ),
            "customer_id",
            customer_ids,
        )
        .annotate(day=_day(f"{CustomerEvent._meta.db_table}.occurred_at"))
        .values_list("customer_id", "day")
    )
    ids = np.fromiter(sorted(index), dtype=np.int64, count=n)
    order_counts = np.zeros(n)
    ws_, ds_ = [], []
    for source, counts in ((orders, True), (events, False)):
        rows = [r for r in _raw(source) if r[1] is not None]
        if not rows:
            continue
        cid = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        day = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        pos, ok = _positions(ids, cid)
        ws_.append(pos[ok])
        ds_.append(day[ok])
        if counts:
            order_counts += np.bincount(pos[ok], minlength=n)
    if not ws_ or not sum(len(x) for x in ws_):
        return order_counts
    w = np.concatenate(ws_)
    d = np.concatenate(ds_)
    base = int(d.min())
    span = int(d.max()) - base + 1
    pairs = np.unique(w * span + (d - base))  # distinct (customer, day), sorted
    c, day = pairs // span, pairs % span + base
    ends = np.r_[np.nonzero(np.diff(c))[0], len(c) - 1]
    today = now.date().toordinal() + day_offset()
    last_day[c[ends]] = day[ends]
    cols["days_since_activity"][c[ends]] = np.maximum(0, today - day[ends])
    same = np.diff(c) == 0
    if same.any():
        gc, gap = c[1:][same], np.diff(day)[same]
        order = np.lexsort((gap, gc))
        gc, gap = gc[order], gap[order]
        groups, first, count = np.unique(gc, return_index=True, return_counts=True)
        lo = gap[first + (count - 1) // 2]
        hi = gap[first + count // 2]
        cols["usual_gap_days"][groups] = (lo + hi) / 2.0
    return order_counts


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
    # a fact nobody in this workspace has (no CSAT asked, say) carries no information and
    # would be dropped by the imputer: leave it out of the model's features
    numeric = tuple(
        name
        for name in CHURN_SPEC.numeric
        if any(r.get(name) is not None and r.get(name) == r.get(name) for r in rows)
    )
    spec = churn.FeatureSpec(numeric=numeric, categorical=CHURN_SPEC.categorical)
    try:
        auc = float(np.mean(churn.cross_validated_auc(rows, labels, spec, folds=5)))
    except ValueError:
        auc = None
    model = churn.train_churn_model(rows, labels, spec)
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


def churn_probabilities(model: churn.ChurnModel, facts: Facts) -> np.ndarray:
    """The model's predictions straight from the fact columns (vectorised; the same
    numbers as ``model.predict_proba(facts.churn_rows())``)."""
    n = len(facts.ids)
    extra = {"lifetime_value": facts.lifetime_value, "orders": facts.orders}
    parts = []
    for j, name in enumerate(model.spec.numeric):
        col = extra.get(name, facts.columns.get(name))
        col = np.full(n, np.nan) if col is None else np.asarray(col, dtype=np.float64)
        col = np.where(np.isnan(col), model.numeric_fill[j], col)
        parts.append(((col - model.numeric_mean[j]) / model.numeric_scale[j])[:, None])
    cats = {"tier": facts.tier, "preferred_channel": facts.preferred_channel}
    for name, values in zip(model.spec.categorical, model.categories, strict=True):
        raw = np.asarray(
            [v if v else churn.MISSING_CATEGORY for v in cats.get(name, [""] * n)], dtype=object
        )
        parts.append(np.stack([(raw == value) for value in values], axis=1).astype(np.float64))
    design = np.hstack(parts) if parts else np.zeros((n, 0))
    logits = design @ np.asarray(model.coef) + model.intercept
    return 1.0 / (1.0 + np.exp(-logits))


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
    previous = _previous(workspace, ids)
    prev_scores = np.array([previous.get(int(c), (np.nan,))[0] for c in facts.ids])
    config = health_config(workspace)
    result = score_batch(FactsBatch(facts.columns), config, previous_scores=prev_scores)
    probabilities = np.full(n, np.nan)
    model = current_churn_model(workspace)
    if model is not None:
        probabilities = churn_probabilities(model, facts)
        probabilities[facts.churned] = np.nan
    t2 = time.perf_counter()
    snapshots = _write(workspace, now, facts, result, prev_scores, previous, probabilities)
    t3 = time.perf_counter()
    return Recomputed(n, snapshots, t1 - t0, t2 - t1, t3 - t2)


def _previous(
    workspace: Workspace, only: Sequence[int] | None
) -> dict[int, tuple[float, float | None, str, int | None]]:
    """Each customer's stored score, its previous score and arrow, and the day number of
    their latest snapshot (kept on the row: no scan of the growing history)."""
    table = CustomerHealth._meta.db_table
    qs = (
        _filter(CustomerHealth.objects.filter(workspace=workspace), "customer_id", only)
        .annotate(snap_day=_day(f"{table}.snapshot_on"))
        .values_list("customer_id", "score", "previous_score", "trend", "snap_day")
    )
    return {row[0]: row[1:] for row in _raw(qs)}


TREND_NAMES = {1: "up", -1: "down", 0: "flat"}


def _iso_day(day: int) -> str:
    return dt.date.fromordinal(int(day) - day_offset()).isoformat()


def _write(workspace, now, facts, result, prev_scores, previous, probabilities) -> int:
    qn = connection.ops.quote_name
    table = qn(CustomerHealth._meta.db_table)
    columns = [
        "workspace_id",
        "customer_id",
        "score",
        "previous_score",
        "trend",
        "facts",
        "last_activity_on",
        "usual_gap_days",
        "churn_probability",
        "computed_at",
        "snapshot_on",
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
    today = now.date().toordinal() + day_offset()
    today_iso = now.date().isoformat()
    scores = np.round(result.scores, 2).tolist()
    fact_rows = _to_json_rows(np.stack([facts.columns[f] for f in FACT_FIELDS], axis=1), 4)
    trends = result.trend.tolist()
    prev = prev_scores.tolist()
    probs = probabilities.tolist()
    gaps = facts.columns["usual_gap_days"].tolist()
    offset = day_offset()
    last_on = [
        None if d != d else dt.date.fromordinal(int(d) - offset).isoformat()
        for d in facts.last_day.tolist()
    ]
    ids = facts.ids.tolist()
    ws = workspace.pk
    rows, snaps = [], []
    for i, cid in enumerate(ids):
        p = None if prev[i] != prev[i] else prev[i]
        prob = None if probs[i] != probs[i] else round(probs[i], 4)
        stored = previous.get(cid)
        trend, shown_prev = TREND_NAMES[trends[i]], p
        if stored is not None and abs(scores[i] - stored[0]) < 0.01:
            # nothing changed: keep the arrow against the score before the last change
            shown_prev, trend = stored[1], stored[2]
        last_snapshot = stored[3] if stored is not None else None
        if p is None or abs(scores[i] - p) >= SNAPSHOT_MIN_CHANGE or last_snapshot != today:
            snaps.append((ws, cid, scores[i], prob, stamp, stamp, stamp))
            snapshot_on = today_iso
        else:
            snapshot_on = _iso_day(last_snapshot)
        rows.append(
            (
                ws,
                cid,
                scores[i],
                shown_prev,
                trend,
                fact_rows[i],
                last_on[i],
                None if gaps[i] != gaps[i] else gaps[i],
                prob,
                stamp,
                snapshot_on,
                stamp,
                stamp,
            )
        )
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            cursor.executemany(sql, rows[start : start + CHUNK])
        for start in range(0, len(snaps), CHUNK):
            cursor.executemany(snap_sql, snaps[start : start + CHUNK])
    return len(snaps)
