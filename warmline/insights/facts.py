"""What one conversation contributes to the daily roll-ups (a pure function).

Used by the incremental refresh (one conversation after each change) and by the
full rebuild (streamed over every conversation); both therefore agree by
construction, and the independent from-scratch reference in ``reference.py``
checks them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from .businesshours import Calendar

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


def bucket_key(day: dt.date, conv: ConvRow) -> str:
    return f"{day.isoformat()}|{conv.team_id or 0}|{conv.owner_id or 0}|{conv.channel}|{conv.tier}"


def parse_key(key: str) -> tuple[dt.date, int, int, str, str]:
    day, team, owner, channel, tier = key.split("|")
    return dt.date.fromisoformat(day), int(team), int(owner), channel, tier


def contribution(
    conv: ConvRow, surveys: list[SurveyRow], answers: list[AnswerRow], cal: Calendar
) -> dict[str, dict[str, int]]:
    """{bucket key: {measure: amount}} for one conversation and its surveys."""
    if conv.merged_into_id is not None:
        return {}  # folded into another case: counting it would count that case twice
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(moment: dt.datetime, **amounts: int) -> None:
        bucket = out[bucket_key(cal.local_date(moment), conv)]
        for name, amount in amounts.items():
            bucket[name] += amount

    add(conv.opened_at, opened=1)
    if conv.first_response_at is not None:
        add(
            conv.first_response_at,
            responded=1,
            frt_seconds=_seconds(conv.opened_at, conv.first_response_at),
            frt_business_seconds=cal.seconds_between(conv.opened_at, conv.first_response_at),
        )
    if is_resolved(conv):
        sentiment = {}
        if conv.sentiment_first is not None and conv.sentiment_last is not None:
            sentiment = {
                "sentiment_n": 1,
                "sentiment_last_micro": micro(conv.sentiment_last),
                "sentiment_change_micro": micro(conv.sentiment_last) - micro(conv.sentiment_first),
            }
        add(
            conv.resolved_at,
            resolved=1,
            fcr=int(conv.customer_message_count == 1 and conv.reopen_count == 0),
            reopened=int(conv.reopen_count > 0),
            handoffs=conv.handoff_count,
            res_seconds=_seconds(conv.opened_at, conv.resolved_at),
            res_business_seconds=cal.seconds_between(conv.opened_at, conv.resolved_at),
            **sentiment,
        )
    for survey in surveys:
        add(survey.sent_at, surveys_sent=1, surveys_answered=int(survey.answered))
    for answer in answers:
        add(answer.answered_at, **answer_measures(answer.kind, answer.score))
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
    return max(0, int(round((b - a).total_seconds())))


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
