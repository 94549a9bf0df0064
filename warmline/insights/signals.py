"""Subscribers: every committed change to a conversation refreshes its roll-up share."""

from __future__ import annotations


def _enqueue(conversation_id: int) -> None:
    from .tasks import refresh_conversation

    refresh_conversation(conversation_id)


def on_conversation_changed(sender, *, conversation_id, **kwargs) -> None:
    _enqueue(conversation_id)


def on_message_ingested(sender, *, conversation_id, **kwargs) -> None:
    # In the worker already (message_ingested_background): refresh here.
    from .rollups import refresh_conversation

    refresh_conversation(conversation_id)
