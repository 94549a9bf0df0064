"""The from-scratch computation: every measure straight from the raw rows.

Slow on purpose (it walks every row in Python) and written without the
roll-up bucket code, so a test can hold the roll-ups to it.
"""

from __future__ import annotations

import datetime as dt

from warmline.conversations.models import Conversation
from warmline.feedback.models import Answer, Survey
from warmline.tenancy.models import Workspace

from .businesshours import Calendar, to_us, whole_seconds
from .engine import NO_FILTERS, Filters, Period
from .models import MEASURES


def _in(cal: Calendar, moment: dt.datetime | None, period: Period) -> bool:
    return moment is not None and period.start <= cal.local_date(moment) <= period.end


def _whole(a: dt.datetime, b: dt.datetime) -> int:
    """Elapsed whole seconds (halves up; a clock running backwards counts zero)."""
    return max(0, whole_seconds(to_us(b) - to_us(a)))


def _micro(x: float) -> int:
    return int(round(x * 1_000_000))


def sums_from_scratch(
    workspace_ids: list[int], period: Period, filters: Filters = NO_FILTERS
) -> dict[str, int]:
    out = dict.fromkeys(MEASURES, 0)
    for workspace in Workspace.objects.filter(pk__in=workspace_ids):
        cal = Calendar.for_workspace(workspace)
        convs = Conversation.objects.filter(
            filters.conversation_q(), workspace=workspace, merged_into__isnull=True
        ).select_related("customer")
        for c in convs.iterator():
            if _in(cal, c.opened_at, period):
                out["opened"] += 1
            if _in(cal, c.first_response_at, period):
                out["responded"] += 1
                out["frt_seconds"] += _whole(c.opened_at, c.first_response_at)
                out["frt_business_seconds"] += cal.seconds_between(c.opened_at, c.first_response_at)
            resolved = c.status in ("resolved", "closed") and c.resolved_at is not None
            if resolved and _in(cal, c.resolved_at, period):
                out["resolved"] += 1
                out["fcr"] += c.customer_message_count == 1 and c.reopen_count == 0
                out["reopened"] += c.reopen_count > 0
                out["handoffs"] += c.handoff_count
                out["res_seconds"] += _whole(c.opened_at, c.resolved_at)
                out["res_business_seconds"] += cal.seconds_between(c.opened_at, c.resolved_at)
                if c.sentiment_first is not None and c.sentiment_last is not None:
                    out["sentiment_n"] += 1
                    out["sentiment_last_micro"] += _micro(c.sentiment_last)
                    out["sentiment_change_micro"] += _micro(c.sentiment_last) - _micro(
                        c.sentiment_first
                    )
        scoped = {f"conversation__{k}": v for k, v in _conversation_filters(filters).items()}
        for s in Survey.objects.filter(
            workspace=workspace, conversation__merged_into__isnull=True, **scoped
        ):
            if _in(cal, s.sent_at, period):
                out["surveys_sent"] += 1
                out["surveys_answered"] += s.status == "answered"
        for a in Answer.objects.filter(
            workspace=workspace, conversation__merged_into__isnull=True, **scoped
        ):
            if not _in(cal, a.answered_at, period):
                continue
            if a.kind == "nps":
                out["nps_n"] += 1
                out["nps_promoters"] += a.score >= 9
                out["nps_detractors"] += a.score <= 6
            elif a.kind == "csat":
                out["csat_n"] += 1
                out["csat_sum"] += a.score
                out["csat_satisfied"] += a.score >= 4
            elif a.kind == "ces":
                out["ces_n"] += 1
                out["ces_sum"] += a.score
                out["ces_easy"] += a.score >= 5
    return {k: int(v) for k, v in out.items()}


def _conversation_filters(filters: Filters) -> dict:
    out = {}
    if filters.team_id:
        out["team_id"] = filters.team_id
    if filters.owner_id:
        out["owner_id"] = filters.owner_id
    if filters.channel:
        out["channel"] = filters.channel
    if filters.tier:
        out["customer__tier"] = filters.tier
    return out
