"""Headline KPIs for a workspace with 1M conversations, from the roll-ups, beside DuckDB.

Run: ``.venv/bin/python bench/kpis.py [--conversations N] [--fresh] [--data-dir DIR]``
(writes ``bench/results/kpis.json``). The generated database is cached under
``bench/.data/kpis-<N>.sqlite3`` (or DIR); ``--fresh`` rebuilds it. Generating 1M
conversations uses bulk inserts and the vectorised roll-up rebuild (minutes, not hours).

What is timed:
- ``kpis_seconds``: ``insights.engine.kpis`` for the last 30 days — every KPI, its previous
  period and the change, plus the live backlog — straight from the daily roll-ups (the
  dashboard and ``/api/v1/kpis`` call exactly this). Median of the repeats; first call too.
- ``duckdb_seconds``: DuckDB computing the same measures from the raw conversation and
  answer rows (already loaded into DuckDB from NumPy arrays; the load is timed apart),
  for the same two periods plus the backlog. DuckDB is a pinned dev dependency (pyproject).
  Business-hour times need the workspace calendar, which plain SQL lacks, so DuckDB computes
  every measure except the two business-hour sums; the figures it computes must match.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import setup_django  # noqa: E402

DATA = ROOT / "bench" / ".data"

SEED = 20260630
END = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
SPAN_DAYS = 365
TIME_ZONE = "Europe/Madrid"
CHANNELS = ["email", "chat", "sms", "whatsapp", "voice"]
TIERS = ["standard", "silver", "gold", "platinum"]
REPEATS = 7


def _ts(epoch: np.ndarray) -> list:
    """Epoch seconds → the text Django's SQLite backend stores (naive UTC); NaN → NULL."""
    seconds = np.where(np.isnan(epoch), np.datetime64("NaT"), epoch.astype("datetime64[s]"))
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").tolist()
    return [None if t == "NaT" else t.replace("T", " ") for t in text]


