"""Conversation use cases: the one ingest path, replies, notes, status and ownership."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from dataclasses import dataclass, replace
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from warmline.customers.models import CHANNELS, Customer
from warmline.customers.services import IdentityClaim, claims_from, resolve_customer
from warmline.db import rows
from warmline.empathy import escalation
from warmline.empathy.services import Prepared, prepare_inbound, redact_subject
from warmline.errors import InvalidInput, NotFound
from warmline.tenancy.models import Member, Workspace
from warmline.tenancy.services import get_member, get_team, notify, record_audit

from . import routing, sla
from .announce import message_stored
from .html import clean_html
from .inbound import InboundMessage
from .models import (
    ACTIVE_STATUSES,
    MESSAGE_KINDS,
    Conversation,
    DeliveryStatus,
    EntryKind,
    Priority,
    Status,
    ThreadKey,
    TimelineEntry,
)
from .signals import conversation_changed

log = logging.getLogger(__name__)

# SQLite has one write lock per database file and its busy handler *polls* for it
# (sleeps of 1, 2, 5 … up to 100 ms between tries), so threads of one server
# process that all want to write do not queue: an unlucky one sleeps through many
# commits of its neighbours (the 1.2 s p99 of bench/ingest.py with 4 threads per
# process). Ingest's own transactions take this process-wide gate first, so they
# queue in order inside the process and only the processes meet at SQLite's lock.
_SQLITE_WRITE_GATE = threading.Lock()


def _write_gate() -> contextlib.AbstractContextManager:
    """The gate for an outermost ingest transaction on SQLite; nothing otherwise.

    Inside a caller's transaction the gate is skipped: that caller may already hold
    SQLite's lock, and waiting for the gate then would invert the lock order.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return contextlib.nullcontext()
    return _SQLITE_WRITE_GATE


MAX_TEXT = 200_000


@dataclass
class IngestResult:
    entry: TimelineEntry
    conversation: Conversation
    customer: Customer
    created: bool
    new_conversation: bool = False
    reopened: bool = False


# --- Reading ----------------------------------------------------------------------


def get_conversation(*, workspace: Workspace, conversation_id: Any) -> Conversation:
    try:
        return Conversation.objects.select_related("customer", "owner", "team").get(
            workspace=workspace, pk=conversation_id
        )
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such conversation.", field="conversation_id") from None


def get_conversation_by_number(*, workspace: Workspace, number: int) -> Conversation:
    try:
        return Conversation.objects.select_related("customer", "owner", "team").get(
            workspace=workspace, number=number
        )
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such conversation.") from None


def list_conversations(
    *,
    workspace: Workspace,
    status: str | None = None,
    owner_id: int | None = None,
    unassigned: bool = False,
    team_id: int | None = None,
    channel: str | None = None,
    priority: str | None = None,
    customer_id: int | None = None,
) -> QuerySet[Conversation]:
    qs = Conversation.objects.filter(workspace=workspace)
    if status:
        qs = qs.filter(status=status)
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    if unassigned:
        qs = qs.filter(owner__isnull=True)
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    if channel:
        qs = qs.filter(channel=channel)
    if priority:
        qs = qs.filter(priority=priority)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return qs


def timeline(*, conversation: Conversation) -> QuerySet[TimelineEntry]:
    return (
        TimelineEntry.objects.filter(
            workspace_id=conversation.workspace_id, conversation=conversation
        )
        .select_related("author_member")
        .order_by("occurred_at", "id")
    )


def count_for_customer(*, workspace: Workspace, customer: Customer) -> int:
    return Conversation.objects.filter(workspace=workspace, customer=customer).count()


def move_customer_conversations(*, workspace: Workspace, source: Customer, target: Customer) -> int:
    """Used by the customer merge: a merged customer's cases become the kept one's."""
    TimelineEntry.objects.filter(workspace=workspace, author_customer=source).update(
        author_customer=target
    )
    return Conversation.objects.filter(workspace=workspace, customer=source).update(customer=target)


# --- Ingest -------------------------------------------------------------------------


def _validate(message: InboundMessage) -> None:
    if message.channel not in CHANNELS:
        raise InvalidInput(f"Unknown channel '{message.channel}'.", field="channel")
    if not (message.text or "").strip() and not message.html and not message.attachments:
        raise InvalidInput("The message has no text.", field="text")
    if len(message.text or "") > MAX_TEXT:
        raise InvalidInput(f"The text is longer than {MAX_TEXT} characters.", field="text")
    if message.external_id is not None and len(message.external_id) > 300:
        raise InvalidInput("external_id is longer than 300 characters.", field="external_id")
    if message.sent_at is not None and timezone.is_naive(message.sent_at):
        raise InvalidInput("sent_at needs a time zone.", field="sent_at")


