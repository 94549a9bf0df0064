"""Subscribers: a resolution schedules the survey after the workspace's delay."""

from __future__ import annotations

import datetime as dt

from warmline.conversations.models import Status


def on_conversation_changed(sender, *, conversation_id, changes, **kwargs) -> None:
    status = changes.get("status") if isinstance(changes, dict) else None
    if not status or status[1] != Status.RESOLVED:
        return
    from .models import SurveySettings
    from .tasks import send_after_resolution

    delay = (
        SurveySettings.objects.filter(workspace_id=kwargs.get("workspace_id"))
        .values_list("delay_minutes", flat=True)
        .first()
    )
    delay = 60 if delay is None else delay
    send_after_resolution.schedule(
        args=(conversation_id,), delay=int(dt.timedelta(minutes=delay).total_seconds())
    )