def _insert(model, columns: dict, n: int, chunk: int = 50_000) -> None:
    """Raw executemany over every concrete column (defaults for those not given)."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if f.column != "id"]
    now = END.strftime("%Y-%m-%d %H:%M:%S")
    constants = {}
    for f in fields:
        if f.column in columns:
            continue
        if f.column in ("created_at", "updated_at"):
            constants[f.column] = now
        else:  # the model default ("" for text, None for nullable, {} for JSON…)
            constants[f.column] = f.get_db_prep_save(f.get_default(), connection)
    names = [f.column for f in fields]
    sql = (
        f'INSERT INTO "{model._meta.db_table}" ({", ".join(names)}) '
        f"VALUES ({', '.join(['%s'] * len(names))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            cols = [
                columns[c][start:stop] if c in columns else [constants[c]] * (stop - start)
                for c in names
            ]
            cursor.executemany(sql, list(zip(*cols, strict=True)))


def generate(n: int) -> dict:
    """Create one workspace with n conversations, their surveys and answers; build roll-ups."""
    from django.core.management import call_command
    from django.db import transaction

    from warmline.conversations.models import Conversation
    from warmline.customers.models import Customer
    from warmline.feedback.models import Answer, Survey, SurveyResponse
    from warmline.insights.rollups import rebuild_workspace
    from warmline.tenancy.models import Member, Team, Workspace

    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    from django.contrib.auth import get_user_model

    ws = Workspace.objects.create(
        name="Bench", slug="bench", time_zone=TIME_ZONE, holidays=["2026-01-06", "2026-05-01"]
    )
    User = get_user_model()
    teams = [Team.objects.create(workspace=ws, name=f"Team {i}") for i in range(6)]
    members = []
    for i in range(60):
        user = User.objects.create(username=f"agent{i}@bench.example")
        members.append(Member.objects.create(workspace=ws, user=user, display_name=f"A{i}"))
    team_of = {m.pk: teams[i % len(teams)].pk for i, m in enumerate(members)}
    n_customers = max(10, n // 5)
    with transaction.atomic():
        _insert(
            Customer,
            {
                "workspace_id": [ws.pk] * n_customers,
                "name": [f"Customer {i}" for i in range(n_customers)],
                "tier": rng.choice(TIERS, n_customers, p=[0.6, 0.2, 0.15, 0.05]).tolist(),
            },
            n_customers,
        )
    first_customer = (
        Customer.objects.filter(workspace=ws).order_by("id").values_list("id", flat=True)[0]
    )
    end = END.timestamp()
    opened = np.sort(end - rng.uniform(0, SPAN_DAYS * 86400, n))
    first = opened + rng.exponential(2 * 3600, n)
    first[rng.random(n) > 0.85] = np.nan
    resolved = opened + rng.exponential(20 * 3600, n) + 600
    age = end - opened
    active = (rng.random(n) < 0.04) | ((age < 3 * 86400) & (rng.random(n) < 0.5))
    status = np.where(rng.random(n) < 0.7, "resolved", "closed").astype(object)
    status[active] = rng.choice(["open", "pending"], int(active.sum()))
    resolved[active | (resolved > end)] = np.nan
    status[np.isnan(resolved) & ~active] = "open"
    first[first > end] = np.nan
    s_first = np.clip(rng.normal(-0.2, 0.4, n), -1, 1).round(3)
    s_last = np.clip(s_first + rng.normal(0.3, 0.3, n), -1, 1).round(3)
    no_sentiment = rng.random(n) > 0.8
    owners = rng.choice([m.pk for m in members], n)
    unowned = rng.random(n) < 0.05
    cols = {
        "workspace_id": [ws.pk] * n,
        "number": list(range(1, n + 1)),
        "customer_id": (first_customer + rng.integers(0, n_customers, n)).tolist(),
        "status": status.tolist(),
        "owner_id": [None if u else int(o) for o, u in zip(owners, unowned, strict=True)],
        "team_id": [None if u else team_of[int(o)] for o, u in zip(owners, unowned, strict=True)],
        "channel": rng.choice(CHANNELS, n, p=[0.4, 0.3, 0.1, 0.15, 0.05]).tolist(),
        "opened_at": _ts(opened),
        "last_activity_at": _ts(np.where(np.isnan(resolved), opened, resolved)),
        "first_response_at": _ts(first),
        "resolved_at": _ts(resolved),
        "customer_message_count": rng.choice([1, 2, 3, 5], n, p=[0.6, 0.25, 0.1, 0.05]).tolist(),
        "reopen_count": (rng.random(n) < 0.08).astype(int).tolist(),
        "handoff_count": rng.choice([0, 1, 2], n, p=[0.7, 0.2, 0.1]).tolist(),
        "sentiment_first": [
            None if x else float(v) for v, x in zip(s_first, no_sentiment, strict=True)
        ],
        "sentiment_last": [
            None if x else float(v) for v, x in zip(s_last, no_sentiment, strict=True)
        ],
    }
    with transaction.atomic():
        _insert(Conversation, cols, n)
    ids = np.array(
        Conversation.objects.filter(workspace=ws).order_by("number").values_list("id", flat=True)
    )
    customers = np.array(cols["customer_id"])
    # Surveys for 30% of resolved conversations, 40% of them answered (NPS + CSAT, some CES).
    surveyed = np.flatnonzero(~np.isnan(resolved) & (rng.random(n) < 0.3))
    sent = resolved[surveyed] + 3600
    keep = sent < end
    surveyed, sent = surveyed[keep], sent[keep]
    m = len(surveyed)
    answered_mask = rng.random(m) < 0.4
    answered_at = np.where(answered_mask, sent + rng.uniform(60, 48 * 3600, m), np.nan)
    answered_mask &= answered_at < end
    answered_at[~answered_mask] = np.nan
    with transaction.atomic():
        _insert(
            Survey,
            {
                "workspace_id": [ws.pk] * m,
                "conversation_id": ids[surveyed].tolist(),
                "customer_id": customers[surveyed].tolist(),
                "token": [f"bench{i}" for i in range(m)],
                "kinds": ['["nps", "csat"]'] * m,
                "language": ["en"] * m,
                "channel": ["email"] * m,
                "trigger": ["resolved"] * m,
                "status": np.where(answered_mask, "answered", "sent").tolist(),
                "sent_at": _ts(sent),
                "expires_at": _ts(sent + 14 * 86400),
                "answered_at": _ts(answered_at),
            },
            m,
        )
    survey_ids = np.array(
        Survey.objects.filter(workspace=ws).order_by("id").values_list("id", flat=True)
    )
    answered = np.flatnonzero(answered_mask)
    k = len(answered)
    with transaction.atomic():
        _insert(
            SurveyResponse,
            {
                "workspace_id": [ws.pk] * k,
                "survey_id": survey_ids[answered].tolist(),
                "language": ["en"] * k,
                "submitted_at": _ts(answered_at[answered]),
            },
            k,
        )
    response_of = dict(SurveyResponse.objects.filter(workspace=ws).values_list("survey_id", "id"))
    rows = {
        c: []
        for c in (
            "response_id",
            "survey_id",
            "conversation_id",
            "kind",
            "score",
            "scale_min",
            "scale_max",
            "answered_at",
        )
    }
    nps = rng.choice(
        np.arange(11), k, p=[0.03, 0.02, 0.03, 0.03, 0.04, 0.05, 0.08, 0.12, 0.2, 0.2, 0.2]
    )
    csat = rng.choice(np.arange(1, 6), k, p=[0.07, 0.08, 0.15, 0.3, 0.4])
    ces = rng.integers(1, 8, k)
    with_ces = rng.random(k) < 0.33
    when = _ts(answered_at[answered])
    for j, idx in enumerate(answered.tolist()):
        sid = int(survey_ids[idx])
        picks = [("nps", int(nps[j]), 0, 10), ("csat", int(csat[j]), 1, 5)]
        if with_ces[j]:
            picks.append(("ces", int(ces[j]), 1, 7))
        for kind, score, lo, hi in picks:
            for c, v in zip(
                rows,
                (response_of[sid], sid, int(ids[surveyed[idx]]), kind, score, lo, hi, when[j]),
                strict=True,
            ):
                rows[c].append(v)
    a = len(rows["kind"])
    with transaction.atomic():
        _insert(Answer, {"workspace_id": [ws.pk] * a, **rows}, a)
    generate_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    buckets = rebuild_workspace(ws)
    rollup_seconds = time.perf_counter() - t0
    return {
        "generate_seconds": round(generate_seconds, 1),
        "rollup_build_seconds": round(rollup_seconds, 1),
        "rollup_rows": buckets,
        "surveys": m,
        "answers": a,
        "customers": n_customers,
    }


def time_engine(ws, period, filters=None) -> tuple[list[float], dict]:
    from warmline.insights import engine

    times, result = [], None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = engine.kpis([ws.pk], period, filters or engine.NO_FILTERS)
        times.append(time.perf_counter() - t0)
    return times, result


def time_incremental(ws, count: int = 300) -> dict:
    """The background path at this size: bump handoffs on `count` conversations, refresh
    each (what the task does after every change), check the sums moved by exactly that,
    then put them back."""
    from django.db.models import F

    from warmline.conversations.models import Conversation
    from warmline.insights import engine
    from warmline.insights.rollups import refresh_conversation

    everything = engine.Period(dt.date(2000, 1, 1), dt.date(2100, 1, 1))
    before = engine.sums([ws.pk], everything)["handoffs"]
    rng = np.random.default_rng(SEED + 1)
    last = Conversation.objects.filter(workspace=ws).order_by("-id").values_list("id", flat=True)[0]
    ids = sorted(
        {int(x) for x in rng.integers(last - 900_000 if last > 900_000 else 1, last, count)}
    )
    qs = Conversation.objects.filter(pk__in=ids)
    counted = qs.filter(status__in=("resolved", "closed"), resolved_at__isnull=False).count()
    qs.update(handoff_count=F("handoff_count") + 1)
    times = []
    for conv_id in ids:
        t0 = time.perf_counter()
        refresh_conversation(conv_id)
        times.append(time.perf_counter() - t0)
    after = engine.sums([ws.pk], everything)["handoffs"]
    qs.update(handoff_count=F("handoff_count") - 1)
    for conv_id in ids:
        refresh_conversation(conv_id)
    restored = engine.sums([ws.pk], everything)["handoffs"]
    return {
        "refreshed": len(ids),
        "refresh_ms_median": round(1000 * statistics.median(times), 2),
        "refresh_ms_p95": round(1000 * sorted(times)[int(0.95 * (len(times) - 1))], 2),
        "sums_moved_exactly": after - before == counted and restored == before,
    }


def load_duckdb(ws):
    """Raw rows into DuckDB (NumPy arrays; DuckDB scans them in place)."""
    import duckdb
    from django.db import connection

    def column_arrays(sql: str, names: list[str]) -> dict:
        with connection.cursor() as cursor:
            cursor.execute(sql, [ws.pk])
            rows = cursor.fetchall()
        cols = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
        return {name: col for name, col in zip(names, cols, strict=True)}

    def epoch(values) -> np.ndarray:
        # Naive UTC datetimes (or text) → float seconds; NULL → NaN.
        us = np.array(values, dtype="datetime64[us]")
        out = us.astype(np.int64).astype(np.float64) / 1e6
        out[np.isnat(us)] = np.nan
        return out

    def codes(values, mapping: dict) -> np.ndarray:
        # Integer codes: DuckDB scans numeric NumPy arrays in place, object arrays slowly.
        return np.array([mapping[v] for v in values], dtype=np.int8)

    def num(values) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    c = column_arrays(
        "SELECT status, channel, opened_at, first_response_at, resolved_at, "
        "customer_message_count, reopen_count, handoff_count, sentiment_first, sentiment_last "
        "FROM conversations_conversation WHERE workspace_id = %s AND merged_into_id IS NULL",
        [
            "status",
            "channel",
            "opened",
            "first",
            "resolved",
            "cmc",
            "reopen",
            "handoff",
            "sf",
            "sl",
        ],
    )
    convs = {
        "status": codes(c["status"], STATUS_CODES),
        "opened": epoch(c["opened"]),
        "first": epoch(c["first"]),
        "resolved": epoch(c["resolved"]),
        "cmc": np.array(c["cmc"], dtype=np.int64),
        "reopen": np.array(c["reopen"], dtype=np.int64),
        "handoff": np.array(c["handoff"], dtype=np.int64),
        "sf": num(c["sf"]),
        "sl": num(c["sl"]),
    }
    s = column_arrays(
        "SELECT s.sent_at, s.status FROM feedback_survey s JOIN conversations_conversation c "
        "ON c.id = s.conversation_id WHERE s.workspace_id = %s AND c.merged_into_id IS NULL",
        ["sent", "status"],
    )
    surveys = {"sent": epoch(s["sent"]), "answered": codes(s["status"], {"sent": 0, "answered": 1})}
    a = column_arrays(
        "SELECT a.kind, a.score, a.answered_at FROM feedback_answer a JOIN "
        "conversations_conversation c ON c.id = a.conversation_id "
        "WHERE a.workspace_id = %s AND c.merged_into_id IS NULL",
        ["kind", "score", "answered"],
    )
    answers = {
        "kind": codes(a["kind"], KIND_CODES),
        "score": np.array(a["score"], dtype=np.int64),
        "answered": epoch(a["answered"]),
    }
    con = duckdb.connect()
    for name, table in (("convs", convs), ("surveys", surveys), ("answers", answers)):
        con.register(f"{name}_np", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_np")
        con.unregister(f"{name}_np")
    return con


STATUS_CODES = {"open": 0, "pending": 1, "snoozed": 2, "resolved": 3, "closed": 4}
KIND_CODES = {"nps": 0, "csat": 1, "ces": 2}
# Local dates need a time-zone conversion per row; DuckDB only converts rows whose UTC
# instant lies within two days of the period (CASE evaluates its branch on those rows).
LOCAL = "CASE WHEN {col} BETWEEN $lo AND $hi THEN (timezone('{tz}', to_timestamp({col})))::date END"
DUCK_SQL = """
WITH c AS (
  SELECT *,
    {d_open} AS d_open,
    {d_first} AS d_first,
    CASE WHEN status IN (3, 4) THEN {d_res} END AS d_res
  FROM convs
)
SELECT
  count(*) FILTER (d_open BETWEEN $s AND $e) AS opened,
  count(*) FILTER (d_res BETWEEN $s AND $e) AS resolved,
  count(*) FILTER (d_res BETWEEN $s AND $e AND cmc = 1 AND reopen = 0) AS fcr,
  count(*) FILTER (d_res BETWEEN $s AND $e AND reopen > 0) AS reopened,
  coalesce(sum(handoff) FILTER (d_res BETWEEN $s AND $e), 0) AS handoffs,
  coalesce(sum(round(resolved - opened)) FILTER (d_res BETWEEN $s AND $e), 0) AS res_seconds,
  count(*) FILTER (d_first BETWEEN $s AND $e) AS responded,
  coalesce(sum(round(first - opened)) FILTER (d_first BETWEEN $s AND $e), 0) AS frt_seconds,
  count(*) FILTER (d_res BETWEEN $s AND $e AND NOT isnan(sf) AND NOT isnan(sl)) AS sentiment_n,
  coalesce(sum(round(sl * 1e6)) FILTER (d_res BETWEEN $s AND $e AND NOT isnan(sf)
    AND NOT isnan(sl)), 0) AS sentiment_last_micro,
  coalesce(sum(round(sl * 1e6) - round(sf * 1e6)) FILTER (d_res BETWEEN $s AND $e
    AND NOT isnan(sf) AND NOT isnan(sl)), 0) AS sentiment_change_micro
