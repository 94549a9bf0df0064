"""Background work for conversations (Huey tasks call services; no logic here)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from . import analysis, announce, sla


@db_task()
def analyse_entries(workspace_id: int, entry_ids: list[int]) -> int:
    """Signals for messages that arrived through bulk import."""
    return analysis.analyse_entries(workspace_id=workspace_id, entry_ids=entry_ids)


@db_task()
def message_followups(payload: dict) -> int:
    """Everything the worker does for one stored customer message (see announce)."""
    return announce.run_background(payload)


@db_periodic_task(crontab(minute="*"))
def check_slas() -> int:
    """Announce approaching and breached SLA targets (each once)."""
    return sla.check()