def _existing(workspace: Workspace, channel: str, external_id: str) -> IngestResult | None:
    # Asked for every message and almost always "no": raw SQL on the unique index.
    with connection.cursor() as cursor:
        cursor.execute(_SEEN_SQL, [workspace.pk, channel, external_id])
        row = cursor.fetchone()
    if row is None:
        return None
    entry_id = row[0]
    entry = TimelineEntry.objects.select_related("conversation__customer").get(pk=entry_id)
    conv = entry.conversation
    return IngestResult(entry=entry, conversation=conv, customer=conv.customer, created=False)


_SEEN_SQL = (
    'SELECT "id" FROM "conversations_timelineentry" '
    'WHERE "workspace_id" = %s AND "channel" = %s AND "external_id" = %s LIMIT 1'
)


def ingest(*, workspace: Workspace, message: InboundMessage) -> IngestResult:
    """Store one inbound customer message: identify, thread, analyse, commit, announce.

    Idempotent on (workspace, channel, external_id): a retried delivery, even one
    racing the first, returns the existing entry with ``created=False``.
    """
    _validate(message)
    message = with_redacted_subject(workspace, message)
    if message.external_id:
        hit = _existing(workspace, message.channel, message.external_id)
        if hit:
            return hit
    claims = claims_from(workspace, message.sender.identities())
    if not claims:
        raise InvalidInput("The sender has no identity (email, phone, handle…).", field="from")
    # CPU work happens before the transaction so it never holds the write lock.
    prepared = prepare_inbound(
        text=message.text or "", html=clean_html(message.html or ""), redact=workspace.redact_pii
    )
    # Inside a caller's transaction the announcement waits for that commit; on our own
    # transaction it runs once the block has committed, after the write gate is released,
    # so queueing the subscribers' work never holds up the next writer.
    outer = connection.in_atomic_block
    try:
        with _write_gate(), transaction.atomic():
            result = _store(workspace, message, claims, prepared)
            if outer:
                transaction.on_commit(lambda: _announce(workspace, result))
    except IntegrityError:
        if message.external_id:
            hit = _existing(workspace, message.channel, message.external_id)
            if hit:
                return hit
        raise
    if not outer:
        _announce(workspace, result)
    return result


def with_redacted_subject(workspace: Workspace, message: InboundMessage) -> InboundMessage:
    """The subject is stored on the conversation and the entry: redact it like the body."""
    if not workspace.redact_pii or not message.subject:
        return message
    return replace(message, subject=redact_subject(message.subject))


def _message_time(message: InboundMessage) -> dt.datetime:
    now = timezone.now()
    if message.sent_at is None:
        return now
    # A sender's clock running ahead must not put a message in our future.
    return min(message.sent_at, now)


def _store(
    workspace: Workspace,
    message: InboundMessage,
    claims: list[IdentityClaim],
    prepared: Prepared,
) -> IngestResult:
    at = _message_time(message)
    resolution = resolve_customer(
        workspace=workspace,
        claims=claims,
        name=message.sender.name,
        language=message.language or prepared.language,
        channel=message.channel,
        at=at,
    )
    customer = resolution.customer
    lock_customers([customer.pk])
    if message.sent_at is None:
        # Arrival time, read once the customer is ours: a message that waited for the
        # lock came after the one it waited for, and joins the case that one opened.
        at = _message_time(message)
    conv, reopened = _thread(workspace, customer, message, at)
    new_conversation = conv is None
    decision = None
    if conv is None:
        conv = new_conversation_for(workspace, customer, message, at, prepared.text)
        if not message.auto_submitted:
            decision = routing.route(
                workspace=workspace, customer=customer, channel=message.channel, at=at
            )
            conv.owner = decision.member
    fields = apply_customer_message(
        conv,
        channel=message.channel,
        at=at,
        auto=message.auto_submitted,
        sentiment=prepared.sentiment,
        reopened=reopened,
    )
    reasons = (
        [] if message.auto_submitted else _escalation_reasons(conv, prepared, new_conversation)
    )
    if reasons:
        conv.escalated_at = at
        fields.add("escalated_at")
    if new_conversation:
        sla.start(conv, workspace, tier=customer.tier, at=at)
        conv.number = _allocate_numbers(workspace, 1)
        rows.insert(conv)  # no signals or save() override on Conversation (warmline.db.rows)
    else:
        if not message.auto_submitted:
            fields |= sla.on_customer_message(conv, workspace, at)
        rows.update(conv, sorted(fields))
    entry = customer_entry(workspace, conv, customer, message, at, prepared)
    rows.insert(entry)  # likewise for TimelineEntry
    _register_thread_keys(workspace, conv, message)
    if reopened:
        reopen_entry(conv, at).save(force_insert=True)
    if decision is not None and decision.member is not None:
        _system_entry(
            conv,
            EntryKind.ASSIGNMENT,
            at,
            data={"owner": [None, decision.member.pk], "reason": decision.reason},
            text=decision.reason,
        )
        if customer.owner_id is None and (
            resolution.created or count_for_customer(workspace=workspace, customer=customer) == 1
        ):
            # A customer's first conversation gives them their dedicated advocate.
            Customer.objects.filter(pk=customer.pk, owner__isnull=True).update(
                owner=decision.member
            )
            customer.owner = decision.member
    if reasons:
        _escalate(workspace, conv, entry, reasons, at)
    return IngestResult(
        entry=entry,
        conversation=conv,
        customer=customer,
        created=True,
        new_conversation=new_conversation,
        reopened=reopened,
    )