FROM c
""".format(
    d_open=LOCAL.format(col="opened", tz="{tz}"),
    d_first=LOCAL.format(col="first", tz="{tz}"),
    d_res=LOCAL.format(col="resolved", tz="{tz}"),
)
DUCK_SURVEYS = """
SELECT count(*) AS surveys_sent, count(*) FILTER (answered = 1) AS surveys_answered
FROM surveys WHERE sent BETWEEN $lo AND $hi
  AND (timezone('{tz}', to_timestamp(sent)))::date BETWEEN $s AND $e
"""
DUCK_ANSWERS = """
SELECT
  count(*) FILTER (kind = 0) AS nps_n,
  count(*) FILTER (kind = 0 AND score >= 9) AS nps_promoters,
  count(*) FILTER (kind = 0 AND score <= 6) AS nps_detractors,
  count(*) FILTER (kind = 1) AS csat_n,
  coalesce(sum(score) FILTER (kind = 1), 0) AS csat_sum,
  count(*) FILTER (kind = 1 AND score >= 4) AS csat_satisfied,
  count(*) FILTER (kind = 2) AS ces_n,
  coalesce(sum(score) FILTER (kind = 2), 0) AS ces_sum,
  count(*) FILTER (kind = 2 AND score >= 5) AS ces_easy
