"""Telling the rest of Warmline that a customer message was stored.

Two audiences. Live listeners (inbox and conversation pages) hear
``message_ingested`` at once, in the process that stored the message. Background
work (topic and trend assignment, care health, KPI roll-ups) hears
``message_ingested_background`` in the worker, all of it from the one task queued
here: each subscriber used to queue a task of its own from the request, and those
three enqueues were a tenth of what ingesting one message cost (docs/ingest.md).
"""

from __future__ import annotations

import logging
from typing import Any

from .models import Conversation
from .signals import message_ingested, message_ingested_background

log = logging.getLogger(__name__)


def message_stored(**payload: Any) -> None:
    """Call after commit, once per new customer message (kwargs as ``message_ingested``)."""
    from .tasks import message_followups

    message_ingested.send(sender=Conversation, **payload)
    message_followups(payload)


def run_background(payload: dict) -> int:
    """Run every background subscriber; one failing never stops the others.

    Returns how many failed (each is logged with its traceback).
    """
    failed = 0
    for receiver, result in message_ingested_background.send_robust(sender=Conversation, **payload):
        if isinstance(result, Exception):
            failed += 1
            log.error(
                "background subscriber %r failed on entry %s",
                getattr(receiver, "__qualname__", receiver),
                payload.get("entry_id"),
                exc_info=result,
            )
    return failed
