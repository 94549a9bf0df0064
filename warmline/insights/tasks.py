"""Background work for KPIs (Huey tasks call the roll-up functions; no logic here)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from warmline.tenancy.models import Workspace

from . import rollups


@db_task()
def refresh_conversation(conversation_id: int) -> int:
    return rollups.refresh_conversation(conversation_id)


@db_task()
def rebuild_workspace(workspace_id: int) -> int:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    return rollups.rebuild_workspace(workspace) if workspace else 0


@db_periodic_task(crontab(hour="3", minute="17"))
def nightly_rebuild() -> None:
    """Reconcile attributes that change without a conversation event (a customer's tier)."""
    for workspace_id in Workspace.objects.values_list("pk", flat=True):
        rebuild_workspace(workspace_id)
