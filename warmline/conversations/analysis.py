"""Deferred work for messages that arrived in bulk: empathy analysis, and taking up
the live ones (routing, SLA clocks, escalation) as the per-message path does at once."""

from __future__ import annotations

from django.db import transaction

from warmline.db.bulk import update_rows
from warmline.empathy.services import Prepared, prepare_inbound
from warmline.tenancy.models import Workspace

from . import services
from .announce import message_stored
from .models import Conversation, EntryKind, TimelineEntry


def analyse_entries(
    *, workspace_id: int, entry_ids: list[int], new_conversation_ids: list[int] = ()
) -> int:
    entries = list(
        TimelineEntry.objects.filter(
            workspace_id=workspace_id, pk__in=entry_ids, kind=EntryKind.CUSTOMER_MESSAGE
        ).order_by("occurred_at", "id")
    )
    by_conv: dict[int, list[TimelineEntry]] = {}
    prepared: dict[int, Prepared] = {}
    for e in entries:
        # The text was redacted on the way in; analysis needs no second pass.
        p = prepared[e.pk] = prepare_inbound(text=e.text, html="", redact=False)
        e.language, e.sentiment, e.signals = p.language, p.sentiment, p.signals
        by_conv.setdefault(e.conversation_id, []).append(e)
    with transaction.atomic():
        update_rows(TimelineEntry, entries, ["language", "sentiment", "signals"])
        # Customers first, then their cases: the order every ingest path locks in.
        services.lock_customers(
            list(
                Conversation.objects.filter(pk__in=list(by_conv)).values_list(
                    "customer_id", flat=True
                )
            )
        )
        convs = {
            c.pk: c
            for c in Conversation.objects.select_for_update()
            .select_related("customer")
            .filter(pk__in=list(by_conv))
        }
        for conv in convs.values():
            for e in by_conv[conv.pk]:
                if e.sentiment is None or e.is_auto_reply:
                    continue
                if conv.sentiment_first is None:
                    conv.sentiment_first = e.sentiment
                if conv.sentiment_lowest is None or e.sentiment < conv.sentiment_lowest:
                    conv.sentiment_lowest = e.sentiment
                conv.sentiment_last = e.sentiment
            conv.save(update_fields=["sentiment_first", "sentiment_lowest", "sentiment_last"])
        new_cases = set(new_conversation_ids)
        services.take_up_bulk(
            workspace=Workspace.objects.get(pk=workspace_id),
            entries=entries,
            prepared=prepared,
            convs=convs,
            new_conversation_ids=new_cases,
        )
        opener: dict[int, int] = {}  # the first of the batch's entries in each new case
        for e in entries:
            if e.conversation_id in new_cases:
                opener.setdefault(e.conversation_id, e.pk)
        for e in entries:
            transaction.on_commit(
                lambda e=e: message_stored(
                    workspace_id=workspace_id,
                    entry_id=e.pk,
                    conversation_id=e.conversation_id,
                    customer_id=e.author_customer_id,
                    created_conversation=opener.get(e.conversation_id) == e.pk,
                    reopened=False,
                )
            )
    return len(entries)
