"""Customers, identities, events and orders over HTTP (thin: validate, call services)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Literal

from django.db import transaction
from ninja import Field, Query, Router, Schema, Status
from pydantic import field_validator, model_validator

from warmline.errors import InvalidInput
from warmline.schemas import ErrorOut

from . import services
from .models import Customer, CustomerEvent, Identity, MergeSuggestion, Order

router = Router(tags=["customers"])

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^(whatsapp:|tel:)?\+?[0-9 ()./-]{5,30}$")
IdentityKindIn = Literal["email", "phone", "chat", "social", "external"]
ERRORS = {404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def check_email(v: str | None) -> str | None:
    if v is not None and not _EMAIL.match(v.strip()):
        raise ValueError("not a valid email address")
    return v


def check_phone(v: str | None) -> str | None:
    if v is not None and (not _PHONE.match(v.strip()) or sum(c.isdigit() for c in v) < 5):
        raise ValueError("not a valid phone number")
    return v


class IdentityIn(Schema):
    kind: IdentityKindIn
    value: str = Field(min_length=1, max_length=320)

    @model_validator(mode="after")
    def _shape(self):
        if self.kind == "email":
            check_email(self.value)
        elif self.kind == "phone":
            check_phone(self.value)
        return self


class IdentityOut(Schema):
    id: int
    kind: str
    value: str
    verified: bool


class SpecialDate(Schema):
    label: str = Field(max_length=100)
    date: dt.date


class CustomerIn(Schema):
    name: str = Field("", max_length=200)
    preferred_language: str = Field("", max_length=10)
    preferred_channel: Literal["", "email", "chat", "sms", "whatsapp", "voice", "social", "api"] = (
        ""
    )
    tier: Literal["standard", "silver", "gold", "platinum"] = "standard"
    customer_since: dt.date | None = None
    preferences: dict = {}
    special_dates: list[SpecialDate] = []
    notes: str = Field("", max_length=20000)
    custom_attributes: dict = {}
    owner_id: int | None = None
    identities: list[IdentityIn] = Field(default=[], max_length=50)


class CustomerPatch(Schema):
    name: str | None = Field(None, max_length=200)
    preferred_language: str | None = Field(None, max_length=10)
    preferred_channel: (
        Literal["", "email", "chat", "sms", "whatsapp", "voice", "social", "api"] | None
    ) = None
    tier: Literal["standard", "silver", "gold", "platinum"] | None = None
    customer_since: dt.date | None = None
    preferences: dict | None = None
    special_dates: list[SpecialDate] | None = None
    notes: str | None = Field(None, max_length=20000)
    lifecycle: Literal["active", "at_risk", "churned"] | None = None
    custom_attributes: dict | None = None
    owner_id: int | None = None


class CustomerOut(Schema):
    id: int
    name: str
    preferred_language: str
    preferred_channel: str
    tier: str
    customer_since: dt.date | None
    lifetime_value: Decimal
    preferences: dict
    special_dates: list
    notes: str
    owner_id: int | None
    lifecycle: str
    custom_attributes: dict
    created_at: dt.datetime


class CustomerDetailOut(CustomerOut):
    identities: list[IdentityOut]


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_before: int | None


class MergeIn(Schema):
    other_id: int


class MergePreviewOut(Schema):
    keep_id: int
    other_id: int
    moves: dict[str, int]


class CustomerRef(Schema):
    email: str | None = None
    phone: str | None = None
    external_id: str | None = Field(None, max_length=200)
    name: str = Field("", max_length=200)

    _email = field_validator("email")(classmethod(lambda cls, v: check_email(v)))
    _phone = field_validator("phone")(classmethod(lambda cls, v: check_phone(v)))


class EventIn(Schema):
    customer_id: int | None = None
    customer: CustomerRef | None = None
    type: str = Field(min_length=1, max_length=60)
    properties: dict = {}
    value: Decimal | None = Field(None, max_digits=14, decimal_places=2)
    currency: str = Field("", max_length=3)
    occurred_at: dt.datetime | None = None
    external_id: str | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _who(self):
        if self.customer_id is None and self.customer is None:
            raise ValueError("either customer_id or customer is required")
        return self


class EventOut(Schema):
    id: int
    customer_id: int
    type: str
    properties: dict
    value: Decimal | None
    currency: str
    occurred_at: dt.datetime
    external_id: str | None


class EventsBulkIn(Schema):
    events: list[EventIn] = Field(min_length=1, max_length=1000)


class EventsBulkOut(Schema):
    created: int
    existing: int
    ids: list[int]


class OrderIn(Schema):
    customer_id: int | None = None
    customer: CustomerRef | None = None
    status: str = Field("pending", max_length=20)
    items: list[dict] = []
    total: Decimal = Field(Decimal("0"), max_digits=14, decimal_places=2)
    currency: str = Field("USD", min_length=3, max_length=3)
    payment_method: str = Field("", max_length=120)
    placed_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _who(self):
        if self.customer_id is None and self.customer is None:
            raise ValueError("either customer_id or customer is required")
        return self


class OrderOut(Schema):
    id: int
    external_id: str
    customer_id: int
    status: str
    items: list
    total: Decimal
    currency: str
    payment_method: str
    placed_at: dt.datetime | None
    delivered_at: dt.datetime | None


class SuggestionOut(Schema):
    id: int
    customer_id: int
    other_id: int
    reason: str
    status: str
    created_at: dt.datetime


def _ws(request):
    return request.member.workspace


def _detail(customer: Customer) -> dict:
    data = CustomerOut.from_orm(customer).dict()
    data["identities"] = list(
        Identity.objects.filter(customer=customer)
        .order_by("id")
        .values("id", "kind", "value", "verified")
    )
    return data


def _customer_for(request, customer_id: int | None, ref: CustomerRef | None) -> Customer:
    ws = _ws(request)
    if customer_id is not None:
        return services.get_customer(workspace=ws, customer_id=customer_id)
    claims = services.claims_from(
        ws, [("external", ref.external_id), ("email", ref.email), ("phone", ref.phone)]
    )
    if not claims:
        raise InvalidInput("customer needs an email, phone or external_id.", field="customer")
    return services.resolve_customer(workspace=ws, claims=claims, name=ref.name).customer


@router.get("/customers", response=CustomerPage)
def list_customers(
    request, q: str = "", limit: int = Query(50, ge=1, le=200), before: int | None = None
):
    qs = services.search_customers(workspace=_ws(request), query=q)
    if before is not None:
        qs = qs.filter(pk__lt=before)
    items = list(qs[:limit])
    return {"items": items, "next_before": items[-1].pk if len(items) == limit else None}


@router.post("/customers", response={201: CustomerDetailOut, **ERRORS})
def create_customer(request, payload: CustomerIn):
    ws = _ws(request)
    data = payload.dict()
    identities = [(i["kind"], i["value"]) for i in data.pop("identities")]
    owner_id = data.pop("owner_id")
    owner = None
    if owner_id is not None:
        from warmline.tenancy.services import get_member

        owner = get_member(workspace=ws, member_id=owner_id)
    data["special_dates"] = [
        {"label": d["label"], "date": d["date"].isoformat()} for d in data["special_dates"]
    ]
    customer = services.create_customer(
        workspace=ws, actor=request.member, identities=identities, owner=owner, **data
    )
    return Status(201, _detail(customer))


@router.get("/customers/{customer_id}", response={200: CustomerDetailOut, **ERRORS})
def read_customer(request, customer_id: int):
    return _detail(services.get_customer(workspace=_ws(request), customer_id=customer_id))


@router.patch("/customers/{customer_id}", response={200: CustomerDetailOut, **ERRORS})
def update_customer(request, customer_id: int, payload: CustomerPatch):
    ws = _ws(request)
    customer = services.get_customer(workspace=ws, customer_id=customer_id)
    changes = payload.dict(exclude_unset=True)
    if "special_dates" in changes and changes["special_dates"] is not None:
        changes["special_dates"] = [
            {"label": d["label"], "date": d["date"].isoformat()} for d in changes["special_dates"]
        ]
    for key in [k for k, v in changes.items() if v is None and k != "owner_id"]:
        raise InvalidInput(f"{key} cannot be null.", field=key)
    customer = services.update_customer(
        workspace=ws, actor=request.member, customer=customer, changes=changes
    )
    return _detail(customer)


@router.get("/customers/{customer_id}/merge-preview", response={200: MergePreviewOut, **ERRORS})
def merge_preview(request, customer_id: int, other_id: int):
    ws = _ws(request)
    keep = services.get_customer(workspace=ws, customer_id=customer_id)
    other = services.get_customer(workspace=ws, customer_id=other_id)
    moves = services.merge_preview(workspace=ws, keep=keep, other=other)
    return {"keep_id": keep.pk, "other_id": other.pk, "moves": moves}


@router.post("/customers/{customer_id}/merge", response={200: CustomerDetailOut, **ERRORS})
def merge_customers(request, customer_id: int, payload: MergeIn):
    ws = _ws(request)
    keep = services.get_customer(workspace=ws, customer_id=customer_id)
    other = services.get_customer(workspace=ws, customer_id=payload.other_id)
    keep = services.merge_customers(workspace=ws, actor=request.member, keep=keep, other=other)
    return _detail(keep)


@router.get("/customers/{customer_id}/identities", response={200: list[IdentityOut], **ERRORS})
def list_identities(request, customer_id: int):
    customer = services.get_customer(workspace=_ws(request), customer_id=customer_id)
    return list(Identity.objects.filter(customer=customer).order_by("id"))


@router.post("/customers/{customer_id}/identities", response={201: IdentityOut, **ERRORS})
def add_identity(request, customer_id: int, payload: IdentityIn):
    ws = _ws(request)
    customer = services.get_customer(workspace=ws, customer_id=customer_id)
    ident = services.add_identity(
        workspace=ws,
        actor=request.member,
        customer=customer,
        kind=payload.kind,
        value=payload.value,
    )
    return Status(201, ident)


@router.delete("/customers/{customer_id}/identities/{identity_id}", response={204: None, **ERRORS})
def remove_identity(request, customer_id: int, identity_id: int):
    ws = _ws(request)
    customer = services.get_customer(workspace=ws, customer_id=customer_id)
    services.remove_identity(
        workspace=ws, actor=request.member, customer=customer, identity_id=identity_id
    )
    return Status(204, None)


@router.get("/customers/{customer_id}/events", response={200: list[EventOut], **ERRORS})
def list_events(request, customer_id: int, limit: int = Query(100, ge=1, le=1000)):
    customer = services.get_customer(workspace=_ws(request), customer_id=customer_id)
    return list(
        CustomerEvent.objects.filter(customer=customer).order_by("-occurred_at", "-id")[:limit]
    )


def _event_rows(request, events: list[EventIn]) -> list[dict]:
    rows = []
    for ev in events:
        data = ev.dict()
        data["customer"] = _customer_for(request, ev.customer_id, ev.customer)
        rows.append(data)
    return rows


@router.post("/events", response={201: EventOut, 200: EventOut, **ERRORS})
def record_event(request, payload: EventIn):
    with transaction.atomic():
        rows = _event_rows(request, [payload])
        ((event, created),) = services.record_events(workspace=_ws(request), events=rows)
    return Status(201 if created else 200, event)


@router.post("/events/bulk", response={200: EventsBulkOut, **ERRORS})
def record_events_bulk(request, payload: EventsBulkIn):
    with transaction.atomic():
        rows = _event_rows(request, payload.events)
        results = services.record_events(workspace=_ws(request), events=rows)
    created = sum(1 for _, c in results if c)
    return {
        "created": created,
        "existing": len(results) - created,
        "ids": [e.pk for e, _ in results],
    }


@router.get("/orders", response={200: list[OrderOut], **ERRORS})
def list_orders(request, customer_id: int | None = None, limit: int = Query(100, ge=1, le=1000)):
    qs = Order.objects.filter(workspace=_ws(request))
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return list(qs.order_by("-placed_at", "-id")[:limit])


@router.get("/orders/{external_id}", response={200: OrderOut, **ERRORS})
def read_order(request, external_id: str):
    order = Order.objects.filter(workspace=_ws(request), external_id=external_id).first()
    if order is None:
        from warmline.errors import NotFound

        raise NotFound("No such order.")
    return order


@router.put("/orders/{external_id}", response={200: OrderOut, 201: OrderOut, **ERRORS})
def upsert_order(request, external_id: str, payload: OrderIn):
    data = payload.dict()
    with transaction.atomic():
        customer = _customer_for(request, data.pop("customer_id"), payload.customer)
        data.pop("customer")
        order, created = services.upsert_order(
            workspace=_ws(request), customer=customer, external_id=external_id, **data
        )
    return Status(201 if created else 200, order)


@router.get("/merge-suggestions", response=list[SuggestionOut])
def list_suggestions(request, status: str = "open"):
    return list(
        MergeSuggestion.objects.filter(workspace=_ws(request), status=status).order_by("-id")[:200]
    )