def customer_entry(
    workspace: Workspace,
    conv: Conversation,
    customer: Customer,
    message: InboundMessage,
    at: dt.datetime,
    prepared: Prepared,
) -> TimelineEntry:
    # rows.new: TimelineEntry has no init signals; Model.__init__ costs 5x more per row.
    return rows.new(
        TimelineEntry,
        workspace=workspace,
        conversation=conv,
        kind=EntryKind.CUSTOMER_MESSAGE,
        channel=message.channel,
        author_customer=customer,
        subject=message.subject[:300],
        text=prepared.text,
        html=prepared.html,
        external_id=message.external_id or None,
        delivery_status=DeliveryStatus.RECEIVED,
        attachments=message.attachments,
        data=message.data,
        occurred_at=at,
        is_auto_reply=message.auto_submitted,
        language=prepared.language,
        sentiment=prepared.sentiment,
        signals=prepared.signals,
    )


def lock_customers(ids: list[int]) -> None:
    """Hold these customers' rows until commit, where the database locks rows.

    Threading reads a customer's open cases and may open one; two messages of one
    customer handled at once (two workers on PostgreSQL) must not both find none and
    open two. SQLite has one writer at a time, so there is nothing to lock. Always in
    id order, before any of the customers' cases: the order every ingest path takes.
    """
    if not ids or not connection.features.has_select_for_update:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT "id" FROM "customers_customer" WHERE "id" IN ('  # noqa: S608
            + ", ".join(["%s"] * len(ids))
            + ') ORDER BY "id" FOR UPDATE',
            sorted(ids),
        )


def _escalation_reasons(
    conv: Conversation,
    prepared: Prepared,
    new_conversation: bool,
    stored: TimelineEntry | None = None,
) -> list[str]:
    """Why this message needs someone now; ``stored``: the message's own entry when it is
    already in the timeline (bulk), so the history read is what came before it."""
    previous: list[float] = []
    if (
        not new_conversation
        and prepared.sentiment is not None
        and prepared.sentiment <= escalation.SHARP_SHIFT_FLOOR
    ):
        # Only a clearly negative message can be a sharp drop: read history just then.
        before, params = "", []
        if stored is not None:
            at = connection.ops.adapt_datetimefield_value(stored.occurred_at)
            before = 'AND ("occurred_at" < %s OR ("occurred_at" = %s AND "id" < %s)) '
            params = [at, at, stored.pk]
        with connection.cursor() as cursor:
            cursor.execute(
                # Fixed SQL text (``before`` is one of two constants); values are parameters.
                'SELECT "sentiment" FROM "conversations_timelineentry" '  # noqa: S608
                'WHERE "conversation_id" = %s AND "kind" = %s AND "sentiment" IS NOT NULL '
                + before
                + 'ORDER BY "occurred_at" DESC, "id" DESC LIMIT %s',
                [conv.pk, EntryKind.CUSTOMER_MESSAGE.value, *params, escalation.SHIFT_WINDOW],
            )
            previous = [row[0] for row in cursor.fetchall()][::-1]
    return escalation.escalation_reasons(previous, prepared)


# Bulk messages at most this old are live work: their new cases are routed and get SLA
# clocks, and they can escalate. Older ones are history being imported, which must not
# fill agents' queues or set off breach alerts for cases nobody was ever asked to take.
LIVE_BULK_WINDOW = dt.timedelta(hours=24)


