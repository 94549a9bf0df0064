"""Background work for trends (Huey tasks call services; no logic here)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from warmline.tenancy.models import Workspace

from . import services


@db_task()
def assign_message_task(workspace_id: int, entry_id: int) -> int | None:
    """File one inbound message under a topic and check it for a trend (off the ingest path)."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return None
    result = services.assign_message(workspace=workspace, entry_id=entry_id)
    return result.topic.pk if result else None


@db_task()
def send_outreach_task(outreach_id: int) -> dict:
    return services.send_outreach(outreach_id=outreach_id)