FROM answers WHERE answered BETWEEN $lo AND $hi
  AND (timezone('{tz}', to_timestamp(answered)))::date BETWEEN $s AND $e
"""
DUCK_BACKLOG = "SELECT count(*) FROM convs WHERE status IN (0, 1, 2)"


def duckdb_sums(con, period) -> dict:
    out = {}
    margin = 2 * 86400  # no zone is two days away from UTC
    lo = dt.datetime.combine(period.start, dt.time(), tzinfo=dt.UTC).timestamp() - margin
    hi = dt.datetime.combine(period.end, dt.time(), tzinfo=dt.UTC).timestamp() + 86400 + margin
    params = {"s": period.start, "e": period.end, "lo": lo, "hi": hi}
    for sql in (DUCK_SQL, DUCK_SURVEYS, DUCK_ANSWERS):
        cur = con.execute(sql.format(tz=TIME_ZONE), params)
        names = [d[0] for d in cur.description]
        out.update({k: int(v or 0) for k, v in zip(names, cur.fetchone(), strict=True)})
    return out


def time_duckdb(con, period) -> tuple[list[float], dict, int]:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        current = duckdb_sums(con, period)
        duckdb_sums(con, period.previous())
        backlog = con.execute(DUCK_BACKLOG).fetchone()[0]
        times.append(time.perf_counter() - t0)
    return times, current, backlog


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument(
        "--data-dir", default=str(DATA), help="where the generated database is cached"
    )
    args = parser.parse_args()
    n = args.conversations
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    db_path = data / f"kpis-{n}.sqlite3"
    meta_path = data / f"kpis-{n}.meta.json"
    if args.fresh or not meta_path.exists():
        for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), meta_path):
            p.unlink(missing_ok=True)
    setup_django(db_path)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a cached database catches up with new migrations
    if meta_path.exists():
        built = json.loads(meta_path.read_text())
        built["database"] = "cached: built by an earlier --fresh run (its build times shown)"
    else:
        t0 = time.process_time()
        built = generate(n)
        built["build_cpu_seconds"] = round(time.process_time() - t0, 1)
        meta_path.write_text(json.dumps(built))
        built["database"] = "built in this run"

    from warmline.insights import engine
    from warmline.insights.models import DailyRollup
    from warmline.tenancy.models import Workspace

    ws = Workspace.objects.get(slug="bench")
    period = engine.Period(dt.date(2026, 6, 1), dt.date(2026, 6, 30))
    year = engine.Period(dt.date(2025, 7, 1), dt.date(2026, 6, 30))
    times, figures = time_engine(ws, period)
    year_times, _ = time_engine(ws, year)
    channel_times, _ = time_engine(ws, period, engine.Filters(channel="email"))
    team = (
        DailyRollup.objects.filter(workspace=ws)
        .exclude(team_id=0)
        .values_list("team_id", flat=True)[0]
    )
    team_year_times, _ = time_engine(ws, year, engine.Filters(team_id=team))
    from warmline.insights import loyalty

    customer_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        retention = loyalty.retention([ws], period)
        loyalty.historical_clv([ws], period)
        customer_times.append(time.perf_counter() - t0)
    incremental = time_incremental(ws)
    sums = engine.sums([ws.pk], period)
    result = {
        "conversations": n,
        **built,
        "rollup_rows_now": DailyRollup.objects.filter(workspace=ws).count(),
        "period": {"start": period.start, "end": period.end},
        "kpis_seconds": round(statistics.median(times), 4),
        "kpis_seconds_first_call": round(times[0], 4),
        "kpis_seconds_365_days": round(statistics.median(year_times), 4),
        "kpis_seconds_30_days_one_channel": round(statistics.median(channel_times), 4),
        "kpis_seconds_365_days_one_team": round(statistics.median(team_year_times), 4),
        "customer_kpis_seconds": round(statistics.median(customer_times), 4),
        "customer_kpis": retention,
        "what_kpis_seconds_covers": (
            "insights.engine.kpis(): all KPIs for the period and the previous period with the "
            "change, plus the live backlog count and age (what /api/v1/kpis returns)"
        ),
        "headline": {k: figures[k]["value"] for k in (*engine.HEADLINE, "backlog")},
        "backlog_age_seconds": figures["backlog"]["age_seconds"],
        "incremental": incremental,
        "repeats": REPEATS,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "note": (
            "Measured on the shared 2-core machine while other sessions were running "
            "(see load_average_at_end); timings are medians of the repeats."
        ),
    }
    try:
        import duckdb
    except ImportError:
        result.update({"duckdb_seconds": None, "duckdb_note": "duckdb not installed"})
    else:
        t0 = time.perf_counter()
        con = load_duckdb(ws)
        result["duckdb_load_seconds"] = round(time.perf_counter() - t0, 2)
        d_times, d_sums, d_backlog = time_duckdb(con, period)
        compared = sorted(d_sums)
        mismatches = {k: [sums[k], d_sums[k]] for k in compared if sums[k] != d_sums[k]}
        if d_backlog != figures["backlog"]["value"]:
            mismatches["backlog"] = [figures["backlog"]["value"], d_backlog]
        result.update(
            {
                "duckdb_version": duckdb.__version__,
                "duckdb_seconds": round(statistics.median(d_times), 4),
                "duckdb_seconds_first_call": round(d_times[0], 4),
                "ratio_kpis_to_duckdb": round(
                    statistics.median(times) / statistics.median(d_times), 3
                ),
                "duckdb_measures_compared": [*compared, "backlog"],
                "duckdb_not_compared": ["frt_business_seconds", "res_business_seconds"],
                "duckdb_matches": not mismatches,
                "duckdb_mismatches": mismatches,
            }
        )
    from _common import write_result

    write_result("kpis", result)


if __name__ == "__main__":
    main()