def take_up_bulk(
    *,
    workspace: Workspace,
    entries: list[TimelineEntry],
    prepared: dict[int, Prepared],
    convs: dict[int, Conversation],
    new_conversation_ids: set[int],
    now: dt.datetime | None = None,
) -> int:
    """What the per-message path does at ingest, for bulk messages, once analysed.

    Bulk ingest stores a thousand messages without routing or analysis (that is what
    makes it fast); the worker then gives live messages the same treatment: a new case
    is routed (the customer's owner first) with an assignment entry, its SLA clocks
    start from its opening, a follow-up starts the next-response clock, and anger,
    churn talk or a sharp drop escalates. Returns how many cases were routed.
    Call inside a transaction that holds the customers' and then the cases' rows
    (``convs``, with their customers), in time order (``entries`` sorted by occurrence).
    """
    now = now or timezone.now()
    live = [e for e in entries if not e.is_auto_reply and now - e.occurred_at <= LIVE_BULK_WINDOW]
    if not live:
        return 0
    routed: set[int] = set()
    for e in live:
        conv = convs.get(e.conversation_id)
        if conv is None or conv.status not in ACTIVE_STATUSES:
            continue
        customer = conv.customer
        opening = conv.pk in new_conversation_ids and conv.pk not in routed
        fields: set[str] = set()
        if opening:
            routed.add(conv.pk)
            decision = routing.route(
                workspace=workspace, customer=customer, channel=conv.channel, at=conv.opened_at
            )
            if decision.member is not None and decision.member.pk != conv.owner_id:
                conv.owner = decision.member
                fields.add("owner")
            if conv.sla_policy_id is None:
                fields |= sla.start(conv, workspace, tier=customer.tier, at=conv.opened_at)
            if decision.member is not None:
                _system_entry(
                    conv,
                    EntryKind.ASSIGNMENT,
                    e.occurred_at,
                    data={"owner": [None, decision.member.pk], "reason": decision.reason},
                    text=decision.reason,
                )
                if customer.owner_id is None and (
                    count_for_customer(workspace=workspace, customer=customer) == 1
                ):
                    # A customer's first conversation gives them their dedicated advocate.
                    Customer.objects.filter(pk=customer.pk, owner__isnull=True).update(
                        owner=decision.member
                    )
                    customer.owner = decision.member
        else:
            fields |= sla.on_customer_message(conv, workspace, e.occurred_at)
        reasons = _escalation_reasons(conv, prepared[e.pk], opening, stored=e)
        if reasons:
            conv.escalated_at = e.occurred_at
            fields.add("escalated_at")
        if fields:
            conv.save(update_fields=sorted(fields | {"updated_at"}))
        if reasons:
            _escalate(workspace, conv, e, reasons, e.occurred_at)
    return len(routed)


ESCALATION_TEXT = {
    escalation.SHARP_NEGATIVE_SHIFT: "sharp negative shift in sentiment",
    escalation.STRONG_ANGER: "strong frustration or anger",
    escalation.CHURN_RISK: "the customer talks about leaving",
}


def _escalate(
    workspace: Workspace,
    conv: Conversation,
    entry: TimelineEntry,
    reasons: list[str],
    at: dt.datetime,
) -> None:
    """Tell the owner and the team lead, and mark the case, so someone acts now."""
    text = "Escalation: " + "; ".join(ESCALATION_TEXT.get(r, r) for r in reasons)
    _system_entry(
        conv, EntryKind.ESCALATION, at, data={"reasons": reasons, "entry": entry.pk}, text=text
    )
    people = {}
    if conv.owner_id:
        people[conv.owner_id] = conv.owner
    if conv.team_id and conv.team.lead_id:
        people[conv.team.lead_id] = conv.team.lead
    for member in people.values():
        notify(
            member=member,
            kind="escalation",
            text=f"#{conv.number}: {text}",
            link=f"/c/{conv.number}/",
        )


def reopen_entry(conv: Conversation, at: dt.datetime) -> TimelineEntry:
    return rows.new(
        TimelineEntry,
        workspace_id=conv.workspace_id,
        conversation=conv,
        kind=EntryKind.STATUS_CHANGE,
        data={"from": Status.RESOLVED, "to": Status.OPEN, "reason": "customer_reply"},
        occurred_at=at,
    )


