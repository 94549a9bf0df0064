"""Keep the daily roll-ups current: one conversation at a time, or rebuilt in full.

The incremental path recomputes a conversation's contribution, subtracts what it
last contributed and adds the new amounts, all in one transaction holding the
contribution row, so concurrent refreshes of one conversation cannot double count.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import orjson
from django.db import IntegrityError, connection, transaction
from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from warmline.conversations.models import Conversation
from warmline.feedback.models import Answer, Survey, SurveyStatus
from warmline.tenancy.models import Workspace

from .businesshours import NONE_US, Calendar, to_us
from .facts import (
    CONVERSATION_FIELDS,
    RESOLVED_STATUSES,
    AnswerRow,
    ConvRow,
    SurveyRow,
    assemble,
    contribution,
    difference,
    dims_suffix,
    parse_key,
)
from .models import MEASURES, ConversationContribution, DailyRollup, DailyTotal


def _current(conversation_id: int) -> tuple[int | None, dict]:
    values = Conversation.objects.filter(pk=conversation_id).values(*CONVERSATION_FIELDS).first()
    if values is None:
        return None, {}
    conv = ConvRow.from_values(values)
    workspace = Workspace.objects.only("time_zone", "business_hours", "holidays").get(
        pk=conv.workspace_id
    )
    surveys = [
        SurveyRow(sent_at=s, answered=st == SurveyStatus.ANSWERED)
        for s, st in Survey.objects.filter(conversation_id=conversation_id).values_list(
            "sent_at", "status"
        )
    ]
    answers = [
        AnswerRow(kind=k, score=sc, answered_at=at)
        for k, sc, at in Answer.objects.filter(conversation_id=conversation_id).values_list(
            "kind", "score", "answered_at"
        )
    ]
    return conv.workspace_id, contribution(
        conv, surveys, answers, Calendar.for_workspace(workspace)
    )


def refresh_conversation(conversation_id: int) -> int:
    """Bring the roll-ups up to date with one conversation; returns buckets touched."""
    with transaction.atomic():
        stored = (
            ConversationContribution.objects.select_for_update()
            .filter(conversation_id=conversation_id)
            .first()
        )
        workspace_id, new = _current(conversation_id)
        old = stored.buckets if stored else {}
        if workspace_id is None:  # deleted: take back what it added
            workspace_id = stored.workspace_id if stored else None
        if workspace_id is None:
            return 0
        delta = difference(old, new)
        apply_delta(workspace_id, delta)
        if stored is None:
            ConversationContribution.objects.create(
                conversation_id=conversation_id, workspace_id=workspace_id, buckets=new
            )
        elif new or old:
            stored.buckets = new
            stored.save(update_fields=["buckets", "refreshed_at"])
    return len(delta)


def apply_delta(workspace_id: int, delta: dict[str, dict[str, int]]) -> None:
    per_day: dict[dt.date, dict[str, int]] = {}
    for key, amounts in delta.items():
        day, team, owner, channel, tier = parse_key(key)
        _upsert(
            DailyRollup,
            {
                "workspace_id": workspace_id,
                "day": day,
                "team_id": team,
                "owner_id": owner,
                "channel": channel,
                "tier": tier,
            },
            amounts,
        )
        total = per_day.setdefault(day, {})
        for m, a in amounts.items():
            total[m] = total.get(m, 0) + a
    for day, amounts in per_day.items():
        amounts = {m: a for m, a in amounts.items() if a}
        if amounts:
            _upsert(DailyTotal, {"workspace_id": workspace_id, "day": day}, amounts)


def _upsert(model, where: dict, amounts: dict[str, int]) -> None:
    updates = {m: F(m) + a for m, a in amounts.items()}
    if model.objects.filter(**where).update(**updates):
        return
    try:
        with transaction.atomic():
            model.objects.create(**where, **amounts)
    except IntegrityError:  # created by a concurrent refresh between our update and insert
        model.objects.filter(**where).update(**updates)


def rebuild_workspace(workspace: Workspace) -> int:
    """Recompute every bucket of a workspace from the raw rows (after a change of calendar,
    and nightly for attributes that change without an event, such as a customer's tier).

    Vectorised: local days and business seconds for all rows at once (NumPy), then one
    pass that assembles each conversation's buckets with the same ``assemble`` as the
    incremental path. Returns the number of dimension buckets written.
    """
    cal = Calendar.for_workspace(workspace)
    # The same facts the incremental path reads, less the workspace (fixed here).
    conv_cols = tuple(n for n in CONVERSATION_FIELDS if n != "workspace_id")
    times = ("opened_at", "first_response_at", "resolved_at")
    qs, cast = _as_text(Conversation.objects.filter(workspace=workspace), *times)
    plain = tuple(n for n in conv_cols if n not in times)
    c = _columns(qs.order_by("id").values_list(*plain, *cast), (*plain, *times))
    ids = c["id"]
    opened, first, res = (_us(c[k]) for k in ("opened_at", "first_response_at", "resolved_at"))
    resolved_mask = np.isin(np.array(c["status"], dtype=object), RESOLVED_STATUSES) & (
        res != NONE_US
    )
    day_of = _DayNames()
    d_open = day_of.names(cal.local_days(opened))
    d_first = day_of.names(cal.local_days(first))
    d_res = day_of.names(cal.local_days(np.where(resolved_mask, res, NONE_US)))
    frt = _elapsed(opened, first).tolist()
    frt_b = _whole_array(cal.business_us_between(opened, first)).tolist()
    res_s = _elapsed(opened, res).tolist()
    res_b = _whole_array(cal.business_us_between(opened, res)).tolist()

    qs, cast = _as_text(Survey.objects.filter(workspace=workspace), "sent_at")
    s = _columns(
        qs.values_list("conversation_id", "status", *cast), ("conversation_id", "status", "sent_at")
    )
    surveys: dict[int, list] = defaultdict(list)
    for conv_id, day, status in zip(
        s["conversation_id"],
        day_of.names(cal.local_days(_us(s["sent_at"]))),
        s["status"],
        strict=True,
    ):
        surveys[conv_id].append((day, status == SurveyStatus.ANSWERED))
    qs, cast = _as_text(Answer.objects.filter(workspace=workspace), "answered_at")
    a = _columns(
        qs.values_list("conversation_id", "kind", "score", *cast),
        ("conversation_id", "kind", "score", "answered_at"),
    )
    answers: dict[int, list] = defaultdict(list)
    for conv_id, kind, score, day in zip(
        a["conversation_id"],
        a["kind"],
        a["score"],
        day_of.names(cal.local_days(_us(a["answered_at"]))),
        strict=True,
    ):
        answers[conv_id].append((day, kind, score))

    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    contributions: list[tuple] = []
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    merged = c["merged_into_id"]
    resolved_list = resolved_mask.tolist()
    for i, conv_id in enumerate(ids):
        if merged[i] is not None:
            buckets: dict = {}
        else:
            buckets = assemble(
                suffix=dims_suffix(
                    c["team_id"][i], c["owner_id"][i], c["channel"][i], c["customer__tier"][i]
                ),
                opened_day=d_open[i],
                first=None if d_first[i] is None else (d_first[i], frt[i], frt_b[i]),
                resolved=(d_res[i], res_s[i], res_b[i]) if resolved_list[i] else None,
                fcr=int(c["customer_message_count"][i] == 1 and c["reopen_count"][i] == 0),
                reopened=int(c["reopen_count"][i] > 0),
                handoffs=c["handoff_count"][i],
                sentiment=(c["sentiment_first"][i], c["sentiment_last"][i]),
                surveys=surveys.get(conv_id, []),
                answers=answers.get(conv_id, []),
            )
            for key, amounts in buckets.items():
                bucket = totals[key]
                for m, amount in amounts.items():
                    bucket[m] += amount
        contributions.append((conv_id, workspace.pk, orjson.dumps(buckets).decode(), stamp))

    rollups, per_day = [], defaultdict(lambda: defaultdict(int))
    for key, amounts in totals.items():
        day, team, owner, channel, tier = parse_key(key)
        rollups.append(
            (
                workspace.pk,
                day.isoformat(),
                team,
                owner,
                channel,
                tier,
                *[amounts.get(m, 0) for m in MEASURES],
            )
        )
        day_total = per_day[day]
        for m, amount in amounts.items():
            day_total[m] += amount
    day_rows = [
        (workspace.pk, day.isoformat(), *[amounts.get(m, 0) for m in MEASURES])
        for day, amounts in per_day.items()
    ]
    with transaction.atomic():
        DailyRollup.objects.filter(workspace=workspace).delete()
        DailyTotal.objects.filter(workspace=workspace).delete()
        ConversationContribution.objects.filter(workspace=workspace).delete()
        _insert_many(ConversationContribution, CONTRIBUTION_COLUMNS, contributions)
        _insert_many(DailyRollup, ROLLUP_COLUMNS, rollups)
        _insert_many(DailyTotal, TOTAL_COLUMNS, day_rows)
    return len(rollups)


def _columns(qs, names: tuple[str, ...]) -> dict[str, list]:
    """A values_list query as columns, read through a plain cursor: the database's own
    values (text timestamps on SQLite) without the ORM's per-value conversion."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return {n: [] for n in names}
    return {n: list(col) for n, col in zip(names, zip(*rows, strict=True), strict=True)}


def _us(values: list) -> np.ndarray:
    """Timestamps → int64 µs since the epoch (NONE_US for NULL). SQLite gives UTC text
    (the casts below) or naive UTC datetimes; PostgreSQL gives aware datetimes."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    sample = next((v for v in values if v is not None), None)
    if sample is None or isinstance(sample, str) or sample.tzinfo is None:
        return np.array(values, dtype="datetime64[us]").astype(np.int64)
    return np.array([NONE_US if v is None else to_us(v) for v in values], dtype=np.int64)


def _as_text(qs, *names: str):
    """On SQLite, read timestamp columns as their stored text: NumPy parses a million
    in milliseconds, where the driver's per-value datetime conversion takes seconds."""
    if connection.vendor != "sqlite":
        return qs, names
    casts = {f"{n}__text": Cast(n, TextField()) for n in names}
    return qs.annotate(**casts), tuple(casts)


def _elapsed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ok = (a != NONE_US) & (b != NONE_US)
    return np.where(ok, np.maximum(0, _whole_array(np.where(ok, b - a, 0))), 0)


def _whole_array(us: np.ndarray) -> np.ndarray:
    return (us + 500_000) // 1_000_000  # the same rule as businesshours.whole_seconds


class _DayNames:
    """Days since the epoch → ISO date strings (None for missing), memoised."""

    def __init__(self) -> None:
        self.cache: dict[int, str] = {}

    def names(self, days: np.ndarray) -> list[str | None]:
        out = []
        cache = self.cache
        for d in days.tolist():
            name = cache.get(d)
            if name is None:
                name = None if d == NONE_US else (EPOCH_DATE + dt.timedelta(days=d)).isoformat()
                cache[d] = name
            out.append(name)
        return out


EPOCH_DATE = dt.date(1970, 1, 1)
CONTRIBUTION_COLUMNS = ("conversation_id", "workspace_id", "buckets", "refreshed_at")
ROLLUP_COLUMNS = ("workspace_id", "day", "team_id", "owner_id", "channel", "tier", *MEASURES)
TOTAL_COLUMNS = ("workspace_id", "day", *MEASURES)


def _insert_many(model, columns: tuple[str, ...], rows: list[tuple], chunk: int = 5000) -> None:
    """Plain multi-row INSERTs: the ORM's per-value preparation dominated a 1M-row rebuild."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    # Identifiers come from model metadata, never from input; values are parameters.
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            cursor.executemany(sql, rows[start : start + chunk])
