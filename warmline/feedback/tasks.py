"""Background work for surveys (Huey tasks call services; no logic here)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from . import services


@db_task()
def send_after_resolution(conversation_id: int) -> int | None:
    survey = services.send_after_resolution(conversation_id=conversation_id)
    return survey.pk if survey else None
