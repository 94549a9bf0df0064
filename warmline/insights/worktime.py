"""Active work time on written conversations, and average handle time per conversation.

Calls have a measured handle time (talk + hold + after-call work). Written
conversations do not, so the agent's conversation page pings over its socket
while it is visible and the agent has used it within the last minute
(``warmline/web``); each ping adds the server-measured time since the previous
ping of the same page, at most ``GAP_CAP_SECONDS``. A page left open in a
background tab, or an agent who walked away, stops pinging, and the silence
counts at most the cap. The client never says how long it worked: only that
it is still working, and the server's clock measures.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from warmline.conversations.models import Conversation
from warmline.errors import InvalidInput, NotFound
from warmline.tenancy.models import Member, Workspace

from .models import WorkSession

# The page pings every 15 s while active; twice that tolerates a late browser timer.
PING_SECONDS = 15
GAP_CAP_SECONDS = 30


def record_work(
    *,
    workspace: Workspace,
    member: Member,
    conversation_id: int,
    key: str,
    at: dt.datetime | None = None,
) -> WorkSession:
    """One "still working" ping from a member's open conversation page (``key``: its socket).

    The first ping opens the session (0 s); each later one adds min(gap, cap).
    Pings on voice conversations are not recorded: their after-call work is
    already in the call's handle time.
    """
    if member.workspace_id != workspace.pk:
        raise NotFound("No such member.", field="member")
    if not key or len(key) > 120:
        raise InvalidInput("A work session needs a key.", field="key")
    conv = (
        Conversation.objects.filter(workspace=workspace, pk=conversation_id)
        .only("id", "channel")
        .first()
    )
    if conv is None:
        raise NotFound("No such conversation.", field="conversation_id")
    at = at or timezone.now()
    with transaction.atomic():
        session = (
            WorkSession.objects.select_for_update().filter(workspace=workspace, key=key).first()
        )
        if session is None:
            try:
                with transaction.atomic():
                    return WorkSession.objects.create(
                        workspace=workspace,
                        member=member,
                        conversation=conv,
                        channel=conv.channel,
                        key=key,
                        started_at=at,
                        ended_at=at,
                    )
            except IntegrityError:  # a racing first ping of the same page
                session = WorkSession.objects.select_for_update().get(workspace=workspace, key=key)
        if session.member_id != member.pk or session.conversation_id != conv.pk:
            raise InvalidInput("This work session belongs to another page.", field="key")
        gap = (at - session.ended_at).total_seconds()
        if gap <= 0:
            return session  # a repeated or out-of-order ping adds nothing
        session.active_seconds += int(min(gap, GAP_CAP_SECONDS))
        session.ended_at = at
        session.save(update_fields=["active_seconds", "ended_at", "updated_at"])
    return session


def handle_time(
    *,
    workspace_ids: list[int],
    start: dt.datetime,
    end: dt.datetime,
    member_ids: list[int] | None = None,
    channel: str | None = None,
    tier: str | None = None,
) -> dict[str, Any]:
    """Average handle time per conversation handled in [start, end).

    A conversation is handled in the period when an answered call on it ended
    there, or a work session on it ended there. Its handle time is the calls'
    handle seconds plus the sessions' active seconds (written channels only).
    ``value`` is the total over the number of those conversations; None if none.
    """
    from warmline.channels.voice.models import Call

    calls = Call.objects.filter(
        workspace_id__in=workspace_ids,
        ended_at__gte=start,
        ended_at__lt=end,
        answered_at__isnull=False,
    )
    sessions = WorkSession.objects.filter(
        workspace_id__in=workspace_ids, ended_at__gte=start, ended_at__lt=end
    ).exclude(channel="voice")
    if member_ids is not None:
        calls = calls.filter(agent_id__in=member_ids)
        sessions = sessions.filter(member_id__in=member_ids)
    if tier:
        calls = calls.filter(conversation__customer__tier=tier)
        sessions = sessions.filter(conversation__customer__tier=tier)
    if channel and channel != "voice":
        calls = calls.none()
        sessions = sessions.filter(channel=channel)
    elif channel == "voice":
        sessions = sessions.none()
    c = calls.aggregate(
        n=Count("id"),
        total=Sum("handle_seconds"),
        talk=Sum("talk_seconds"),
        hold=Sum("hold_seconds"),
        acw=Sum("after_call_work_seconds"),
    )
    s = sessions.aggregate(n=Count("id"), total=Sum("active_seconds"))
    handled = set(calls.values_list("conversation_id", flat=True).distinct())
    handled |= set(sessions.values_list("conversation_id", flat=True).distinct())
    call_seconds, work_seconds = int(c["total"] or 0), int(s["total"] or 0)
    n = len(handled)
    return {
        "value": round((call_seconds + work_seconds) / n, 1) if n else None,
        "n": n,
        "calls": c["n"] or 0,
        "call_seconds": call_seconds,
        "work_sessions": s["n"] or 0,
        "work_seconds": work_seconds,
        "talk_seconds": int(c["talk"] or 0),
        "hold_seconds": int(c["hold"] or 0),
        "after_call_work_seconds": int(c["acw"] or 0),
    }
