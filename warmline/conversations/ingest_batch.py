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
from warmline.db import bulk, rows
from warmline.empathy.services import Prepared, redact_inbound, redact_subject
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
    items = _prepare(workspace, messages, outcomes)
    fallback: list[_Item] = []
    try:
        _store_batch(workspace, [i for i in items if i.duplicate_of is None], fallback)
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


def _prepare(workspace: Workspace, messages: list[InboundMessage], outcomes: list) -> list[_Item]:
    """Validate, redact and identify each message; retries are answered in ``outcomes``."""
    items: list[_Item] = []
    subjects: dict[str, str] = {}  # imports repeat subjects: redact each once
    for i, message in enumerate(messages):
        try:
            services._validate(message)
            if message.subject and workspace.redact_pii:
                subject = subjects.get(message.subject)
                if subject is None:
                    subject = subjects[message.subject] = redact_subject(message.subject)
                if subject != message.subject:
                    message = replace(message, subject=subject)
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
    return items


def _drop_known(workspace: Workspace, items: list[_Item], outcomes: list) -> list[_Item]:
    """Answer retries from the database and mark repeats inside the batch."""
    by_channel: dict[str, set[str]] = defaultdict(set)
    for i in items:
        if i.message.external_id:
            by_channel[i.message.channel].add(i.message.external_id)
    known: dict[tuple[str, str], tuple[int, int, int]] = {}
    for channel, id_set in by_channel.items():
        for ex, pk, conv_id, cust_id in _select_in(
            _KNOWN, sorted(id_set), before=[workspace.pk, channel]
        ):
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


def _select_in(head: str, values: list, tail: str = "", before=(), after=()) -> list[tuple]:
    """Rows of ``head (values…) tail``, one ``IN`` list of at most CHUNK values a query.

    ``head`` and ``tail`` are fixed SQL text of this module; values are parameters.
    """
    out: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            cursor.execute(
                head + "(" + ", ".join(["%s"] * len(chunk)) + ")" + tail,
                [*before, *chunk, *after],
            )
            out.extend(cursor.fetchall())
    return out


# Filtered on the channel too: the unique index is (workspace, channel, external_id),
# and without the channel the lookup scans the workspace's whole timeline (0.9 s per
# 500 ids on a 1M-entry database).
_KNOWN = (
    'SELECT e."external_id", e."id", e."conversation_id", c."customer_id" '
    'FROM "conversations_timelineentry" e JOIN "conversations_conversation" c '
    'ON c."id" = e."conversation_id" WHERE e."workspace_id" = %s AND e."channel" = %s '
    'AND e."external_id" IN '
)
_CONVERSATION = 'FROM "conversations_conversation" WHERE "workspace_id" = %s AND '
# What a change to a case touches: every write path sets one of these (save() and
# the batch stamp updated_at; QuerySet.update() callers change status, counts,
# activity, merge or customer). Read as text: no datetime parsing under the lock.
_VERSION = (
    'SELECT "id", "customer_id", "status", "message_count", "merged_into_id", '
    'CAST("updated_at" AS TEXT), CAST("last_activity_at" AS TEXT), '
    'CAST("resolved_at" AS TEXT), CAST("snoozed_until" AS TEXT) '
)
_CUSTOMER = (
    'SELECT "id", "workspace_id", "name", "owner_id", "tier" FROM "customers_customer" '
    'WHERE "workspace_id" = %s AND "id" IN '
)
_THREAD_KEY = (
    'SELECT "key", "conversation_id" FROM "conversations_threadkey" '
    'WHERE "workspace_id" = %s AND "key" IN '
)
_IDENTITY = (
    'SELECT "kind", "value", "customer_id" FROM "customers_identity" '
    'WHERE "workspace_id" = %s AND "kind" = %s AND "value" IN '
)


