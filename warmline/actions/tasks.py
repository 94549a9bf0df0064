"""Background work for actions (Huey tasks call services; no logic here)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from . import services


@db_task()
def run_deferred_action(action_id: int) -> str:
    """Deliver a queued action through its webhook (with its own bounded retries)."""
    return services.run_deferred(action_id).status


@db_periodic_task(crontab(minute="*/5"))
def expire_approvals() -> int:
    """Approval requests nobody decided in time become expired and the requester is told."""
    return services.expire_approvals()
