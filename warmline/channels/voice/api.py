"""``/api/v1/calls``: telephony systems record finished calls (thin: validate, call services)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Query, Router, Schema, Status
from pydantic import field_validator

from warmline.customers.api import check_phone
from warmline.schemas import ErrorOut

from . import services

router = Router(tags=["calls"])
ERRORS = {404: ErrorOut, 422: ErrorOut}


class TurnIn(Schema):
    speaker: Literal["agent", "customer", "ivr", "bot", "other"]
    text: str = Field(max_length=services.MAX_TURN_TEXT)
    start: float | None = Field(None, ge=0, description="seconds from the start of the call")
    end: float | None = Field(None, ge=0)


class CallIn(Schema):
    call_id: str = Field(min_length=1, max_length=200, description="the telephony system's id")
    direction: Literal["inbound", "outbound"]
    from_number: str = Field(alias="from", max_length=40)
    to_number: str = Field(alias="to", max_length=40)
    agent_id: int | None = None
    customer_name: str = Field("", max_length=200)
    started_at: dt.datetime
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime
    hold_seconds: int = Field(0, ge=0)
    after_call_work_seconds: int = Field(0, ge=0)
    recording_url: str = Field("", max_length=500)
    transcript: list[TurnIn] = Field(default=[], max_length=services.MAX_TURNS)

    _from = field_validator("from_number")(classmethod(lambda cls, v: check_phone(v)))
    _to = field_validator("to_number")(classmethod(lambda cls, v: check_phone(v)))

    @field_validator("recording_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return v


class TurnOut(Schema):
    speaker: str
    text: str
    start: float | None = None
    end: float | None = None


class CallOut(Schema):
    id: int
    call_id: str
    direction: str
    from_number: str
    to_number: str
    agent_id: int | None
    customer_id: int
    conversation_id: int
    entry_id: int | None
    started_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime
    wait_seconds: int
    talk_seconds: int
    hold_seconds: int
    after_call_work_seconds: int
    handle_seconds: int
    recording_url: str
    transcript: list[TurnOut]


def _out(call) -> dict:
    return {
        "id": call.pk,
        "call_id": call.external_id,
        "direction": call.direction,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "agent_id": call.agent_id,
        "customer_id": call.customer_id,
        "conversation_id": call.conversation_id,
        "entry_id": call.entry_id,
        "started_at": call.started_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "hold_seconds": call.hold_seconds,
        "after_call_work_seconds": call.after_call_work_seconds,
        "handle_seconds": call.handle_seconds,
        "recording_url": call.recording_url,
        "transcript": call.transcript,
    }


@router.post("/calls", response={200: CallOut, 201: CallOut, **ERRORS})
def record_call(request, payload: CallIn):
    """Record a finished call; re-sending the same ``call_id`` answers 200 with the stored call."""
    data = payload.dict()
    turns = [services.Turn(**t) for t in data.pop("transcript")]
    recorded = services.record_call(
        workspace=request.member.workspace,
        actor=request.member,
        record=services.CallRecord(call_id=data.pop("call_id"), transcript=turns, **data),
    )
    return Status(201 if recorded.created else 200, _out(recorded.call))


@router.get("/calls/{call_id}", response={200: CallOut, **ERRORS})
def read_call(request, call_id: int):
    return _out(services.get_call(workspace=request.member.workspace, call_id=call_id))


class CallPage(Schema):
    items: list[CallOut]


@router.get("/calls", response=CallPage)
def list_calls(
    request,
    customer_id: int | None = None,
    agent_id: int | None = None,
    limit: int = Query(50, ge=1, le=200),
):
    qs = services.list_calls(
        workspace=request.member.workspace, customer_id=customer_id, agent_id=agent_id
    )
    return {"items": [_out(c) for c in qs[:limit]]}
