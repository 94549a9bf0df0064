"""Connectors execute an action somewhere: Warmline's own store, or the business's system.

``Connector.execute(action, params) -> Outcome`` is the whole interface. ``check`` runs the
connector's preconditions without changing anything, so an impossible action (cancelling a
delivered order) is refused at once instead of waiting for a lead's approval. A connector
that is ``deferred`` (the webhook) runs in a Huey task, off the request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import httpx
from django.db.models import Sum
from django.utils import timezone

from warmline.customers.models import Customer, Order, OrderStatus
from warmline.customers.services import recompute_lifetime_value

from . import store_policy as policy
from .catalogue import (
    AddressParams,
    CancelOrderParams,
    CreditParams,
    DiscountCodeParams,
    ExchangeParams,
    FeeWaiverParams,
    FreePeriodParams,
    ModifyOrderParams,
    Params,
    RefundParams,
    ReplacementParams,
    ReturnParams,
    jsonable,
)
from .models import ActionStatus, ConnectorConfig, EmpoweredAction, StoreProduct

SUCCEEDED, REFUSED, FAILED = "succeeded", "refused", "failed"


@dataclass
class Outcome:
    """What the connector did: the result to record, or why it refused or failed."""

    status: str
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    rule: str = ""
    response_code: int | None = None
    attempts: int = 1


class Connector(Protocol):
    name: str
    deferred: bool

    def check(self, action: EmpoweredAction, params: Params) -> None: ...

    def execute(self, action: EmpoweredAction, params: Params) -> Outcome: ...


def money(value: Any) -> Decimal:
    """A stored amount (JSON string or number) as an exact decimal."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value if value not in (None, "") else "0"))


# Actions whose amount goes back to the customer against the order they name.
REFUNDING = ("refund", "cancel_order", "return_items", "modify_order", "exchange_items")
COUNTED = (ActionStatus.EXECUTED, ActionStatus.QUEUED)


def refunded_so_far(order: Order, *, besides: int | None = None) -> Decimal:
    """What the action ledger has already given back on this order (``besides``: not counting
    the action being executed, which is saved before its connector runs)."""
    qs = EmpoweredAction.objects.filter(
        workspace_id=order.workspace_id, order=order, code__in=REFUNDING, status__in=COUNTED
    )
    if besides is not None:
        qs = qs.exclude(pk=besides)
    total = qs.aggregate(s=Sum("amount"))["s"]
    return total or Decimal("0")


@dataclass
class OrderFacts:
    """An order as the catalogue's money rules and the store policy see it."""

    order: Order
    refundable: Decimal

    @property
    def items(self) -> list[dict[str, Any]]:
        return list(self.order.items or [])

    @classmethod
    def of(cls, order: Order, *, besides: int | None = None) -> OrderFacts:
        refunded = refunded_so_far(order, besides=besides)
        return cls(order=order, refundable=max(Decimal("0"), order.total - refunded))


# ----------------------------------------------------------------------------- store


def _order_record(order: Order) -> dict[str, Any]:
    """The store policy's record shape for a Warmline order (one payment: its total)."""
    return {
        "status": order.status,
        "items": [dict(i, item_id=str(i.get("item_id"))) for i in order.items or []],
        "payment_history": [
            {
                "transaction_type": "payment",
                "amount": order.total,
                "payment_method_id": order.payment_method,
            }
        ],
    }


def _user_record(customer: Customer, order: Order | None) -> dict[str, Any]:
    """The customer's payment methods; without any on record, only the order's own is known."""
    methods = dict((customer.custom_attributes or {}).get("payment_methods") or {})
    if not methods and order is not None and order.payment_method:
        methods = {order.payment_method: {"source": "unknown"}}
    return {
        "payment_methods": {
            k: dict(v, balance=money(v["balance"])) if "balance" in v else dict(v)
            for k, v in methods.items()
        }
    }