class _Plan:
    """What a batch will write, worked out from reads made *before* the write lock.

    SQLite has one writer: whatever a batch does under the lock, every other writer
    waits for. So the reads (identities, customers, candidate cases, thread keys), the
    threading decisions and the new rows are made first, with no lock; under the lock
    the same reads are repeated on their raw rows (a few milliseconds), and only the
    items whose inputs changed meanwhile are planned again, there. Everything else is
    only written. Items are tied together (a customer, an identity, a case, a thread
    key they share) into groups, and a changed input re-plans its whole group, so no
    written row rests on a stale read.
    """

    def __init__(self, workspace: Workspace, fallback: list[_Item]) -> None:
        self.workspace = workspace
        self.fallback = fallback
        self.parent: dict[object, object] = {}  # union-find over the tokens items share
        self.items: list[_Item] = []
        self.token_of: dict[int, object] = {}  # id(item) -> its customer token
        self.new_customers: list[tuple[object, Customer]] = []
        self.new_identities: list[tuple[object, Identity]] = []
        self.name_fills: list[tuple[object, Customer]] = []
        self.new_convs: list[tuple[object, Conversation]] = []
        self.updated: dict[int, tuple[object, Conversation]] = {}
        self.touched: dict[int, set[str]] = defaultdict(set)
        self.extra_entries: list[tuple[object, TimelineEntry]] = []  # reopen notes
        self.key_rows: list[tuple[object, Conversation, str]] = []
        # The inputs, as read: checked again under the lock (``stale``).
        self.owners_seen: dict[tuple[str, str], int | None] = {}
        self.customers_seen: dict[int, tuple] = {}
        self.convs_seen: dict[int, set[tuple]] = {}
        self.since = None
        self.keys_seen: dict[str, int | None] = {}
        self.wanted_seen: dict[int, tuple | None] = {}

    # -- groups -------------------------------------------------------------------

    def _find(self, token: object) -> object:
        parent = self.parent
        root = parent.setdefault(token, token)
        while root != parent[root]:
            root = parent[root]
        while token != root:  # path compression
            parent[token], token = root, parent[token]
        return root

    def _join(self, a: object, b: object) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self.parent[ra] = rb

    # -- reading and deciding (no lock) ---------------------------------------------

    def make(self, items: list[_Item]) -> _Plan:
        items = self._resolve_customers(items)
        if items:
            self._thread(items)
        self._prepare_rows()
        return self

    def _prepare_rows(self) -> None:
        """Every row as parameters, before the lock; under it only new keys are patched in."""
        self.p_customers = bulk.prepare_insert(Customer, [c for _, c in self.new_customers])
        self.p_identities = bulk.prepare_insert(Identity, [i for _, i in self.new_identities])
        self.p_convs = bulk.prepare_insert(Conversation, [c for _, c in self.new_convs])
        updated = list(self.updated.values())
        now = timezone.now()
        for _, c in updated:
            c.updated_at = now
        # One statement per set of fields touched: SQLite rewrites the entries of every
        # index on a column named in SET, changed or not (status alone is in five).
        groups: dict[tuple[str, ...], list[tuple[object, Conversation]]] = defaultdict(list)
        for token, c in updated:
            groups[tuple(sorted(self.touched[id(c)] | {"updated_at"}))].append((token, c))
        self.p_updates = [
            (pairs, bulk.prepare_update(Conversation, [c for _, c in pairs], fields))
            for fields, pairs in groups.items()
        ]
        self.entries = [(self.token_of[id(i)], i.entry) for i in self.items] + self.extra_entries
        self.p_entries = bulk.prepare_insert(TimelineEntry, [e for _, e in self.entries])

    def _resolve_customers(self, items: list[_Item]) -> list[_Item]:
        """Customers for every item; items whose identities name two customers go to fallback."""
        ws = self.workspace
        self.owners_seen = self._owners({(c.kind, c.value) for i in items for c in i.claims})
        owner: dict[tuple[str, str], object] = {
            k: v for k, v in self.owners_seen.items() if v is not None
        }
        resolved: list[tuple[_Item, object]] = []
        placeholder: dict[object, Customer] = {}
        for item in items:
            found = {owner[(c.kind, c.value)] for c in item.claims if (c.kind, c.value) in owner}
            if len(found) > 1:
                self.fallback.append(item)
                continue
            if found:
                known = found.pop()  # a customer's key, or the token of one new in this batch
                token = known if isinstance(known, tuple) else ("cust", known)
            else:
                customer = rows.new(
                    Customer,
                    workspace_id=ws.pk,
                    name=item.message.sender.name[:200],
                    preferred_language=item.message.language,
                    preferred_channel=item.message.channel
                    if item.message.channel in CHANNELS
                    else "",
                    customer_since=item.at.date(),
                )
                token = ("new", id(customer))
                placeholder[token] = customer
                self.new_customers.append((token, customer))
            for c in item.claims:
                self._join(("claim", c.kind, c.value), token)
                if (c.kind, c.value) not in owner:
                    owner[(c.kind, c.value)] = token[1] if token[0] == "cust" else token
                    self.new_identities.append(
                        (
                            token,
                            rows.new(Identity, workspace_id=ws.pk, kind=c.kind, value=c.value),
                        )
                    )
            resolved.append((item, token))
        self.customers_seen = self._customers(sorted({t[1] for _, t in resolved if t[0] == "cust"}))
        names = ("id", "workspace_id", "name", "owner_id", "tier")
        existing: dict[int, Customer] = {
            # The other columns stay deferred, as with .only(): read on access.
            pk: rows.loaded(Customer, names, values, "default")
            for pk, values in self.customers_seen.items()
        }
        # An identity's customer is set once that customer has a key (see ``write``).
        for token, identity in self.new_identities:
            if token[0] == "cust":
                identity.customer_id = token[1]
            else:
                identity.customer = placeholder[token]
        out = []
        for item, token in resolved:
            customer = existing.get(token[1]) if token[0] == "cust" else placeholder[token]
            if customer is None:  # deleted since its identity was read: decide under the lock
                self.fallback.append(item)
                continue
            item.customer = customer
            self.token_of[id(item)] = token
            if not customer.name and item.message.sender.name:
                customer.name = item.message.sender.name[:200]
                if token[0] == "cust":
                    self.name_fills.append((token, customer))
            out.append(item)
        return out

    def _thread(self, items: list[_Item]) -> None:
        ws = self.workspace
        window = dt.timedelta(days=ws.reopen_window_days)
        earliest = min(i.at for i in items)
        customer_ids = sorted({i.customer.pk for i in items if i.customer.pk is not None})

        # Candidates for cross-channel continuity, per customer, newest activity first.
        by_customer: dict[object, list[Conversation]] = defaultdict(list)
        convs: dict[int, Conversation] = {}
        candidate = {*ACTIVE_STATUSES, Status.RESOLVED}
        self.since = connection.ops.adapt_datetimefield_value(earliest - window)
        self.convs_seen = self._versions(customer_ids)  # first: a change after it is seen
        for raw in self._candidate_rows(customer_ids):
            # The status is checked here, not in SQL: with it in the WHERE clause SQLite
            # picks the (workspace, status, activity) index and reads every case active in
            # the window (35 ms per 1,000 messages on the bench database, growing with
            # each import) instead of seeking each customer's recent cases (2.5 ms).
            conv = rows.build(Conversation, raw)
            if conv.status not in candidate:
                continue
            convs[conv.pk] = conv
            by_customer[("cust", conv.customer_id)].append(conv)
        for lst in by_customer.values():
            # Newest activity first, as the per-message path asks (ORDER BY … DESC, id DESC).
            lst.sort(key=lambda c: (c.last_activity_at, c.pk), reverse=True)

        # Explicit hints: thread keys and conversation ids.
        keys = list({k for i in items for k in i.message.thread.keys[:50]})
        self.keys_seen = self._keys(keys)
        key_to_conv: dict[str, object] = {k: v for k, v in self.keys_seen.items() if v}
        wanted = {v for v in key_to_conv.values()} | {
            i.message.thread.conversation_id for i in items if i.message.thread.conversation_id
        }
        wanted -= set(convs)
        for conv_id in wanted:
            self.wanted_seen[conv_id] = None
        if wanted:
            for raw in self._rows_by_id(sorted(wanted)):
                conv = rows.build(Conversation, raw)
                convs[conv.pk] = conv
                self.wanted_seen[conv.pk] = tuple(raw)

        for item in items:
            msg = item.message
            token = self.token_of[id(item)]
            target = None
            if msg.thread.conversation_id:
                target = convs.get(msg.thread.conversation_id)
                self._join(("conv", msg.thread.conversation_id), token)
            if target is None:
                for k in reversed(msg.thread.keys[:50]):
                    self._join(("key", k), token)
                    ref = key_to_conv.get(k)
                    if ref is not None:
                        target = ref if isinstance(ref, Conversation) else convs.get(ref)
                        if target is not None:
                            break
            if target is None:
                target = next(
                    (
                        c
                        for c in by_customer.get(token, [])
                        if c.status in (*ACTIVE_STATUSES, Status.RESOLVED)
                        and c.last_activity_at >= item.at - window
                        and c.opened_at <= item.at
                    ),
                    None,
                )
            if target is not None and target.merged_into_id:
                self.fallback.append(item)
                continue
            if target is not None:
                # The case (and, through it, its customer's other messages) is shared.
                self._join(("case", id(target)), token)
                if target.pk is not None:
                    self._join(("conv", target.pk), token)
            conv, reopened = services.decide_thread(
                target, at=item.at, window=window, auto=msg.auto_submitted
            )
            is_new = conv is None
            if conv is None:
                conv = services.new_conversation_for(
                    ws, item.customer, msg, item.at, item.prepared.text
                )
                self.new_convs.append((token, conv))
                self._join(("case", id(conv)), token)
            fields = services.apply_customer_message(
                conv,
                channel=msg.channel,
                at=item.at,
                auto=msg.auto_submitted,
                sentiment=None,
                reopened=reopened,
            )
            if not is_new:
                self.touched[id(conv)] |= fields
                self.updated[id(conv)] = (token, conv)
            lst = by_customer[token]
            if conv in lst:
                lst.remove(conv)
            lst.insert(0, conv)
            lst.sort(key=lambda c: c.last_activity_at, reverse=True)
            for k in services.thread_keys_of(msg):
                self._join(("key", k), token)
                key_to_conv.setdefault(k, conv)
                self.key_rows.append((token, conv, k))
            if reopened:
                self.extra_entries.append((token, services.reopen_entry(conv, item.at)))
            item.conversation, item.reopened = conv, reopened
            item.entry = services.customer_entry(
                ws, conv, item.customer, msg, item.at, item.prepared
            )
            self.items.append(item)

    def _owners(self, claims: set[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
        """The customer each identity belongs to (None: unknown)."""
        found: dict[tuple[str, str], int | None] = dict.fromkeys(claims)
        by_kind: dict[str, list[str]] = defaultdict(list)
        for kind, value in sorted(claims):
            by_kind[kind].append(value)
        for kind, values in by_kind.items():
            for _kind, value, customer_id in _select_in(
                _IDENTITY, values, before=[self.workspace.pk, kind]
            ):
                found[(kind, value)] = customer_id
        return found

    def _keys(self, keys: list[str]) -> dict[str, int | None]:
        """The case each thread key points at (None: no such key)."""
        found: dict[str, int | None] = dict.fromkeys(keys)
        for key, conv_id in _select_in(_THREAD_KEY, sorted(keys), before=[self.workspace.pk]):
            found[key] = conv_id
        return found

    def _customers(self, ids: list[int]) -> dict[int, tuple]:
        """What the batch reads of known customers: (id, workspace, name, owner, tier)."""
        return {r[0]: tuple(r) for r in _select_in(_CUSTOMER, ids, before=[self.workspace.pk])}

    def _candidate_rows(self, customer_ids: list[int]) -> list[tuple]:
        return _select_in(
            f"SELECT {rows.columns(Conversation)} {_CONVERSATION}" + '"customer_id" IN ',
            customer_ids,
            ' AND "last_activity_at" >= %s',
            before=[self.workspace.pk],
            after=[self.since],
        )

    def _versions(self, customer_ids: list[int]) -> dict[int, set[tuple]]:
        """Per customer, the version of each case in the window (compared in ``stale``)."""
        out: dict[int, set[tuple]] = {c: set() for c in customer_ids}
        for row in _select_in(
            _VERSION + _CONVERSATION + '"customer_id" IN ',
            customer_ids,
            ' AND "last_activity_at" >= %s',
            before=[self.workspace.pk],
            after=[self.since],
        ):
            out[row[1]].add(tuple(row))
        return out

    def _rows_by_id(self, ids: list[int]) -> list[tuple]:
        return _select_in(
            f"SELECT {rows.columns(Conversation)} {_CONVERSATION}" + '"id" IN ',
            ids,
            before=[self.workspace.pk],
        )

    # -- under the lock ---------------------------------------------------------------

    def stale(self) -> set[object]:
        """The groups whose reads no longer hold (run holding the write lock)."""
        changed: list[object] = []
        now = self._owners(set(self.owners_seen))
        changed += [("claim", *k) for k, v in now.items() if v != self.owners_seen[k]]
        fresh = self._customers(sorted(self.customers_seen))
        changed += [("cust", c) for c, v in self.customers_seen.items() if fresh.get(c) != v]
        if self.convs_seen:
            now_convs = self._versions(sorted(self.convs_seen))
            for c, seen in self.convs_seen.items():
                if now_convs[c] != seen:
                    # The customer's items, and any item threaded into one of the
                    # changed cases by a hint.
                    changed.append(("cust", c))
                    changed += [("conv", raw[0]) for raw in seen ^ now_convs[c]]
        if self.keys_seen:
            now_keys = self._keys(list(self.keys_seen))
            changed += [("key", k) for k, v in now_keys.items() if v != self.keys_seen[k]]
        if self.wanted_seen:
            now_rows: dict[int, tuple | None] = dict.fromkeys(self.wanted_seen)
            for raw in self._rows_by_id(sorted(self.wanted_seen)):
                now_rows[raw[0]] = tuple(raw)
            changed += [("conv", c) for c, v in now_rows.items() if v != self.wanted_seen[c]]
        return {self._find(t) for t in changed if t in self.parent}

    def write(self, skip: set[object] = frozenset()) -> tuple[list[_Item], list[_Item]]:
        """Write every group not in ``skip``; returns (written items, skipped items)."""

        def mask(pairs: list) -> list[bool]:
            return [not skip or self._find(p[0]) not in skip for p in pairs]

        ws = self.workspace
        bulk.insert_prepared(self.p_customers, mask(self.new_customers))
        bulk.insert_prepared(self.p_identities, mask(self.new_identities))
        for keep, (_t, customer) in zip(mask(self.name_fills), self.name_fills, strict=True):
            if keep:
                Customer.objects.filter(pk=customer.pk).update(name=customer.name)
        conv_mask = mask(self.new_convs)
        if any(conv_mask):
            number = services._allocate_numbers(ws, sum(conv_mask))
            numbers = []
            for keep in conv_mask:
                numbers.append(number if keep else None)
                number += keep
            self.p_convs.set("number", numbers)
            bulk.insert_prepared(self.p_convs, conv_mask)
        for pairs, (sql, params) in self.p_updates:
            keep = mask(pairs)
            bulk.update_prepared(
                Conversation, sql, [p for p, k in zip(params, keep, strict=True) if k]
            )
        bulk.insert_prepared(self.p_entries, mask(self.entries))
        key_rows = [
            (c, k)
            for keep, (_t, c, k) in zip(mask(self.key_rows), self.key_rows, strict=True)
            if keep
        ]
        if key_rows:
            ThreadKey.objects.bulk_create(
                [ThreadKey(workspace=ws, conversation=c, key=k) for c, k in key_rows],
                batch_size=CHUNK,
                ignore_conflicts=True,
            )
        written, skipped = [], []
        for item in self.items:
            if not skip or self._find(self.token_of[id(item)]) not in skip:
                written.append(item)
            else:  # planned again, from fresh reads
                item.customer = item.conversation = item.entry = None
                item.reopened = False
                skipped.append(item)
        return written, skipped


def _store_batch(
    workspace: Workspace, items: list[_Item], fallback: list[_Item]
) -> list[TimelineEntry]:
    """Plan without the lock, then check and write under it (see ``_Plan``).

    Call outside any transaction: the plan's reads must not hold the write lock.
    """
    return _write(_Plan(workspace, fallback).make(items))


def _write(plan: _Plan) -> list[TimelineEntry]:
    workspace, fallback = plan.workspace, plan.fallback
    with transaction.atomic():  # the write lock, on SQLite
        # Where rows lock (PostgreSQL), the batch's customers are held from here on, as
        # the per-message path holds its one: nobody threads for them until we commit.
        services.lock_customers(list(plan.customers_seen))
        written, skipped = plan.write(plan.stale())
        plans = [plan]
        if skipped and connection.features.has_select_for_update:
            # Their inputs changed, and a new plan could read customers not held here:
            # the per-message path takes each, with its own lock, after this commit.
            fallback.extend(skipped)
        elif skipped:
            plans.append(_Plan(workspace, fallback).make(skipped))
            written += plans[-1].write()[0]
        entry_ids = [i.entry.pk for i in written]
        new_cases = sorted({c.pk for p in plans for _, c in p.new_convs if c.pk is not None})
        if entry_ids:
            transaction.on_commit(lambda: _after_commit(workspace, entry_ids, new_cases))
    return [i.entry for i in written]


def _after_commit(workspace: Workspace, entry_ids: list[int], new_cases: list[int]) -> None:
    from .tasks import analyse_entries

    analyse_entries(workspace.pk, entry_ids, new_cases)
