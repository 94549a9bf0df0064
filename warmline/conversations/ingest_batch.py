"""Set-based ingest for imports and bulk API calls.

The same rules as ``services.ingest`` (identity resolution, threading, idempotency),
applied to a whole batch with a handful of queries instead of a handful per
message. Empathy analysis is deferred to the worker (``tasks.analyse_entries``);
redaction is not: secrets never reach the database on either path.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, replace

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from warmline.customers.models import CHANNELS, Customer, Identity
from warmline.customers.services import IdentityClaim, claims_from
from warmline.db import rows
from warmline.db.bulk import insert_rows, update_rows
from warmline.empathy.services import Prepared, redact_inbound
from warmline.errors import DomainError, InvalidInput
from warmline.tenancy.models import Workspace

from . import services
from .html import clean_html
from .inbound import InboundMessage
from .models import ACTIVE_STATUSES, Conversation, Status, ThreadKey, TimelineEntry

CHUNK = 500

_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = True
_GC_BACKLOG = 5_000_000  # container objects allocated with the collector off (tens of batches)


@contextmanager
def no_gc():
    """No cyclic garbage collection while a batch is handled.

    A 1,000-message batch allocates a few hundred thousand objects, which starts the
    collector dozens of times, each pass walking the whole heap of a warm server:
    about 110 ms per batch (a fifth of its CPU). Nothing a batch builds needs the
    cycle collector to be freed in time; it runs again when the last batch in the
    process is done (threads share the switch, hence the count).
    """
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        _gc_holders += 1
        if _gc_holders == 1:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()
            elif _gc_was_enabled and gc.get_count()[0] > _GC_BACKLOG:
                # Batches overlapping without end would otherwise never collect.
                gc.collect()


@dataclass
class Outcome:
    entry_id: int
    conversation_id: int
    customer_id: int
    created: bool


@dataclass
class _Item:
    index: int
    message: InboundMessage
    claims: list[IdentityClaim]
    at: dt.datetime
    prepared: Prepared | None = None
    customer: Customer | None = None
    conversation: Conversation | None = None
    reopened: bool = False
    entry: TimelineEntry | None = None
    duplicate_of: int | None = None  # index of an earlier item in the batch


def ingest_many(
    *, workspace: Workspace, messages: list[InboundMessage]
) -> list[Outcome | DomainError]:
    """Ingest a batch; each position gets an Outcome or the error for that message."""
    outcomes: list[Outcome | DomainError | None] = [None] * len(messages)
    items: list[_Item] = []
    subjects: dict[str, InboundMessage] = {}  # imports repeat subjects: redact each once
    for i, message in enumerate(messages):
        try:
            services._validate(message)
            if message.subject and workspace.redact_pii:
                done = subjects.get(message.subject)
                if done is None:
                    done = subjects[message.subject] = services.with_redacted_subject(
                        workspace, message
                    )
                if done.subject != message.subject:
                    message = replace(message, subject=done.subject)
            claims = claims_from(workspace, message.sender.identities())
            if not claims:
                raise InvalidInput("The sender has no identity.", field="from")
        except DomainError as exc:
            outcomes[i] = exc
            continue
        items.append(_Item(i, message, claims, services._message_time(message)))

    items = _drop_known(workspace, items, outcomes)
    for item in items:
        if item.duplicate_of is None:
            text, html, redactions = redact_inbound(
                text=item.message.text or "",
                html=clean_html(item.message.html or ""),
                redact=workspace.redact_pii,
            )
            item.prepared = Prepared(text=text, html=html, redactions=redactions)

    fallback: list[_Item] = []
    try:
        with transaction.atomic():
            created = _store_batch(
                workspace, [i for i in items if i.duplicate_of is None], fallback
            )
            entry_ids = [e.pk for e in created]
            if entry_ids:
                transaction.on_commit(lambda: _after_commit(workspace, entry_ids))
    except IntegrityError:
        # Something raced us (a concurrent delivery of the same message or identity):
        # the per-message path resolves each case exactly.
        fallback = [i for i in items if i.duplicate_of is None]
        for i in fallback:
            i.entry = None

    for item in fallback:
        try:
            result = services.ingest(workspace=workspace, message=item.message)
        except DomainError as exc:
            outcomes[item.index] = exc
            continue
        outcomes[item.index] = Outcome(
            result.entry.pk, result.conversation.pk, result.customer.pk, result.created
        )
    by_index = {i.index: i for i in items}
    for item in items:
        if item.entry is not None and outcomes[item.index] is None:
            outcomes[item.index] = Outcome(
                item.entry.pk, item.entry.conversation_id, item.customer.pk, True
            )
    for item in items:
        if item.duplicate_of is not None:
            first = outcomes[by_index[item.duplicate_of].index]
            if isinstance(first, Outcome):
                outcomes[item.index] = Outcome(
                    first.entry_id, first.conversation_id, first.customer_id, False
                )
            else:
                outcomes[item.index] = first
    return outcomes  # type: ignore[return-value]


def _drop_known(workspace: Workspace, items: list[_Item], outcomes: list) -> list[_Item]:
    """Answer retries from the database and mark repeats inside the batch."""
    by_channel: dict[str, set[str]] = defaultdict(set)
    for i in items:
        if i.message.external_id:
            by_channel[i.message.channel].add(i.message.external_id)
    known: dict[tuple[str, str], tuple[int, int, int]] = {}
    for channel, id_set in by_channel.items():
        ids = sorted(id_set)
        for start in range(0, len(ids), CHUNK):
            # Filter on the channel too: the unique index is (workspace, channel,
            # external_id), and without the channel the lookup scans the workspace's
            # whole timeline (0.9 s per chunk on a 1M-entry database).
            chunk = ids[start : start + CHUNK]
            with connection.cursor() as cursor:
                cursor.execute(
                    'SELECT e."external_id", e."id", e."conversation_id", c."customer_id" '
                    'FROM "conversations_timelineentry" e JOIN "conversations_conversation" c '
                    'ON c."id" = e."conversation_id" WHERE e."workspace_id" = %s '
                    'AND e."channel" = %s AND e."external_id" IN ('
                    + ", ".join(["%s"] * len(chunk))
                    + ")",
                    [workspace.pk, channel, *chunk],
                )
                for ex, pk, conv_id, cust_id in cursor.fetchall():
                    known[(channel, ex)] = (pk, conv_id, cust_id)
    first_seen: dict[tuple[str, str], int] = {}
    kept = []
    for item in items:
        key = (item.message.channel, item.message.external_id)
        if item.message.external_id:
            if key in known:
                pk, conv_id, cust_id = known[key]
                outcomes[item.index] = Outcome(pk, conv_id, cust_id, False)
                continue
            if key in first_seen:
                item.duplicate_of = first_seen[key]
            else:
                first_seen[key] = item.index
        kept.append(item)
    return kept


def _claims_by_kind(claims: list[IdentityClaim]) -> list[tuple[str, list[str]]]:
    """(kind, up to CHUNK distinct values) groups, for lookups on the identity index."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for c in claims:
        by_kind[c.kind].append(c.value)
    out = []
    for kind, values in by_kind.items():
        values = list(set(values))
        for start in range(0, len(values), CHUNK):
            out.append((kind, values[start : start + CHUNK]))
    return out