def thread_keys_of(message: InboundMessage) -> list[str]:
    keys = list(dict.fromkeys([*(message.thread.keys or [])[:50], message.thread_key or ""]))
    return [k[:400] for k in keys if k]


def _window(workspace: Workspace) -> dt.timedelta:
    return dt.timedelta(days=workspace.reopen_window_days)


def _thread(
    workspace: Workspace, customer: Customer, message: InboundMessage, at: dt.datetime
) -> tuple[Conversation | None, bool]:
    """Pick the conversation this message continues; (None, False) means a new one."""
    target = None
    hints = message.thread
    if hints.conversation_id:
        target = (
            Conversation.objects.select_for_update()
            .filter(workspace=workspace, pk=hints.conversation_id)
            .first()
        )
    if target is None and hints.keys:
        conv_id = (
            ThreadKey.objects.filter(workspace=workspace, key__in=hints.keys[:50])
            .order_by("-id")
            .values_list("conversation_id", flat=True)
            .first()
        )
        if conv_id:
            target = Conversation.objects.select_for_update().filter(pk=conv_id).first()
    if target is None:
        # Cross-channel continuity: the customer's latest case still within the window.
        # Imports may arrive out of order: never join a case opened after the message.
        # Asked for every message: raw SQL on the (workspace, customer, activity) index.
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        found = rows.fetch(
            Conversation,
            '"workspace_id" = %s AND "customer_id" = %s AND "status" IN (%s, %s, %s, %s) '
            'AND "last_activity_at" >= %s AND "opened_at" <= %s',
            [
                workspace.pk,
                customer.pk,
                *[s.value for s in ACTIVE_STATUSES],
                Status.RESOLVED.value,
                connection.ops.adapt_datetimefield_value(at - _window(workspace)),
                connection.ops.adapt_datetimefield_value(at),
            ],
            tail='ORDER BY "last_activity_at" DESC, "id" DESC LIMIT 1' + lock,
        )
        target = found[0] if found else None
    seen: set[int] = set()
    while target is not None and target.merged_into_id and target.merged_into_id not in seen:
        seen.add(target.merged_into_id)
        target = Conversation.objects.select_for_update().get(pk=target.merged_into_id)
    return decide_thread(target, at=at, window=_window(workspace), auto=message.auto_submitted)


def decide_thread(
    target: Conversation | None, *, at: dt.datetime, window: dt.timedelta, auto: bool
) -> tuple[Conversation | None, bool]:
    """The threading rule, shared by single and batch ingest: (conversation, reopens?)."""
    if target is None:
        return None, False
    if auto:
        return target, False  # recorded where it belongs; never reopens anything
    if target.status == Status.CLOSED:
        return None, False
    if target.status == Status.RESOLVED:
        resolved_at = target.resolved_at or target.last_activity_at
        if at <= resolved_at:
            return target, False  # written before the resolution, delivered late
        if at - resolved_at <= window:
            return target, True
        return None, False  # a reply long after resolution is a new case
    return target, False


