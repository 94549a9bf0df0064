"""Recording calls from telephony systems: one ingest per call, handle time kept for KPIs.

A call enters the customer's timeline through ``ingest`` like any other
contact (channel ``voice``; the customer is the caller of an inbound call and
the callee of an outbound one). An outbound call is recorded as an
auto-submitted entry: it is history, so it never reopens a case nor makes the
customer look as if they were waiting for an answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, QuerySet, Sum
from django.utils.translation import gettext as _

from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.errors import InvalidInput, NotFound
from warmline.tenancy.models import Member, Workspace
from warmline.tenancy.services import get_member

from .models import Call, Direction

MAX_TURNS = 5000
MAX_TURN_TEXT = 20_000
SPEAKERS = ("agent", "customer", "ivr", "bot", "other")


@dataclass
class Turn:
    speaker: str
    text: str
    start: float | None = None
    end: float | None = None


@dataclass
class CallRecord:
    call_id: str
    direction: str
    from_number: str
    to_number: str
    started_at: dt.datetime
    ended_at: dt.datetime
    answered_at: dt.datetime | None = None
    agent_id: int | None = None
    hold_seconds: int = 0
    after_call_work_seconds: int = 0
    recording_url: str = ""
    customer_name: str = ""
    transcript: list[Turn] = field(default_factory=list)


@dataclass
class Recorded:
    call: Call
    created: bool


def _seconds(a: dt.datetime, b: dt.datetime) -> int:
    return max(int(round((b - a).total_seconds())), 0)


def _validate(record: CallRecord) -> None:
    if record.direction not in Direction.values:
        raise InvalidInput("direction must be 'inbound' or 'outbound'.", field="direction")
    for name in ("started_at", "ended_at", "answered_at"):
        value = getattr(record, name)
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise InvalidInput(f"{name} needs a time zone.", field=name)
    if record.ended_at < record.started_at:
        raise InvalidInput("ended_at is before started_at.", field="ended_at")
    if record.answered_at is not None and not (
        record.started_at <= record.answered_at <= record.ended_at
    ):
        raise InvalidInput("answered_at must lie between started_at and ended_at.",
                           field="answered_at")  # fmt: skip
    if record.hold_seconds < 0:
        raise InvalidInput("hold_seconds cannot be negative.", field="hold_seconds")
    if record.after_call_work_seconds < 0:
        raise InvalidInput(
            "after_call_work_seconds cannot be negative.", field="after_call_work_seconds"
        )
    connected = _seconds(record.answered_at, record.ended_at) if record.answered_at else 0
    if record.hold_seconds > connected:
        raise InvalidInput("hold_seconds is longer than the connected call.", field="hold_seconds")
    if len(record.transcript) > MAX_TURNS:
        raise InvalidInput(f"The transcript has more than {MAX_TURNS} turns.", field="transcript")
    for i, turn in enumerate(record.transcript):
        if turn.speaker not in SPEAKERS:
            raise InvalidInput(
                f"transcript[{i}].speaker must be one of {', '.join(SPEAKERS)}.",
                field="transcript",
            )
        if len(turn.text) > MAX_TURN_TEXT:
            raise InvalidInput(f"transcript[{i}].text is too long.", field="transcript")


def _speaker_label(speaker: str) -> str:
    return {
        "agent": _("Agent"),
        "customer": _("Customer"),
        "ivr": _("IVR"),
        "bot": _("Assistant"),
    }.get(speaker, _("Other"))


def _duration(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}


def timeline_text(record: CallRecord, talk_seconds: int) -> str:
    """What the timeline shows: a headline, then the transcript as speaker turns."""
    if record.direction == Direction.INBOUND:
        head = (
            _("Inbound call, %(d)s") % {"d": _duration(talk_seconds)}
            if record.answered_at
            else _("Missed inbound call")
        )
    else:
        head = (
            _("Outbound call, %(d)s") % {"d": _duration(talk_seconds)}
            if record.answered_at
            else _("Unanswered outbound call")
        )
    lines = [head]
    lines += [f"{_speaker_label(t.speaker)}: {t.text.strip()}" for t in record.transcript if t.text]
    return "\n".join(lines)


def _agent(workspace: Workspace, agent_id: int | None) -> Member | None:
    if agent_id is None:
        return None
    try:
        return get_member(workspace=workspace, member_id=agent_id)
    except NotFound:
        raise InvalidInput("No such agent in this workspace.", field="agent_id") from None


def record_call(*, workspace: Workspace, actor: Member | None, record: CallRecord) -> Recorded:
    """Store one finished call. Re-sending the same call id returns the stored call."""
    record.call_id = (record.call_id or "").strip()
    if not record.call_id or len(record.call_id) > 200:
        raise InvalidInput("call_id is required (at most 200 characters).", field="call_id")
    existing = Call.objects.filter(workspace=workspace, external_id=record.call_id).first()
    if existing is not None:
        return Recorded(call=existing, created=False)
    _validate(record)
    agent = _agent(workspace, record.agent_id)
    connected = _seconds(record.answered_at, record.ended_at) if record.answered_at else 0
    talk = connected - record.hold_seconds
    wait = _seconds(record.started_at, record.answered_at or record.ended_at)
    handle = (talk + record.hold_seconds + record.after_call_work_seconds) if connected else 0
    inbound = record.direction == Direction.INBOUND
    customer_number = record.from_number if inbound else record.to_number
    facts: dict[str, Any] = {
        "direction": record.direction,
        "from": record.from_number,
        "to": record.to_number,
        "agent_id": agent.pk if agent else None,
        "answered": record.answered_at is not None,
        "wait_seconds": wait,
        "talk_seconds": talk,
        "hold_seconds": record.hold_seconds,
        "after_call_work_seconds": record.after_call_work_seconds,
        "handle_seconds": handle,
        "recording_url": record.recording_url,
    }
    result = conversations.ingest(
        workspace=workspace,
        message=InboundMessage(
            channel="voice",
            text=timeline_text(record, talk),
            sender=Sender(phone=customer_number, name=record.customer_name),
            external_id=f"call:{record.call_id}",
            sent_at=record.started_at,
            auto_submitted=not inbound,
            data={
                "call": facts,
                "transcript": [t.__dict__ for t in record.transcript],
            },
        ),
    )
    try:
        with transaction.atomic():
            call = Call.objects.create(
                workspace=workspace,
                external_id=record.call_id,
                direction=record.direction,
                from_number=record.from_number[:32],
                to_number=record.to_number[:32],
                agent=agent,
                customer=result.customer,
                conversation=result.conversation,
                entry=result.entry,
                started_at=record.started_at,
                answered_at=record.answered_at,
                ended_at=record.ended_at,
                wait_seconds=wait,
                talk_seconds=talk,
                hold_seconds=record.hold_seconds,
                after_call_work_seconds=record.after_call_work_seconds,
                handle_seconds=handle,
                recording_url=record.recording_url,
                transcript=[t.__dict__ for t in record.transcript],
            )
    except IntegrityError:  # the same call recorded concurrently: theirs stands
        return Recorded(
            call=Call.objects.get(workspace=workspace, external_id=record.call_id), created=False
        )
    return Recorded(call=call, created=True)


def get_call(*, workspace: Workspace, call_id: Any) -> Call:
    try:
        return Call.objects.select_related("agent").get(workspace=workspace, pk=call_id)
    except (Call.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such call.", field="call_id") from None


def list_calls(
    *, workspace: Workspace, customer_id: int | None = None, agent_id: int | None = None
) -> QuerySet[Call]:
    qs = Call.objects.filter(workspace=workspace)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if agent_id is not None:
        qs = qs.filter(agent_id=agent_id)
    return qs.order_by("-started_at", "-id")


def handle_time(
    *,
    workspace_ids: Iterable[int],
    start: dt.datetime,
    end: dt.datetime,
    agent_ids: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Average handle time of answered calls that ended in [start, end): for the KPI engine.

    ``value`` is seconds (talk + hold + after-call work) averaged over answered
    calls; ``None`` when there were none.
    """
    qs = Call.objects.filter(
        workspace_id__in=list(workspace_ids),
        ended_at__gte=start,
        ended_at__lt=end,
        answered_at__isnull=False,
    )
    if agent_ids is not None:
        qs = qs.filter(agent_id__in=list(agent_ids))
    agg = qs.aggregate(
        n=Count("id"),
        avg=Avg("handle_seconds"),
        talk=Sum("talk_seconds"),
        hold=Sum("hold_seconds"),
        acw=Sum("after_call_work_seconds"),
    )
    n = agg["n"] or 0
    return {
        "value": round(float(agg["avg"]), 1) if n else None,
        "n": n,
        "talk_seconds": int(agg["talk"] or 0),
        "hold_seconds": int(agg["hold"] or 0),
        "after_call_work_seconds": int(agg["acw"] or 0),
    }
