"""What one conversation contributes to the daily roll-ups (a pure function).

Used by the incremental refresh (one conversation after each change) and by the
full rebuild (streamed over every conversation); both therefore agree by
construction, and the independent from-scratch reference in ``reference.py``
checks them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .businesshours import Calendar, to_us, whole_seconds

RESOLVED_STATUSES = ("resolved", "closed")
CONVERSATION_FIELDS = (
    "id",
    "workspace_id",
    "team_id",
    "owner_id",
    "channel",
    "customer__tier",
    "status",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "reopen_count",
    "handoff_count",
    "customer_message_count",
    "sentiment_first",
    "sentiment_last",
    "merged_into_id",
)


@dataclass(frozen=True)
class ConvRow:
    id: int
    workspace_id: int
    team_id: int | None
    owner_id: int | None
    channel: str
    tier: str
    status: str
    opened_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    reopen_count: int
    handoff_count: int
    customer_message_count: int
    sentiment_first: float | None
    sentiment_last: float | None
    merged_into_id: int | None

    @classmethod
    def from_values(cls, v: dict) -> ConvRow:
        return cls(**{k.replace("customer__", ""): v[k] for k in CONVERSATION_FIELDS})


@dataclass(frozen=True)
class SurveyRow:
    sent_at: dt.datetime
    answered: bool


@dataclass(frozen=True)
class AnswerRow:
    kind: str
    score: int
    answered_at: dt.datetime


def micro(x: float) -> int:
    """Sentiment sums are kept in integer millionths so sums add up exactly."""
    return int(round(x * 1_000_000))


def is_resolved(conv: ConvRow) -> bool:
    return conv.status in RESOLVED_STATUSES and conv.resolved_at is not None


def parse_key(key: str) -> tuple[dt.date, int, int, str, str]:
    day, team, owner, channel, tier = key.split("|")
    return dt.date.fromisoformat(day), int(team), int(owner), channel, tier


def contribution(
    conv: ConvRow, surveys: list[SurveyRow], answers: list[AnswerRow], cal: Calendar
) -> dict[str, dict[str, int]]:
    """{bucket key: {measure: amount}} for one conversation and its surveys."""
    if conv.merged_into_id is not None:
        return {}  # folded into another case: counting it would count that case twice
    first = None
    if conv.first_response_at is not None:
        first = (
            cal.local_date(conv.first_response_at).isoformat(),
            _seconds(conv.opened_at, conv.first_response_at),
            cal.seconds_between(conv.opened_at, conv.first_response_at),
        )
    resolved = None
    if is_resolved(conv):
        resolved = (
            cal.local_date(conv.resolved_at).isoformat(),
            _seconds(conv.opened_at, conv.resolved_at),
            cal.seconds_between(conv.opened_at, conv.resolved_at),
        )
    return assemble(
        suffix=dims_suffix(conv.team_id, conv.owner_id, conv.channel, conv.tier),
        opened_day=cal.local_date(conv.opened_at).isoformat(),
        first=first,
        resolved=resolved,
        fcr=int(conv.customer_message_count == 1 and conv.reopen_count == 0),
        reopened=int(conv.reopen_count > 0),
        handoffs=conv.handoff_count,
        sentiment=(conv.sentiment_first, conv.sentiment_last),
        surveys=[(cal.local_date(s.sent_at).isoformat(), s.answered) for s in surveys],
        answers=[(cal.local_date(a.answered_at).isoformat(), a.kind, a.score) for a in answers],
    )


def dims_suffix(team_id: int | None, owner_id: int | None, channel: str, tier: str) -> str:
    return f"|{team_id or 0}|{owner_id or 0}|{channel}|{tier}"


def assemble(
    *,
    suffix: str,
    opened_day: str,
    first: tuple[str, int, int] | None,
    resolved: tuple[str, int, int] | None,
    fcr: int,
    reopened: int,
    handoffs: int,
    sentiment: tuple[float | None, float | None],
    surveys: list[tuple[str, bool]],
    answers: list[tuple[str, str, int]],
) -> dict[str, dict[str, int]]:
    """The buckets from days and durations already worked out.

    Shared by the per-conversation path (``contribution``) and the vectorised rebuild,
    which works the days and business seconds out for a million rows at once: both
    therefore put the same amounts in the same buckets.
    """
    out: dict[str, dict[str, int]] = {}

    def add(day: str, amounts: dict[str, int]) -> None:
        bucket = out.setdefault(day + suffix, {})
        for name, amount in amounts.items():
            if amount:
                bucket[name] = bucket.get(name, 0) + amount

    add(opened_day, {"opened": 1})
    if first is not None:
        day, secs, business = first
        add(day, {"responded": 1, "frt_seconds": secs, "frt_business_seconds": business})
    if resolved is not None:
        day, secs, business = resolved
        amounts = {
            "resolved": 1,
            "fcr": fcr,
            "reopened": reopened,
            "handoffs": handoffs,
            "res_seconds": secs,
            "res_business_seconds": business,
        }
        s_first, s_last = sentiment
        if s_first is not None and s_last is not None:
            amounts["sentiment_n"] = 1
            amounts["sentiment_last_micro"] = micro(s_last)
            amounts["sentiment_change_micro"] = micro(s_last) - micro(s_first)
        add(day, amounts)
    for day, answered in surveys:
        add(day, {"surveys_sent": 1, "surveys_answered": int(answered)})
    for day, kind, score in answers:
        add(day, answer_measures(kind, score))
    return {k: {m: a for m, a in v.items() if a} for k, v in out.items()}


def answer_measures(kind: str, score: int) -> dict[str, int]:
    if kind == "nps":
        return {"nps_n": 1, "nps_promoters": int(score >= 9), "nps_detractors": int(score <= 6)}
    if kind == "csat":
        return {"csat_n": 1, "csat_sum": score, "csat_satisfied": int(score >= 4)}
    if kind == "ces":
        return {"ces_n": 1, "ces_sum": score, "ces_easy": int(score >= 5)}
    return {}


def _seconds(a: dt.datetime, b: dt.datetime) -> int:
    return max(0, whole_seconds(to_us(b) - to_us(a)))


def difference(
    old: dict[str, dict[str, int]], new: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """new − old per bucket and measure, without the zeros."""
    out: dict[str, dict[str, int]] = {}
    for key in old.keys() | new.keys():
        a, b = old.get(key, {}), new.get(key, {})
        delta = {m: b.get(m, 0) - a.get(m, 0) for m in a.keys() | b.keys()}
        delta = {m: d for m, d in delta.items() if d}
        if delta:
            out[key] = delta
    return out