def _allocate_numbers(workspace: Workspace, count: int) -> int:
    """Reserve ``count`` human numbers; returns the first. Holds the workspace row lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tenancy_workspace SET conversation_seq = conversation_seq + %s "
            "WHERE id = %s RETURNING conversation_seq",
            [count, workspace.pk],
        )
        (last,) = cursor.fetchone()
    return last - count + 1


def _subject_for(message: InboundMessage, text: str) -> str:
    subject = (message.subject or "").strip()
    if not subject:
        first_line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
        subject = first_line[:80] + ("…" if len(first_line) > 80 else "")
    return subject[:300]


def _default_owner(customer: Customer) -> int | None:
    # The customer's dedicated advocate gets their new cases; routing rules build on this.
    return customer.owner_id


def new_conversation_for(
    workspace: Workspace, customer: Customer, message: InboundMessage, at: dt.datetime, text: str
) -> Conversation:
    """An unsaved new case for this message (numbered by the caller)."""
    return rows.new(
        Conversation,
        workspace=workspace,
        customer=customer,
        subject=_subject_for(message, text),
        status=Status.OPEN,
        priority=Priority.NORMAL,
        owner_id=_default_owner(customer),
        channel=message.channel,
        opened_at=at,
        last_activity_at=at,
    )


def apply_customer_message(
    conv: Conversation,
    *,
    channel: str,
    at: dt.datetime,
    auto: bool,
    sentiment: float | None,
    reopened: bool,
) -> set[str]:
    """Fold one customer message into the conversation row; returns the fields touched.

    The caller holds the row (SELECT … FOR UPDATE, or SQLite's write lock).
    """
    touched = {"message_count", "customer_message_count"}
    conv.message_count += 1
    conv.customer_message_count += 1
    if conv.last_activity_at is None or at >= conv.last_activity_at:
        conv.last_activity_at, conv.last_channel = at, channel
        touched |= {"last_activity_at", "last_channel"}
    if not auto:
        conv.last_customer_message_at = at
        touched.add("last_customer_message_at")
        if conv.waiting_since is None:
            conv.waiting_since = at
            touched.add("waiting_since")
        if conv.status in (Status.PENDING, Status.SNOOZED) or reopened:
            conv.status, conv.snoozed_until = Status.OPEN, None
            touched |= {"status", "snoozed_until"}
        if reopened:
            conv.reopen_count += 1
            conv.resolved_at = None
            touched |= {"reopen_count", "resolved_at"}
        if sentiment is not None:
            if conv.sentiment_first is None:
                conv.sentiment_first = sentiment
            if conv.sentiment_lowest is None or sentiment < conv.sentiment_lowest:
                conv.sentiment_lowest = sentiment
            conv.sentiment_last = sentiment
            touched |= {"sentiment_first", "sentiment_lowest", "sentiment_last"}
    return touched


def _register_thread_keys(
    workspace: Workspace, conv: Conversation, message: InboundMessage
) -> None:
    keys = thread_keys_of(message)
    if keys:
        ThreadKey.objects.bulk_create(
            [ThreadKey(workspace=workspace, conversation=conv, key=k) for k in keys],
            ignore_conflicts=True,
        )


def _system_entry(
    conv: Conversation,
    kind: str,
    at: dt.datetime,
    *,
    member: Member | None = None,
    data: dict | None = None,
    text: str = "",
) -> TimelineEntry:
    return TimelineEntry.objects.create(
        workspace_id=conv.workspace_id,
        conversation=conv,
        kind=kind,
        author_member=member,
        text=text,
        data=data or {},
        occurred_at=at,
    )


def _announce(workspace: Workspace, result: IngestResult) -> None:
    message_stored(
        workspace_id=workspace.pk,
        entry_id=result.entry.pk,
        conversation_id=result.conversation.pk,
        customer_id=result.customer.pk,
        created_conversation=result.new_conversation,
        reopened=result.reopened,
    )


# --- Agent work -------------------------------------------------------------------


def record_reply(
    *,
    workspace: Workspace,
    member: Member | None,
    conversation: Conversation,
    text: str,
    channel: str | None = None,
    kind: str = EntryKind.AGENT_REPLY,
    html: str = "",
    at: dt.datetime | None = None,
    delivery_status: str = DeliveryStatus.QUEUED,
    external_id: str | None = None,
) -> TimelineEntry:
    """Record a reply to the customer on the timeline (channels deliver it from there)."""
    if kind not in (EntryKind.AGENT_REPLY, EntryKind.ASSISTANT_REPLY):
        raise InvalidInput("Not a reply kind.", field="kind")
    if not text.strip():
        raise InvalidInput("The reply is empty.", field="text")
    channel = channel or conversation.last_channel or conversation.channel
    if channel not in CHANNELS:
        raise InvalidInput(f"Unknown channel '{channel}'.", field="channel")
    at = at or timezone.now()
    with transaction.atomic():
        entry = TimelineEntry.objects.create(
            workspace=workspace,
            conversation=conversation,
            kind=kind,
            channel=channel,
            author_member=member,
            text=text,
            html=html,
            delivery_status=delivery_status,
            external_id=external_id,
            occurred_at=at,
        )
        updates: dict[str, Any] = {
            "message_count": F("message_count") + 1,
            "last_activity_at": at,
            "waiting_since": None,
            "updated_at": timezone.now(),
        }
        # Bot replies do not count as the first response (KPI definition).
        if kind == EntryKind.AGENT_REPLY and conversation.first_response_at is None:
            updates["first_response_at"] = at
            conversation.first_response_at = at
        if kind == EntryKind.AGENT_REPLY and conversation.next_response_due_at is not None:
            updates["next_response_due_at"] = None
            conversation.next_response_due_at = None
        Conversation.objects.filter(pk=conversation.pk).update(**updates)
        conversation.last_activity_at = at
        conversation.waiting_since = None
        _notify_change(conversation, {"reply": entry.pk}, member)
    return entry


def add_note(
    *,
    workspace: Workspace,
    member: Member,
    conversation: Conversation,
    text: str,
    at: dt.datetime | None = None,
) -> TimelineEntry:
    if not text.strip():
        raise InvalidInput("The note is empty.", field="text")
    entry = TimelineEntry.objects.create(
        workspace=workspace,
        conversation=conversation,
        kind=EntryKind.INTERNAL_NOTE,
        author_member=member,
        text=text,
        occurred_at=at or timezone.now(),
    )
    _notify_change(conversation, {"note": entry.pk}, member)
    return entry


UPDATABLE = ("status", "priority", "owner_id", "team_id", "subject", "snoozed_until", "tags")


def update_conversation(
    *,
    workspace: Workspace,
    actor: Member | None,
    conversation: Conversation,
    changes: dict[str, Any],
    reason: str = "",
    at: dt.datetime | None = None,
) -> Conversation:
    """Change status, priority, owner, team…; each change is a timeline entry.

    ``at`` backdates the change for imports of history; live use leaves it empty.
    """
    now = at or timezone.now()
    applied: dict[str, list[Any]] = {}
    with transaction.atomic():
        conv = (
            Conversation.objects.select_for_update()
            .select_related("customer")
            .get(pk=conversation.pk)
        )
        for key, value in changes.items():
            if key not in UPDATABLE:
                raise InvalidInput(f"'{key}' cannot be changed.", field=key)
            old = getattr(conv, key)
            if key == "status":
                if value not in Status.values:
                    raise InvalidInput(f"Unknown status '{value}'.", field="status")
                if value == Status.SNOOZED and not (
                    changes.get("snoozed_until") or conv.snoozed_until
                ):
                    raise InvalidInput("Snoozing needs snoozed_until.", field="snoozed_until")
            elif key == "priority" and value not in Priority.values:
                raise InvalidInput(f"Unknown priority '{value}'.", field="priority")
            elif key == "owner_id" and value is not None:
                get_member(workspace=workspace, member_id=value)
            elif key == "team_id" and value is not None:
                get_team(workspace=workspace, team_id=value)
            if old == value:
                continue
            setattr(conv, key, value)
            applied[key] = [old, value]
        if not applied:
            return conv
        if "status" in applied:
            old, new = applied["status"]
            if new == Status.RESOLVED:
                conv.resolved_at = now
                conv.waiting_since = None
            elif new in ACTIVE_STATUSES and old in (Status.RESOLVED, Status.CLOSED):
                conv.resolved_at = None
                conv.reopen_count += 1
            if new != Status.SNOOZED:
                conv.snoozed_until = None
            sla.on_status(conv, workspace, old, new, now)
            _system_entry(
                conv, EntryKind.STATUS_CHANGE, now, member=actor, data={"from": old, "to": new}
            )
        if "priority" in applied:
            old, new = applied["priority"]
            # Targets follow the priority: re-evaluate the policy from the opening time.
            sla.start(conv, workspace, tier=conv.customer.tier, at=conv.opened_at)
            _system_entry(
                conv, EntryKind.PRIORITY_CHANGE, now, member=actor, data={"from": old, "to": new}
            )
        if "owner_id" in applied or "team_id" in applied:
            old_owner, new_owner = applied.get("owner_id", [conv.owner_id, conv.owner_id])
            # A handoff is one person passing the case to another (fewer is better),
            # and it always says why, so the customer is never passed around blindly.
            if "owner_id" in applied and old_owner is not None and new_owner is not None:
                if not reason.strip():
                    raise InvalidInput(
                        "A transfer to another owner needs a reason.", field="reason"
                    )
                conv.handoff_count += 1
            if (
                "owner_id" in applied
                and new_owner is not None
                and (actor is None or actor.pk != new_owner)
            ):
                transaction.on_commit(
                    lambda: notify(
                        member=Member.objects.get(pk=new_owner),
                        kind="assignment",
                        text=f"#{conv.number} {conv.subject} was assigned to you.",
                        link=f"/c/{conv.number}/",
                    )
                )
            _system_entry(
                conv,
                EntryKind.ASSIGNMENT,
                now,
                member=actor,
                data={
                    "owner": applied.get("owner_id"),
                    "team": applied.get("team_id"),
                    "reason": reason,
                },
                text=reason,
            )
        conv.last_activity_at = max(conv.last_activity_at, now)
        conv.save()
        _notify_change(conv, applied, actor)
    return conv


def _notify_change(conv: Conversation, changes: dict[str, Any], actor: Member | None) -> None:
    transaction.on_commit(
        lambda: conversation_changed.send(
            sender=Conversation,
            workspace_id=conv.workspace_id,
            conversation_id=conv.pk,
            changes=changes,
            actor_id=actor.pk if actor else None,
        )
    )


def merge_conversations(
    *, workspace: Workspace, actor: Member | None, keep: Conversation, other: Conversation
) -> Conversation:
    """Move ``other``'s timeline into ``keep``; ``other`` is closed and points at ``keep``."""
    if keep.pk == other.pk:
        raise InvalidInput("A conversation cannot be merged with itself.", field="other_id")
    now = timezone.now()
    with transaction.atomic():
        moved = TimelineEntry.objects.filter(workspace=workspace, conversation=other).update(
            conversation=keep
        )
        ThreadKey.objects.filter(workspace=workspace, conversation=other).update(conversation=keep)
        Conversation.objects.filter(pk=keep.pk).update(
            message_count=F("message_count") + other.message_count,
            customer_message_count=F("customer_message_count") + other.customer_message_count,
        )
        Conversation.objects.filter(pk=other.pk).update(
            status=Status.CLOSED, merged_into=keep, resolved_at=now
        )
        _system_entry(
            keep,
            EntryKind.MERGE,
            now,
            member=actor,
            data={"merged": other.number, "entries": moved},
        )
        record_audit(
            workspace=workspace,
            actor=actor,
            action="conversation.merge",
            obj=keep,
            before={"other": other.pk, "other_number": other.number},
            after={"kept": keep.pk, "entries_moved": moved},
        )
    keep.refresh_from_db()
    return keep


def add_system_entry(
    *,
    conversation: Conversation,
    kind: str,
    text: str = "",
    data: dict | None = None,
    member: Member | None = None,
    at: dt.datetime | None = None,
) -> TimelineEntry:
    """A typed entry written by another capability (an action, a survey answer…)."""
    if kind not in EntryKind.values or kind in MESSAGE_KINDS:
        raise InvalidInput(f"'{kind}' is not a system entry kind.", field="kind")
    entry = _system_entry(
        conversation, kind, at or timezone.now(), member=member, data=data, text=text
    )
    _notify_change(conversation, {"entry": entry.pk}, member)
    return entry


# --- Delivery (used by the channels' one send() path) ------------------------------


def set_delivery_status(
    *,
    workspace: Workspace,
    entry_id: int,
    status: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Show an outbound message's delivery status (queued, sent, failed…) on its entry.

    ``detail`` (attempts, last error, next try) is kept under ``data["delivery"]``
    so the timeline can say why a reply has not gone out yet.
    """
    if status not in DeliveryStatus.values:
        raise InvalidInput(f"Unknown delivery status '{status}'.", field="status")
    with transaction.atomic():
        entry = (
            TimelineEntry.objects.select_for_update()
            .filter(workspace=workspace, pk=entry_id)
            .first()
        )
        if entry is None:
            return
        entry.delivery_status = status
        fields = ["delivery_status", "updated_at"]
        if detail is not None:
            entry.data = {**(entry.data or {}), "delivery": detail}
            fields.append("data")
        entry.save(update_fields=fields)
        conv = Conversation(pk=entry.conversation_id, workspace_id=workspace.pk)
        _notify_change(conv, {"delivery": [entry.pk, status]}, None)


def add_thread_keys(*, workspace: Workspace, conversation: Conversation, keys: list[str]) -> None:
    """Tie later messages to this conversation (e.g. the Message-ID of a reply we sent)."""
    keys = [k[:400] for k in dict.fromkeys(keys) if k]
    if keys:
        ThreadKey.objects.bulk_create(
            [ThreadKey(workspace=workspace, conversation=conversation, key=k) for k in keys],
            ignore_conflicts=True,
        )


def open_conversation(
    *,
    workspace: Workspace,
    customer: Customer,
    channel: str,
    subject: str = "",
    owner: Member | None = None,
    at: dt.datetime | None = None,
) -> Conversation:
    """A new case we start (proactive outreach): the business writes first."""
    if channel not in CHANNELS:
        raise InvalidInput(f"Unknown channel '{channel}'.", field="channel")
    at = at or timezone.now()
    with transaction.atomic():
        conv = Conversation(
            workspace=workspace,
            customer=customer,
            subject=subject[:300],
            status=Status.PENDING,
            priority=Priority.NORMAL,
            owner_id=owner.pk if owner else customer.owner_id,
            channel=channel,
            last_channel=channel,
            opened_at=at,
            last_activity_at=at,
        )
        conv.number = _allocate_numbers(workspace, 1)
        conv.save(force_insert=True)
    return conv
