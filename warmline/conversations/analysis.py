"""Deferred empathy analysis for bulk-imported messages."""

from __future__ import annotations

from django.db import transaction

from warmline.db.bulk import update_rows
from warmline.empathy.services import prepare_inbound

from .announce import message_stored
from .models import Conversation, EntryKind, TimelineEntry


def analyse_entries(*, workspace_id: int, entry_ids: list[int]) -> int:
    entries = list(
        TimelineEntry.objects.filter(
            workspace_id=workspace_id, pk__in=entry_ids, kind=EntryKind.CUSTOMER_MESSAGE
        ).order_by("occurred_at", "id")
    )
    by_conv: dict[int, list[TimelineEntry]] = {}
    for e in entries:
        # The text was redacted on the way in; analysis needs no second pass.
        p = prepare_inbound(text=e.text, html="", redact=False)
        e.language, e.sentiment, e.signals = p.language, p.sentiment, p.signals
        by_conv.setdefault(e.conversation_id, []).append(e)
    with transaction.atomic():
        update_rows(TimelineEntry, entries, ["language", "sentiment", "signals"])
        for conv in Conversation.objects.select_for_update().filter(pk__in=list(by_conv)):
            for e in by_conv[conv.pk]:
                if e.sentiment is None or e.is_auto_reply:
                    continue
                if conv.sentiment_first is None:
                    conv.sentiment_first = e.sentiment
                if conv.sentiment_lowest is None or e.sentiment < conv.sentiment_lowest:
                    conv.sentiment_lowest = e.sentiment
                conv.sentiment_last = e.sentiment
            conv.save(update_fields=["sentiment_first", "sentiment_lowest", "sentiment_last"])
        for e in entries:
            transaction.on_commit(
                lambda e=e: message_stored(
                    workspace_id=workspace_id,
                    entry_id=e.pk,
                    conversation_id=e.conversation_id,
                    customer_id=e.author_customer_id,
                    created_conversation=False,
                    reopened=False,
                )
            )
    return len(entries)
