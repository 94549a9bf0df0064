"""Survey endpoints: send on demand, list, settings, recovery tasks (thin: services act)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Router, Schema, Status

from warmline.conversations.services import get_conversation
from warmline.schemas import ErrorOut

from . import services

router = Router(tags=["surveys"])
ERRORS = {404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
KindIn = Literal["nps", "csat", "ces"]
ChannelIn = Literal["email", "chat", "sms"]


class SurveyIn(Schema):
    conversation_id: int
    kinds: list[KindIn] | None = None
    channel: ChannelIn | None = None


class SurveyOut(Schema):
    id: int
    conversation_id: int
    customer_id: int
    kinds: list[str]
    language: str
    channel: str
    trigger: str
    status: str
    sent_at: dt.datetime
    expires_at: dt.datetime
    answered_at: dt.datetime | None
    url: str

    @staticmethod
    def resolve_url(obj) -> str:
        return services.public_url(obj.token)


class SettingsOut(Schema):
    nps_enabled: bool
    csat_enabled: bool
    ces_enabled: bool
    send_on_resolve: bool
    delay_minutes: int
    channel: str
    throttle_days: int
    expires_days: int
    review_url: str
    questions: dict


class SettingsPatch(Schema):
    nps_enabled: bool | None = None
    csat_enabled: bool | None = None
    ces_enabled: bool | None = None
    send_on_resolve: bool | None = None
    delay_minutes: int | None = Field(None, ge=0, le=60 * 24 * 30)
    channel: ChannelIn | None = None
    throttle_days: int | None = Field(None, ge=0, le=365)
    expires_days: int | None = Field(None, ge=1, le=365)
    review_url: str | None = Field(None, max_length=200)
    questions: dict | None = None


class RecoveryOut(Schema):
    id: int
    member_id: int | None
    customer_id: int
    conversation_id: int
    survey_id: int | None
    reason: str
    due_at: dt.datetime
    done_at: dt.datetime | None


def _ws(request):
    return request.member.workspace


@router.post("/surveys", response={201: SurveyOut, **ERRORS})
def send_survey(request, payload: SurveyIn):
    conv = get_conversation(workspace=_ws(request), conversation_id=payload.conversation_id)
    survey = services.send_survey(
        workspace=_ws(request),
        conversation=conv,
        actor=request.member,
        kinds=payload.kinds,
        channel=payload.channel,
    )
    return Status(201, survey)


@router.get("/surveys", response=list[SurveyOut])
def list_surveys(request, conversation_id: int | None = None, limit: int = 100):
    qs = services.list_surveys(workspace=_ws(request), conversation_id=conversation_id)
    return list(qs[: max(1, min(limit, 500))])


@router.get("/surveys/{survey_id}", response={200: SurveyOut, **ERRORS})
def read_survey(request, survey_id: int):
    return services.get_survey(workspace=_ws(request), survey_id=survey_id)


@router.get("/survey-settings", response=SettingsOut)
def read_settings(request):
    return services.get_settings(_ws(request))


@router.patch("/survey-settings", response={200: SettingsOut, **ERRORS})
def update_settings(request, payload: SettingsPatch):
    from warmline.errors import PolicyDenied

    if not request.member.is_lead:
        raise PolicyDenied("Only a team lead or admin can change survey settings.")
    changes = payload.dict(exclude_none=True)
    return services.update_settings(workspace=_ws(request), actor=request.member, changes=changes)


@router.get("/recovery-tasks", response=list[RecoveryOut])
def list_recovery(request, member_id: int | None = None, open_only: bool = True):
    qs = services.list_recovery_tasks(
        workspace=_ws(request), member_id=member_id, open_only=open_only
    )
    return list(qs[:500])


@router.post("/recovery-tasks/{task_id}/done", response={200: RecoveryOut, **ERRORS})
def complete_recovery(request, task_id: int):
    return services.complete_recovery_task(
        workspace=_ws(request), actor=request.member, task_id=task_id
    )