def _resolve_customers(
    workspace: Workspace, items: list[_Item], fallback: list[_Item]
) -> list[_Item]:
    """Customers for every item; items whose identities name two customers go to fallback."""
    owner: dict[tuple[str, str], object] = {}
    for kind, values in _claims_by_kind([c for i in items for c in i.claims]):
        for _kind, value, cust_id in rows.values(
            Identity,
            ("kind", "value", "customer_id"),
            '"workspace_id" = %s AND "kind" = %s AND "value" IN ('
            + ", ".join(["%s"] * len(values))
            + ")",
            [workspace.pk, kind, *values],
        ):
            owner[(kind, value)] = cust_id
    new_customers: list[Customer] = []
    new_identities: list[tuple[object, IdentityClaim]] = []
    placeholder_of: dict[int, Customer] = {}
    resolved: list[tuple[_Item, object]] = []
    for item in items:
        found = {owner[(c.kind, c.value)] for c in item.claims if (c.kind, c.value) in owner}
        if len(found) > 1:
            fallback.append(item)
            continue
        if found:
            key = found.pop()
        else:
            customer = rows.new(
                Customer,
                workspace_id=workspace.pk,
                name=item.message.sender.name[:200],
                preferred_language=item.message.language,
                preferred_channel=item.message.channel if item.message.channel in CHANNELS else "",
                customer_since=item.at.date(),
            )
            new_customers.append(customer)
            key = ("new", len(new_customers) - 1)
            placeholder_of[len(new_customers) - 1] = customer
        for c in item.claims:
            if (c.kind, c.value) not in owner:
                owner[(c.kind, c.value)] = key
                new_identities.append((key, c))
        resolved.append((item, key))
    insert_rows(Customer, new_customers)
    existing_ids = {k for _, k in resolved if not isinstance(k, tuple)}
    # Only what the batch reads from a known customer (the name it may fill in, the
    # advocate new cases go to); the other columns cost converters and are never read.
    existing: dict[int, Customer] = {}
    names = ("id", "workspace_id", "name", "owner_id", "tier")
    ids = sorted(existing_ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for values in rows.values(
            Customer,
            names,
            '"workspace_id" = %s AND "id" IN (' + ", ".join(["%s"] * len(chunk)) + ")",
            [workspace.pk, *chunk],
        ):
            # The other columns stay deferred, as with .only(): read on access.
            existing[values[0]] = rows.loaded(Customer, names, values, "default")

    def customer_for(key) -> Customer:
        return placeholder_of[key[1]] if isinstance(key, tuple) else existing[key]

    insert_rows(
        Identity,
        [
            rows.new(
                Identity,
                workspace_id=workspace.pk,
                customer_id=customer_for(k).pk,
                kind=c.kind,
                value=c.value,
            )
            for k, c in new_identities
        ],
    )
    out = []
    for item, key in resolved:
        item.customer = customer_for(key)
        if not item.customer.name and item.message.sender.name:
            item.customer.name = item.message.sender.name[:200]
            Customer.objects.filter(pk=item.customer.pk).update(name=item.customer.name)
        out.append(item)
    return out


def _store_batch(
    workspace: Workspace, items: list[_Item], fallback: list[_Item]
) -> list[TimelineEntry]:
    items = _resolve_customers(workspace, items, fallback)
    if not items:
        return []
    window = dt.timedelta(days=workspace.reopen_window_days)
    earliest = min(i.at for i in items)
    customer_ids = {i.customer.pk for i in items}

    # Candidates for cross-channel continuity, per customer, newest activity first.
    by_customer: dict[int, list[Conversation]] = defaultdict(list)
    convs: dict[int, Conversation] = {}
    ids = list(customer_ids)
    candidate = {*ACTIVE_STATUSES, Status.RESOLVED}
    since = connection.ops.adapt_datetimefield_value(earliest - window)
    for start in range(0, len(ids), CHUNK):
        # The status is checked here, not in SQL: with it in the WHERE clause SQLite
        # picks the (workspace, status, activity) index and reads every case active in
        # the window (35 ms per 1,000 messages on the bench database, growing with
        # each import) instead of seeking each customer's recent cases (2.5 ms).
        # Raw SQL and rows.fetch: the ORM's compiler and Model.__init__ cost twice the query.
        chunk = ids[start : start + CHUNK]
        for conv in rows.fetch(
            Conversation,
            '"workspace_id" = %s AND "customer_id" IN ('
            + ", ".join(["%s"] * len(chunk))
            + ') AND "last_activity_at" >= %s',
            [workspace.pk, *chunk, since],
        ):
            if conv.status not in candidate:
                continue
            convs[conv.pk] = conv
            by_customer[conv.customer_id].append(conv)

    for lst in by_customer.values():
        # Newest activity first, as the per-message path asks (ORDER BY … DESC, id DESC).
        lst.sort(key=lambda c: (c.last_activity_at, c.pk), reverse=True)

    # Explicit hints: thread keys and conversation ids.
    keys = list({k for i in items for k in i.message.thread.keys[:50]})
    key_to_conv: dict[str, object] = {}
    for start in range(0, len(keys), CHUNK):
        for key, conv_id in ThreadKey.objects.filter(
            workspace=workspace, key__in=keys[start : start + CHUNK]
        ).values_list("key", "conversation_id"):
            key_to_conv[key] = conv_id
    wanted = {v for v in key_to_conv.values()} | {
        i.message.thread.conversation_id for i in items if i.message.thread.conversation_id
    }
    wanted -= set(convs)
    if wanted:
        for conv in Conversation.objects.filter(workspace=workspace, pk__in=wanted):
            convs[conv.pk] = conv

    new_convs: list[Conversation] = []
    touched: dict[int, set[str]] = defaultdict(set)
    reopen_entries: list[tuple[Conversation, dt.datetime]] = []
    key_rows: list[tuple[Conversation, str]] = []
    stored: list[_Item] = []
    for item in items:
        msg = item.message
        target = None
        if msg.thread.conversation_id:
            target = convs.get(msg.thread.conversation_id)
        if target is None:
            for k in reversed(msg.thread.keys[:50]):
                ref = key_to_conv.get(k)
                if ref is not None:
                    target = ref if isinstance(ref, Conversation) else convs.get(ref)
                    if target is not None:
                        break
        if target is None:
            target = next(
                (
                    c
                    for c in by_customer.get(item.customer.pk, [])
                    if c.status in (*ACTIVE_STATUSES, Status.RESOLVED)
                    and c.last_activity_at >= item.at - window
                    and c.opened_at <= item.at
                ),
                None,
            )
        if target is not None and target.merged_into_id:
            fallback.append(item)
            continue
        conv, reopened = services.decide_thread(
            target, at=item.at, window=window, auto=msg.auto_submitted
        )
        is_new = conv is None
        if conv is None:
            conv = services.new_conversation_for(
                workspace, item.customer, msg, item.at, item.prepared.text
            )
            new_convs.append(conv)
        fields = services.apply_customer_message(
            conv,
            channel=msg.channel,
            at=item.at,
            auto=msg.auto_submitted,
            sentiment=None,
            reopened=reopened,
        )
        if not is_new:
            touched[id(conv)] |= fields
        lst = by_customer[item.customer.pk]
        if conv in lst:
            lst.remove(conv)
        lst.insert(0, conv)
        lst.sort(key=lambda c: c.last_activity_at, reverse=True)
        for k in services.thread_keys_of(msg):
            key_to_conv.setdefault(k, conv)
            key_rows.append((conv, k))
        if reopened:
            reopen_entries.append((conv, item.at))
        item.conversation, item.reopened = conv, reopened
        stored.append(item)

    if new_convs:
        first = services._allocate_numbers(workspace, len(new_convs))
        for n, conv in enumerate(new_convs):
            conv.number = first + n
        insert_rows(Conversation, new_convs)
    updated = [c for c in convs.values() if id(c) in touched]
    if updated:
        fields = sorted(set().union(*(touched[id(c)] for c in updated)) | {"updated_at"})
        now = timezone.now()
        for c in updated:
            c.updated_at = now
        update_rows(Conversation, updated, fields)

    entries = []
    for item in stored:
        item.entry = services.customer_entry(
            workspace, item.conversation, item.customer, item.message, item.at, item.prepared
        )
        entries.append(item.entry)
    entries += [services.reopen_entry(conv, at) for conv, at in reopen_entries]
    insert_rows(TimelineEntry, entries)
    if key_rows:
        ThreadKey.objects.bulk_create(
            [ThreadKey(workspace=workspace, conversation=c, key=k) for c, k in key_rows],
            batch_size=CHUNK,
            ignore_conflicts=True,
        )
    return [i.entry for i in stored]


def _after_commit(workspace: Workspace, entry_ids: list[int]) -> None:
    from .tasks import analyse_entries

    analyse_entries(workspace.pk, entry_ids)
