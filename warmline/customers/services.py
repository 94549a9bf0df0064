"""Customer use cases: identity resolution, profile changes, merge, orders, events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from warmline.db import rows
from warmline.errors import InvalidInput, NotFound
from warmline.tenancy.models import Member, Workspace
from warmline.tenancy.services import record_audit

from .identities import STRENGTH, normalise
from .models import (
    CHANNELS,
    Customer,
    CustomerEvent,
    Identity,
    IdentityKind,
    MergeSuggestion,
    Order,
    OrderStatus,
)

PROFILE_FIELDS = (
    "name",
    "preferred_language",
    "preferred_channel",
    "tier",
    "customer_since",
    "preferences",
    "special_dates",
    "notes",
    "lifecycle",
    "custom_attributes",
)


def phone_region(workspace: Workspace) -> str:
    return (workspace.settings or {}).get("phone_region", "US")


def get_customer(*, workspace: Workspace, customer_id: int) -> Customer:
    try:
        return Customer.objects.select_related("owner").get(workspace=workspace, pk=customer_id)
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such customer.", field="customer_id") from None


def search_customers(*, workspace: Workspace, query: str = "") -> QuerySet[Customer]:
    """Name, email, phone or order number: what an agent has in hand."""
    qs = Customer.objects.filter(workspace=workspace)
    query = query.strip()
    if not query:
        return qs.order_by("-id")
    ids = set()
    lowered = query.lower()
    # Names never hold an "@": an email query skips the name scan (a full-table LIKE).
    cond = Q(name__icontains=query) if "@" not in query else Q(pk__in=[])
    if "@" in query:
        # A whole address is an exact lookup on the unique index; a fragment is a prefix scan.
        whole = "." in lowered.rpartition("@")[2]
        lookup = {"value": lowered} if whole else {"value__startswith": lowered}
        ids.update(
            Identity.objects.filter(
                workspace=workspace, kind=IdentityKind.EMAIL, **lookup
            ).values_list("customer_id", flat=True)[:200]
        )
    digits = "".join(c for c in query if c.isdigit())
    if len(digits) >= 6:
        try:
            phone = normalise(IdentityKind.PHONE, query, default_region=phone_region(workspace))
            ids.update(
                Identity.objects.filter(
                    workspace=workspace, kind=IdentityKind.PHONE, value=phone
                ).values_list("customer_id", flat=True)
            )
        except InvalidInput:
            pass
    ids.update(
        Order.objects.filter(workspace=workspace, external_id__iexact=query).values_list(
            "customer_id", flat=True
        )
    )
    ids.update(
        Identity.objects.filter(
            workspace=workspace, kind__in=[IdentityKind.EXTERNAL, IdentityKind.SOCIAL], value=query
        ).values_list("customer_id", flat=True)
    )
    if ids:
        cond |= Q(pk__in=ids)
    return qs.filter(cond).order_by("-id")


@dataclass
class IdentityClaim:
    kind: str
    value: str  # already normalised


@dataclass
class Resolution:
    customer: Customer
    created: bool
    new_identities: list[Identity] = field(default_factory=list)
    suggestions: list[MergeSuggestion] = field(default_factory=list)


def claims_from(workspace: Workspace, raw: Iterable[tuple[str, str | None]]) -> list[IdentityClaim]:
    """Normalise (kind, value) pairs, dropping empties; raises InvalidInput on bad values."""
    region = phone_region(workspace)
    seen: set[tuple[str, str]] = set()
    claims = []
    for kind, value in raw:
        if value is None or str(value).strip() == "":
            continue
        norm = normalise(kind, str(value), default_region=region)
        if (kind, norm) not in seen:
            seen.add((kind, norm))
            claims.append(IdentityClaim(kind, norm))
    return claims


def resolve_customer(
    *,
    workspace: Workspace,
    claims: Sequence[IdentityClaim],
    name: str = "",
    language: str = "",
    channel: str = "",
    at: dt.datetime | None = None,
) -> Resolution:
    """Find the customer these identities belong to, creating one when none matches.

    New identities attach to the matched customer. When the identities point at
    two different customers nothing is merged silently: the strongest match wins
    and a merge suggestion is recorded for an agent. Must run inside a transaction.
    """
    if not claims:
        raise InvalidInput("The sender has no identity (email, phone, handle…).", field="from")
    for _attempt in range(3):
        result = _resolve_once(workspace, claims, name, language, channel, at)
        if result is not None:
            return result
    raise InvalidInput("Could not resolve the sender's identity; retry.", field="from")


def _resolve_once(
    workspace: Workspace,
    claims: Sequence[IdentityClaim],
    name: str,
    language: str,
    channel: str,
    at: dt.datetime | None,
) -> Resolution | None:
    found = _identities_with_customers(workspace, claims)
    by_claim = {(i.kind, i.value): i for i in found}
    customers: dict[int, Customer] = {}
    strength: dict[int, int] = {}
    for ident in found:
        customers[ident.customer_id] = ident.customer
        strength[ident.customer_id] = max(strength.get(ident.customer_id, 0), STRENGTH[ident.kind])

    created = False
    if customers:
        winner_id = max(strength, key=lambda cid: (strength[cid], -cid))
        customer = customers[winner_id]
        changed = {}
        if name and not customer.name:
            customer.name = changed["name"] = name[:200]
        if language and not customer.preferred_language:
            customer.preferred_language = changed["preferred_language"] = language
        if changed:
            Customer.objects.filter(pk=customer.pk).update(**changed)
    else:
        # rows.insert, not create(): ingest's hot path; the one post_save receiver on
        # Customer (care: churned customers) ignores created rows.
        customer = rows.insert(
            Customer(
                workspace=workspace,
                name=name[:200],
                preferred_language=language,
                preferred_channel=channel if channel in CHANNELS else "",
                customer_since=(at or timezone.now()).date(),
            )
        )
        created = True

    result = Resolution(customer=customer, created=created)
    for c in claims:
        if (c.kind, c.value) in by_claim:
            continue
        try:
            with transaction.atomic():
                ident = rows.insert(
                    Identity(workspace=workspace, customer=customer, kind=c.kind, value=c.value)
                )
            result.new_identities.append(ident)
        except IntegrityError:
            # A concurrent request claimed it between our read and our write.
            if created and not result.new_identities:
                customer.delete()  # ours is an empty duplicate: start again and find theirs
                return None
            other = Identity.objects.select_related("customer").get(
                workspace=workspace, kind=c.kind, value=c.value
            )
            if other.customer_id != customer.pk:
                customers[other.customer_id] = other.customer
    for cid, other_customer in customers.items():
        if cid == customer.pk:
            continue
        sugg, _ = MergeSuggestion.objects.get_or_create(
            workspace=workspace,
            customer=customer,
            other=other_customer,
            defaults={"reason": "One message named identities of both customers."},
        )
        result.suggestions.append(sugg)
    return result


@transaction.atomic
def create_customer(
    *,
    workspace: Workspace,
    actor: Member | None,
    identities: Sequence[tuple[str, str]] = (),
    owner: Member | None = None,
    **profile: Any,
) -> Customer:
    claims = claims_from(workspace, identities)
    if claims:
        taken = Identity.objects.filter(workspace=workspace).filter(_claims_q(claims)).first()
        if taken:
            raise InvalidInput(
                f"{taken.kind} '{taken.value}' already belongs to customer {taken.customer_id}.",
                field="identities",
            )
    data = {k: v for k, v in profile.items() if k in PROFILE_FIELDS and v is not None}
    data.setdefault("customer_since", timezone.now().date())
    customer = Customer.objects.create(workspace=workspace, owner=owner, **data)
    Identity.objects.bulk_create(
        [
            Identity(workspace=workspace, customer=customer, kind=c.kind, value=c.value)
            for c in claims
        ]
    )
    record_audit(workspace=workspace, actor=actor, action="customer.create", obj=customer)
    return customer


def _identities_with_customers(
    workspace: Workspace, claims: Sequence[IdentityClaim]
) -> list[Identity]:
    """The stored identities matching ``claims``, each with its customer loaded.

    One statement on the (workspace, kind, value) unique index, in raw SQL: it runs
    for every ingested message (see warmline.db.rows).
    """
    qn = connection.ops.quote_name
    ident, cust = Identity._meta.db_table, Customer._meta.db_table
    match = " OR ".join([f"({qn(ident)}.kind = %s AND {qn(ident)}.value = %s)"] * len(claims))
    params: list[Any] = [workspace.pk]
    for c in claims:
        params += [c.kind, c.value]
    sql = (
        f"SELECT {rows.columns(Identity)}, {rows.columns(Customer)} "  # noqa: S608
        f"FROM {qn(ident)} JOIN {qn(cust)} ON {qn(cust)}.id = {qn(ident)}.customer_id "
        f"WHERE {qn(ident)}.workspace_id = %s AND ({match})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    split = rows.width(Identity)
    out = []
    for row in found:
        identity = rows.build(Identity, row[:split])
        identity.customer = rows.build(Customer, row[split:])
        out.append(identity)
    return out


def _claims_q(claims: Sequence[IdentityClaim]) -> Q:
    cond = Q()
    for c in claims:
        cond |= Q(kind=c.kind, value=c.value)
    return cond


@transaction.atomic
def update_customer(
    *, workspace: Workspace, actor: Member | None, customer: Customer, changes: dict[str, Any]
) -> Customer:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "owner_id":
            if value is not None:
                from warmline.tenancy.services import get_member

                get_member(workspace=workspace, member_id=value)
            before[key], after[key] = customer.owner_id, value
            customer.owner_id = value
            continue
        if key not in PROFILE_FIELDS:
            raise InvalidInput(f"'{key}' cannot be changed.", field=key)
        before[key], after[key] = _jsonable(getattr(customer, key)), _jsonable(value)
        setattr(customer, key, value)
    customer.save()
    record_audit(
        workspace=workspace,
        actor=actor,
        action="customer.update",
        obj=customer,
        before=before,
        after=after,
    )
    return customer


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, Decimal)):
        return str(value)
    return value


def add_identity(
    *, workspace: Workspace, actor: Member | None, customer: Customer, kind: str, value: str
) -> Identity:
    (claim,) = claims_from(workspace, [(kind, value)])
    existing = Identity.objects.filter(
        workspace=workspace, kind=claim.kind, value=claim.value
    ).first()
    if existing:
        if existing.customer_id == customer.pk:
            return existing
        raise InvalidInput(
            f"{kind} '{claim.value}' already belongs to customer {existing.customer_id}; "
            "merge the customers instead.",
            field="value",
        )
    ident = Identity.objects.create(
        workspace=workspace, customer=customer, kind=claim.kind, value=claim.value
    )
    record_audit(
        workspace=workspace,
        actor=actor,
        action="identity.add",
        obj=customer,
        after={"kind": claim.kind, "value": claim.value},
    )
    return ident


def remove_identity(
    *, workspace: Workspace, actor: Member | None, customer: Customer, identity_id: int
) -> None:
    ident = Identity.objects.filter(workspace=workspace, customer=customer, pk=identity_id).first()
    if ident is None:
        raise NotFound("No such identity.", field="identity_id")
    record_audit(
        workspace=workspace,
        actor=actor,
        action="identity.remove",
        obj=customer,
        before={"kind": ident.kind, "value": ident.value},
    )
    ident.delete()


def merge_preview(*, workspace: Workspace, keep: Customer, other: Customer) -> dict[str, int]:
    """What a merge would move, so an agent sees it before confirming."""
    from warmline.conversations.services import count_for_customer

    return {
        "identities": Identity.objects.filter(workspace=workspace, customer=other).count(),
        "conversations": count_for_customer(workspace=workspace, customer=other),
        "events": CustomerEvent.objects.filter(workspace=workspace, customer=other).count(),
        "orders": Order.objects.filter(workspace=workspace, customer=other).count(),
    }


def merge_customers(
    *, workspace: Workspace, actor: Member | None, keep: Customer, other: Customer
) -> Customer:
    """Move everything of ``other`` onto ``keep`` and delete ``other``."""
    from warmline.conversations.services import move_customer_conversations

    if keep.pk == other.pk:
        raise InvalidInput("A customer cannot be merged with itself.", field="other_id")
    if keep.workspace_id != workspace.pk or other.workspace_id != workspace.pk:
        raise NotFound("No such customer.")
    with transaction.atomic():
        before = {
            "kept": keep.pk,
            "merged": other.pk,
            "merged_profile": {f: _jsonable(getattr(other, f)) for f in PROFILE_FIELDS},
            "merged_identities": list(
                Identity.objects.filter(customer=other).values_list("kind", "value")
            ),
        }
        moved = merge_preview(workspace=workspace, keep=keep, other=other)
        Identity.objects.filter(workspace=workspace, customer=other).update(customer=keep)
        CustomerEvent.objects.filter(workspace=workspace, customer=other).update(customer=keep)
        Order.objects.filter(workspace=workspace, customer=other).update(customer=keep)
        move_customer_conversations(workspace=workspace, source=other, target=keep)
        # Fill gaps in the kept profile from the merged one; never overwrite.
        for f in ("name", "preferred_language", "preferred_channel", "notes"):
            if not getattr(keep, f) and getattr(other, f):
                setattr(keep, f, getattr(other, f))
        if other.customer_since and (
            not keep.customer_since or other.customer_since < keep.customer_since
        ):
            keep.customer_since = other.customer_since
        keep.preferences = {**other.preferences, **keep.preferences}
        keep.custom_attributes = {**other.custom_attributes, **keep.custom_attributes}
        keep.special_dates = keep.special_dates + [
            d for d in other.special_dates if d not in keep.special_dates
        ]
        if keep.owner_id is None:
            keep.owner_id = other.owner_id
        keep.save()
        MergeSuggestion.objects.filter(workspace=workspace).filter(
            Q(customer=other) | Q(other=other)
        ).delete()
        other.delete()
        recompute_lifetime_value(customer=keep)
        record_audit(
            workspace=workspace,
            actor=actor,
            action="customer.merge",
            obj=keep,
            before=before,
            after={"kept": keep.pk, "moved": moved},
        )
    return keep


def recompute_lifetime_value(*, customer: Customer) -> Decimal:
    total = Order.objects.filter(customer=customer).exclude(
        status__in=[OrderStatus.CANCELLED]
    ).aggregate(s=Sum("total"))["s"] or Decimal("0")
    Customer.objects.filter(pk=customer.pk).update(lifetime_value=total)
    customer.lifetime_value = total
    return total


ORDER_FIELDS = (
    "status",
    "items",
    "total",
    "currency",
    "payment_method",
    "placed_at",
    "delivered_at",
)


@transaction.atomic
def upsert_order(
    *, workspace: Workspace, customer: Customer, external_id: str, **fields: Any
) -> tuple[Order, bool]:
    data = {k: v for k, v in fields.items() if k in ORDER_FIELDS and v is not None}
    order, created = Order.objects.select_for_update().get_or_create(
        workspace=workspace, external_id=external_id, defaults={"customer": customer, **data}
    )
    previous_customer_id = None
    if not created:
        if order.customer_id != customer.pk:
            previous_customer_id = order.customer_id
        order.customer = customer
        for k, v in data.items():
            setattr(order, k, v)
        order.save()
    recompute_lifetime_value(customer=customer)
    if previous_customer_id is not None:
        # The store moved the order to another customer: the first one's value shrinks.
        recompute_lifetime_value(customer=Customer(pk=previous_customer_id))
    return order, created


def get_order(*, workspace: Workspace, order_id: int) -> Order:
    try:
        return Order.objects.get(workspace=workspace, pk=order_id)
    except Order.DoesNotExist:
        raise NotFound("No such order.", field="order_id") from None


def record_events(
    *, workspace: Workspace, events: Sequence[dict[str, Any]]
) -> list[tuple[CustomerEvent, bool]]:
    """Record business events; an event with a known external id is returned, not duplicated."""
    out: list[tuple[CustomerEvent, bool]] = []
    with transaction.atomic():
        for ev in events:
            ext = ev.get("external_id")
            if ext:
                existing = CustomerEvent.objects.filter(
                    workspace=workspace, external_id=ext
                ).first()
                if existing:
                    out.append((existing, False))
                    continue
            obj = CustomerEvent.objects.create(
                workspace=workspace,
                customer=ev["customer"],
                type=ev["type"],
                properties=ev.get("properties") or {},
                value=ev.get("value"),
                currency=ev.get("currency") or "",
                occurred_at=ev.get("occurred_at") or timezone.now(),
                external_id=ext,
            )
            out.append((obj, True))
    return out


def customers_by_ids(*, workspace: Workspace, ids: Iterable[int]) -> dict[int, Customer]:
    return {c.pk: c for c in Customer.objects.filter(workspace=workspace, pk__in=set(ids))}