class StoreConnector:
    """Executes actions on Warmline's own records: orders, the customer's balances and codes.

    Preconditions are ``store_policy``'s rules (pending to cancel or modify, delivered to
    return or exchange, refunds to the original method or a gift card, gift cards must
    cover what they pay…). ``execute`` locks the order and customer rows and checks again,
    so a precondition that held at request time but not any more refuses cleanly.
    """

    name = "store"
    deferred = False

    def check(self, action: EmpoweredAction, params: Params) -> None:
        order = Order.objects.filter(pk=action.order_id).first() if action.order_id else None
        self._apply(action, params, order, action.customer, write=False)

    def execute(self, action: EmpoweredAction, params: Params) -> Outcome:
        order = (
            Order.objects.select_for_update().get(pk=action.order_id) if action.order_id else None
        )
        customer = Customer.objects.select_for_update().get(pk=action.customer_id)
        try:
            result = self._apply(action, params, order, customer, write=True)
        except (policy.StorePolicyDenied, policy.StoreNotFound) as exc:
            return Outcome(REFUSED, error=exc.message, rule=getattr(exc, "rule", "") or "")
        return Outcome(SUCCEEDED, result=result)

    # Each handler checks first, then (when write) changes and returns before/after.
    def _apply(
        self,
        action: EmpoweredAction,
        params: Params,
        order: Order | None,
        customer: Customer,
        *,
        write: bool,
    ) -> dict[str, Any]:
        handler = getattr(self, f"_{action.code}")
        return handler(action, params, order, customer, write)

    def _refund(self, action, p: RefundParams, order, customer, write):
        facts = OrderFacts.of(order, besides=action.pk)
        if order.status in (OrderStatus.CANCELLED, "cancelled"):
            raise policy.StorePolicyDenied(
                "Error: a cancelled order was refunded when it was cancelled",
                rule="refund.not_cancelled",
            )
        # The amount was fixed when the action was requested (a full refund: what was left).
        amount = action.amount if action.amount is not None else facts.refundable
        if amount <= 0 or amount > facts.refundable:
            raise policy.StorePolicyDenied(
                f"Error: refund exceeds what is left to refund ({facts.refundable})",
                rule="refund.within_paid",
            )
        method_id = p.payment_method_id or order.payment_method
        method = self._refund_method(order, customer, method_id)
        if not write:
            return {}
        before = {"refunded": str(order.total - facts.refundable)}
        balance = self._credit_gift_card(customer, method, method_id, amount)
        return {
            "order": order.external_id,
            "amount": str(amount),
            "payment_method_id": method_id,
            "before": before,
            "after": {"refunded": str(order.total - facts.refundable + amount), **balance},
        }

    def _check_refundable(self, action: EmpoweredAction, order: Order) -> None:
        amount = action.amount
        left = OrderFacts.of(order, besides=action.pk).refundable
        if amount is not None and amount > left:
            raise policy.StorePolicyDenied(
                f"Error: refund exceeds what is left to refund ({left})",
                rule="refund.within_paid",
            )

    def _refund_method(self, order: Order, customer: Customer, method_id: str) -> dict:
        user = _user_record(customer, order)
        method = policy.require_payment_method(user, method_id)
        policy.check_refund_destination(_order_record(order), method, method_id)
        return method

    def _credit_gift_card(self, customer, method, method_id, amount) -> dict[str, Any]:
        """Gift cards are refunded at once (store policy); other methods by the processor."""
        if not policy.is_gift_card(method):
            return {}
        attrs = dict(customer.custom_attributes or {})
        methods = dict(attrs.get("payment_methods") or {})
        card = dict(methods[method_id])
        card["balance"] = str(money(card.get("balance")) + amount)
        methods[method_id] = card
        attrs["payment_methods"] = methods
        self._save_attrs(customer, attrs)
        return {"gift_card_balance": card["balance"]}

    def _save_attrs(self, customer: Customer, attrs: dict[str, Any]) -> None:
        customer.custom_attributes = attrs
        Customer.objects.filter(pk=customer.pk).update(
            custom_attributes=attrs, updated_at=timezone.now()
        )

    def _ledger(self, customer, key: str, entry: dict[str, Any]) -> dict[str, Any]:
        attrs = dict(customer.custom_attributes or {})
        before = list(attrs.get(key) or [])
        attrs[key] = [*before, entry]
        self._save_attrs(customer, attrs)
        return {"before": {key: len(before)}, "after": {key: len(before) + 1}, **entry}

    def _account_credit(self, action, p: CreditParams, order, customer, write):
        if not write:
            return {}
        attrs = dict(customer.custom_attributes or {})
        before = money(attrs.get("account_credit"))
        attrs["account_credit"] = str(before + p.amount)
        self._save_attrs(customer, attrs)
        return {
            "before": {"account_credit": str(before)},
            "after": {"account_credit": attrs["account_credit"]},
        }

    def _discount_code(self, action, p: DiscountCodeParams, order, customer, write):
        if not write:
            return {}
        expires = timezone.localdate() + dt.timedelta(days=p.valid_days)
        code = "WL-" + secrets.token_hex(4).upper()
        return self._ledger(
            customer,
            "discount_codes",
            {
                "code": code,
                "amount": str(p.amount),
                "currency": action.currency,
                "expires_on": expires.isoformat(),
            },
        )

    def _fee_waiver(self, action, p: FeeWaiverParams, order, customer, write):
        if not write:
            return {}
        return self._ledger(
            customer,
            "fee_waivers",
            {
                "fee": p.fee,
                "amount": str(p.amount),
                "currency": action.currency,
                "order": order.external_id if order else None,
            },
        )

    def _free_period(self, action, p: FreePeriodParams, order, customer, write):
        if not write:
            return {}
        attrs = dict(customer.custom_attributes or {})
        extensions = dict(attrs.get("free_days") or {})
        before = int(extensions.get(p.subscription, 0))
        extensions[p.subscription] = before + p.days
        attrs["free_days"] = extensions
        self._save_attrs(customer, attrs)
        return {
            "subscription": p.subscription,
            "before": {"free_days": before},
            "after": {"free_days": before + p.days},
        }

    def _replacement(self, action, p: ReplacementParams, order, customer, write):
        record = _order_record(order)
        if order.status in (OrderStatus.CANCELLED, OrderStatus.PENDING):
            raise policy.StorePolicyDenied(
                "Error: only a shipped or delivered order can be replaced",
                rule="replacement.shipped_only",
            )
        policy.check_items_in_order(record, list(p.item_ids), message="Error: some item not found")
        if not write:
            return {}
        lines = [dict(policy.order_item(record, i), price="0") for i in p.item_ids]
        n = Order.objects.filter(
            workspace_id=order.workspace_id, external_id__startswith=f"{order.external_id}-R"
        ).count()
        replacement = Order.objects.create(
            workspace_id=order.workspace_id,
            customer_id=order.customer_id,
            external_id=f"{order.external_id}-R{n + 1}",
            status=OrderStatus.PENDING,
            items=lines,
            total=Decimal("0"),
            currency=order.currency,
            payment_method="replacement",
            placed_at=timezone.now(),
        )
        return {
            "order": order.external_id,
            "replacement_order": replacement.external_id,
            "replacement_order_id": replacement.pk,
            "items": list(p.item_ids),
        }

    def _cancel_order(self, action, p: CancelOrderParams, order, customer, write):
        policy.check_pending(_order_record(order), verb="cancelled")
        policy.check_cancel_reason(p.reason)
        if not write:
            return {}
        method_id = order.payment_method
        method = _user_record(customer, order)["payment_methods"].get(method_id, {})
        before = {"status": order.status}
        self._save_order(order, status=OrderStatus.CANCELLED)
        balance = self._credit_gift_card(customer, method, method_id, action.amount or 0)
        recompute_lifetime_value(customer=customer)
        return {
            "order": order.external_id,
            "reason": p.reason,
            "refund": str(action.amount),
            "before": before,
            "after": {"status": order.status, **balance},
        }

    def _save_order(self, order: Order, **fields: Any) -> None:
        for k, v in fields.items():
            setattr(order, k, v)
        order.save(update_fields=[*fields, "updated_at"])

    def _modify_order(self, action, p: ModifyOrderParams, order, customer, write):
        record = _order_record(order)
        policy.check_pending(record, verb="modified")
        user = _user_record(customer, order)
        new_method = None
        if p.payment_method_id is not None:
            new_method = policy.require_payment_method(user, p.payment_method_id)
            payment = policy.check_single_payment(record)
            policy.check_different_method(payment, p.payment_method_id)
            policy.check_gift_card_covers(
                new_method, order.total, rule="gift_card.covers_total", purpose="the order"
            )
        new_lines = None
        if p.item_ids is not None:
            new_lines, difference = self._changed_lines(
                record, p.item_ids, p.new_items or [], order.workspace_id
            )
            method = new_method or user["payment_methods"].get(order.payment_method, {})
            policy.check_gift_card_covers(
                method, difference, rule="gift_card.covers_difference", purpose="the new item"
            )
        if not write:
            return {}
        before: dict[str, Any] = {"status": order.status}
        after: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        if p.address is not None:
            attrs = dict(customer.custom_attributes or {})
            addresses = dict(attrs.get("order_addresses") or {})
            before["address"] = addresses.get(order.external_id)
            addresses[order.external_id] = p.address.model_dump()
            after["address"] = addresses[order.external_id]
            attrs["order_addresses"] = addresses
            self._save_attrs(customer, attrs)
        if p.payment_method_id is not None:
            before["payment_method"] = order.payment_method
            fields["payment_method"] = after["payment_method"] = p.payment_method_id
        if new_lines is not None:
            before["items"], before["total"] = order.items, str(order.total)
            new_total = sum((money(i.get("price")) for i in new_lines), Decimal("0"))
            fields.update(items=new_lines, total=new_total, status="pending (item modified)")
            after["items"], after["total"] = new_lines, str(new_total)
        if fields:
            self._save_order(order, **fields)
            recompute_lifetime_value(customer=customer)
        after["status"] = order.status
        return {"order": order.external_id, "before": before, "after": after}

    def _changed_lines(
        self, record, item_ids, new_items, workspace_id: int
    ) -> tuple[list[dict], Decimal]:
        """The order's lines after changing each listed item to its new variant.

        Where the store's catalogue holds the product (``warmline store import``), the new
        item must be an available variant of the same product at the catalogue's price."""
        item_ids = policy.check_item_list(list(item_ids))
        policy.check_items_in_order(record, item_ids, message=None)
        policy.check_pairs(item_ids, [n.item_id for n in new_items])
        lines = [dict(i) for i in record["items"]]
        difference = Decimal("0")
        used: set[int] = set()
        for item_id, new in zip(item_ids, new_items, strict=True):
            index = next(
                k for k, line in enumerate(lines) if line["item_id"] == item_id and k not in used
            )
            used.add(index)
            old = lines[index]
            if new.product_id and old.get("product_id") and new.product_id != old["product_id"]:
                raise policy.StorePolicyDenied(
                    f"Error: new item {new.item_id} not found or available",
                    rule="items.same_product_available",
                )
            self._check_catalogue(workspace_id, old, new)
            difference += new.price - money(old.get("price"))
            lines[index] = {
                **old,
                "item_id": new.item_id,
                "price": str(new.price),
                **({"name": new.name} if new.name else {}),
                **({"options": new.options} if new.options else {}),
            }
        return lines, difference

    @staticmethod
    def _check_catalogue(workspace_id: int, old: dict, new: Any) -> None:
        product = StoreProduct.objects.filter(
            workspace_id=workspace_id, product_id=str(old.get("product_id") or "")
        ).first()
        if product is None:
            return  # no catalogue for it: the order's own lines are all we know
        variant = (product.variants or {}).get(str(new.item_id))
        if not variant or not variant.get("available"):
            raise policy.StorePolicyDenied(
                f"Error: new item {new.item_id} not found or available",
                rule="items.same_product_available",
            )
        if money(variant.get("price")) != new.price:
            raise policy.StorePolicyDenied(
                f"Error: item {new.item_id} costs {money(variant.get('price'))}, not {new.price}",
                rule="items.catalogue_price",
            )

    def _return_items(self, action, p: ReturnParams, order, customer, write):
        record = _order_record(order)
        policy.check_delivered(record, verb="returned")
        method_id = p.payment_method_id or order.payment_method
        method = self._refund_method(order, customer, method_id)
        policy.check_items_in_order(record, list(p.item_ids), message="Error: some item not found")
        self._check_refundable(action, order)
        if not write:
            return {}
        before = {"status": order.status}
        self._save_order(order, status="return requested")
        balance = self._credit_gift_card(customer, method, method_id, action.amount or 0)
        return {
            "order": order.external_id,
            "items": sorted(p.item_ids),
            "refund": str(action.amount),
            "payment_method_id": method_id,
            "before": before,
            "after": {"status": order.status, **balance},
        }

    def _exchange_items(self, action, p: ExchangeParams, order, customer, write):
        record = _order_record(order)
        policy.check_delivered(record, verb="exchanged")
        new_lines, difference = self._changed_lines(
            record, p.item_ids, p.new_items, order.workspace_id
        )
        user = _user_record(customer, order)
        method_id = p.payment_method_id or order.payment_method
        method = policy.require_payment_method(user, method_id)
        policy.check_gift_card_covers(
            method, difference, rule="gift_card.covers_difference", purpose="the price difference"
        )
        if not write:
            return {}
        before = {"status": order.status, "items": order.items}
        self._save_order(order, status="exchange requested")
        return {
            "order": order.external_id,
            "items": sorted(p.item_ids),
            "new_items": sorted(n.item_id for n in p.new_items),
            "price_difference": str(difference),
            "payment_method_id": method_id,
            "before": before,
            "after": {"status": order.status, "items_after_exchange": new_lines},
        }

    def _change_address(self, action, p: AddressParams, order, customer, write):
        if not write:
            return {}
        attrs = dict(customer.custom_attributes or {})
        before = attrs.get("default_address")
        attrs["default_address"] = p.address.model_dump()
        self._save_attrs(customer, attrs)
        return {"before": {"address": before}, "after": {"address": attrs["default_address"]}}


