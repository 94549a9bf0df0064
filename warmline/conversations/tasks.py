"""Background work for conversations (Huey tasks call services; no logic here)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from . import analysis, announce, sla


@db_task()
def analyse_entries(
    workspace_id: int, entry_ids: list[int], new_conversation_ids: list[int] | None = None
) -> int:
    """Signals for messages that arrived in bulk, and taking up the live ones."""
    return analysis.analyse_entries(
        workspace_id=workspace_id,
        entry_ids=entry_ids,
        new_conversation_ids=new_conversation_ids or [],
    )


@db_task()
def message_followups(payload: dict) -> int:
    """Everything the worker does for one stored customer message (see announce)."""
    return announce.run_background(payload)


@db_periodic_task(crontab(minute="*"))
def check_slas() -> int:
    """Announce approaching and breached SLA targets (each once)."""
    return sla.check()
