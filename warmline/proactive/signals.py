"""Subscribers: every committed inbound message is queued for topic assignment."""

from __future__ import annotations


def on_message_ingested(sender, *, workspace_id, entry_id, **kwargs) -> None:
    """Enqueue only: the task decides whether the entry is a customer message."""
    from .tasks import assign_message_task

    assign_message_task(workspace_id, entry_id)
