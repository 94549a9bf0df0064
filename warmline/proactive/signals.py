"""Subscribers: every committed inbound message gets its topic (in the worker)."""

from __future__ import annotations


def on_message_ingested(sender, *, workspace_id, entry_id, **kwargs) -> None:
    """Runs in the worker (message_ingested_background); the task decides whether the
    entry is a customer message."""
    from .tasks import assign_message_task

    assign_message_task.call_local(workspace_id, entry_id)
