"""Builders for hand-computable KPI fixtures."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

from warmline.feedback.models import SCALES, Answer, Survey, SurveyResponse

_tokens = itertools.count()


def local(tz: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(tz))


def answer(conversation, kind: str, score: int, at: dt.datetime, *, sent_at=None) -> Answer:
    survey = Survey.objects.create(
        workspace_id=conversation.workspace_id,
        conversation=conversation,
        customer_id=conversation.customer_id,
        token=f"t{next(_tokens)}",
        kinds=[kind],
        channel="email",
        trigger="manual",
        status="answered",
        sent_at=sent_at or at - dt.timedelta(hours=1),
        expires_at=at + dt.timedelta(days=14),
        answered_at=at,
    )
    response = SurveyResponse.objects.create(
        workspace_id=conversation.workspace_id, survey=survey, submitted_at=at
    )
    lo, hi, direction = SCALES[kind]
    return Answer.objects.create(
        workspace_id=conversation.workspace_id,
        response=response,
        survey=survey,
        conversation=conversation,
        kind=kind,
        score=score,
        scale_min=lo,
        scale_max=hi,
        direction=direction,
        answered_at=at,
    )