# --------------------------------------------------------------------------- webhook

SIGNATURE_HEADER = "X-Warmline-Signature"
MAX_BACKOFF_SECONDS = 60.0
RETRY_CODES = {408, 425, 429}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over ``"<timestamp>." + body``, hex (the Stripe scheme, so receivers know it)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={sign(secret, t, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None
) -> bool:
    """What the business's receiver does: check the HMAC and refuse stale timestamps (replays)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, t, body), parts.get("v1", ""))


def webhook_payload(action: EmpoweredAction) -> dict[str, Any]:
    return {
        "id": action.pk,
        "action": action.code,
        "idempotency_key": action.idempotency_key,
        "workspace": action.workspace.slug,
        "conversation_id": action.conversation_id,
        "customer_id": action.customer_id,
        "order": (
            {"id": action.order_id, "external_id": action.order.external_id}
            if action.order_id
            else None
        ),
        "params": action.params,
        "amount": str(action.amount) if action.amount is not None else None,
        "currency": action.currency,
        "requested_by": action.requested_by_id,
    }


class WebhookConnector:
    """A signed POST to the business's own system, retried with bounded exponential back-off.

    2xx: done (a JSON object body is the result). 409/422: the business refused (no retry).
    408/425/429, 5xx and network errors: retried. Other 4xx: failed at once. The receiver
    gets the idempotency key in ``Idempotency-Key`` so a retry after a lost response is safe.
    """

    name = "webhook"
    deferred = True

    def __init__(self, config: ConnectorConfig, *, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.sleep = sleep

    def check(self, action: EmpoweredAction, params: Params) -> None:
        """The business's system holds the rules; nothing to check here."""

    def execute(self, action: EmpoweredAction, params: Params) -> Outcome:
        body = json.dumps(
            webhook_payload(action) | {"params": jsonable(params)}, separators=(",", ":")
        ).encode()
        attempts = max(1, min(self.config.max_attempts, 10))
        outcome = Outcome(FAILED, attempts=0)
        with httpx.Client(timeout=self.config.timeout_seconds) as client:
            for attempt in range(1, attempts + 1):
                outcome = self._attempt(client, action, body)
                outcome.attempts = attempt
                if outcome.status != "retry":
                    return outcome
                if attempt < attempts:
                    delay = self.config.backoff_seconds * 2 ** (attempt - 1)
                    self.sleep(min(delay, MAX_BACKOFF_SECONDS))
        outcome.status = FAILED
        outcome.error = f"gave up after {attempts} attempts: {outcome.error}"[:500]
        return outcome

    def _attempt(self, client: httpx.Client, action: EmpoweredAction, body: bytes) -> Outcome:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": action.idempotency_key,
            SIGNATURE_HEADER: signature_header(self.config.secret, body),
            "User-Agent": "Warmline-Actions/1",
        }
        try:
            response = client.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome("retry", error=f"{type(exc).__name__}: {exc}"[:500])
        code = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = {"body": response.text[:2000]}
        if not isinstance(data, dict):
            data = {"body": data}
        if 200 <= code < 300:
            return Outcome(SUCCEEDED, result=data, response_code=code)
        error = str(data.get("error") or data.get("detail") or data.get("body") or "")[:500]
        if code in (409, 422):
            return Outcome(REFUSED, result=data, error=error, response_code=code)
        if code >= 500 or code in RETRY_CODES:
            return Outcome("retry", error=f"HTTP {code} {error}".strip(), response_code=code)
        return Outcome(
            FAILED, result=data, error=f"HTTP {code} {error}".strip(), response_code=code
        )


def connector_for(action: EmpoweredAction) -> Connector:
    """The workspace's active webhook that claims this action, else the built-in store."""
    for config in ConnectorConfig.objects.filter(
        workspace_id=action.workspace_id, is_active=True
    ).order_by("id"):
        if action.code in (config.actions or []):
            return WebhookConnector(config)
    return StoreConnector()
