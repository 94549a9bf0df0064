"""The retail store's agent policy as code: every precondition an action must pass.

Each rule names the line of the store policy (``policy.md`` of the tau-bench retail
store) it enforces, raises a domain error whose message is the reference store's
error text, and never mutates anything: the engine calls these checks first and
only then writes, so a refused action leaves the store exactly as it was.

Money decisions (does a gift card cover a difference, what is a balance after a
refund) are taken on exact ``Decimal`` cents. The reference keeps amounts as binary
floats and records some of them unrounded (a price difference of
``173.82999999999993``); :class:`PriceDifference` carries both, the exact value for
decisions and the reference's float for the record it writes, so exported records
stay identical to the reference's while no decision depends on float noise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from warmline.errors import InvalidInput, NotFound, PolicyDenied

Record = dict[str, Any]

PENDING = "pending"
DELIVERED = "delivered"
CANCEL_REASONS = ("no longer needed", "ordered by mistake")
GIFT_CARD = "gift_card"

# Rule ids → the policy line each one enforces (docs/store-connector.md renders this).
RULES: dict[str, str] = {
    "session.one_customer": "You can only help one user per conversation and must deny "
    "any requests for tasks related to any other user.",
    "cancel.pending_only": "An order can only be cancelled if its status is 'pending'.",
    "cancel.reason": "The reason for cancellation is either 'no longer needed' or "
    "'ordered by mistake'.",
    "modify.pending_only": "An order can only be modified if its status is 'pending' "
    "(modifying items moves it to 'pending (item modified)', so items are modified once).",
    "modify_payment.single_payment": "A pending order whose payment is changed has exactly "
    "one payment.",
    "modify_payment.different_method": "The user can only choose a single payment method "
    "different from the original payment method.",
    "payment_method.owned": "Payment methods are the user's own (gift card, PayPal, "
    "credit card on the profile).",
    "gift_card.covers_total": "To pay an order by gift card, it must have enough balance "
    "to cover the total amount.",
    "gift_card.covers_difference": "If the user pays a price difference with a gift card, "
    "it must have enough balance to cover the price difference.",
    "items.listed": "Items to change or return are items of the order (duplicates count).",
    "items.paired": "Each item to be modified or exchanged has exactly one new item.",
    "items.same_product_available": "Each item can be changed only to an available new "
    "item of the same product; there cannot be any change of product types.",
    "return.delivered_only": "An order can only be returned if its status is 'delivered'.",
    "exchange.delivered_only": "An order can only be exchanged if its status is "
    "'delivered' (exchanging moves it to 'exchange requested', so exchange happens once).",
    "return.refund_destination": "The refund must either go to the original payment "
    "method, or an existing gift card.",
}


class StoreNotFound(NotFound):
    """A user, order or product the store does not have (or the session may not see)."""

    def __init__(self, message: str, *, rule: str | None = None):
        super().__init__(message)
        self.rule = rule


class StorePolicyDenied(PolicyDenied):
    """The store policy forbids the action in the order's current state."""

    def __init__(self, message: str, *, rule: str):
        super().__init__(message)
        self.rule = rule


class StoreInvalid(InvalidInput):
    """The action's arguments are malformed (missing, wrong type, empty)."""


# ---------------------------------------------------------------- money


def exact(amount: int | float | Decimal) -> Decimal:
    """The exact decimal an amount was written as (``repr`` round-trips floats)."""
    if isinstance(amount, Decimal):
        return amount
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise StoreInvalid(f"Error: invalid amount {amount!r}")
    return Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)


def stored(value: Decimal, *operands: int | float) -> int | float:
    """Back to the JSON number type the reference would hold: int only if all inputs were."""
    if all(isinstance(op, int) for op in operands) and value == value.to_integral_value():
        return int(value)
    return float(value)


@dataclass(frozen=True)
class PriceDifference:
    """New minus old price of item pairs: exact for decisions, float for the record."""

    exact: Decimal
    reference_float: float

    @property
    def rounded_float(self) -> float:
        return round(self.reference_float, 2)


def price_difference(pairs: Sequence[tuple[int | float, int | float]]) -> PriceDifference:
    """Sum ``new - old`` over (old, new) prices in the order the items were given.

    The float accumulation mirrors the reference exactly (same operands, same order)
    because its unrounded result is what the reference writes into payment history.
    """
    exact_total = Decimal(0)
    float_total: int | float = 0
    for old, new in pairs:
        exact_total += exact(new) - exact(old)
        float_total += new - old
    return PriceDifference(exact_total, float(float_total))


# ---------------------------------------------------------------- lookups


def require_order(orders: Mapping[str, Record], order_id: Any) -> Record:
    if not isinstance(order_id, str) or order_id not in orders:
        raise StoreNotFound("Error: order not found")
    return orders[order_id]


def require_user(users: Mapping[str, Record], user_id: Any) -> Record:
    if not isinstance(user_id, str) or user_id not in users:
        raise StoreNotFound("Error: user not found")
    return users[user_id]


def require_product(products: Mapping[str, Record], product_id: Any) -> Record:
    if not isinstance(product_id, str) or product_id not in products:
        raise StoreNotFound("Error: product not found")
    return products[product_id]


# ---------------------------------------------------------------- rules


def check_session_customer(session_customer: str | None, record_user_id: str, *, what: str) -> None:
    """One customer per conversation: another customer's records look absent, not forbidden."""
    if session_customer is not None and record_user_id != session_customer:
        raise StoreNotFound(f"Error: {what} not found", rule="session.one_customer")


def check_pending(order: Record, *, verb: str) -> None:
    if order["status"] != PENDING:
        rule = "cancel.pending_only" if verb == "cancelled" else "modify.pending_only"
        raise StorePolicyDenied(f"Error: non-pending order cannot be {verb}", rule=rule)


def check_delivered(order: Record, *, verb: str) -> None:
    if order["status"] != DELIVERED:
        rule = "return.delivered_only" if verb == "returned" else "exchange.delivered_only"
        raise StorePolicyDenied(f"Error: non-delivered order cannot be {verb}", rule=rule)


def check_cancel_reason(reason: Any) -> None:
    if reason not in CANCEL_REASONS:
        raise StorePolicyDenied("Error: invalid reason", rule="cancel.reason")


def require_payment_method(user: Record, payment_method_id: Any) -> Record:
    methods = user["payment_methods"]
    if not isinstance(payment_method_id, str) or payment_method_id not in methods:
        raise StorePolicyDenied("Error: payment method not found", rule="payment_method.owned")
    return methods[payment_method_id]


def is_gift_card(method: Record) -> bool:
    return method.get("source") == GIFT_CARD


def check_gift_card_covers(method: Record, amount: Decimal, *, rule: str, purpose: str) -> None:
    if is_gift_card(method) and exact(method.get("balance", 0)) < amount:
        raise StorePolicyDenied(
            f"Error: insufficient gift card balance to pay for {purpose}", rule=rule
        )


def check_item_list(item_ids: Any, *, field: str = "item_ids") -> list[str]:
    if not isinstance(item_ids, list) or not all(isinstance(i, str) for i in item_ids):
        raise StoreInvalid(f"Error: {field} must be a list of item ids", field=field)
    if not item_ids:
        raise StoreInvalid(f"Error: {field} must name at least one item", field=field)
    return item_ids


def check_items_in_order(order: Record, item_ids: list[str], *, message: str | None) -> None:
    """Every listed item is in the order, as many times as it is listed."""
    have = Counter(item["item_id"] for item in order["items"])
    want = Counter(item_ids)
    for item_id in item_ids:
        if want[item_id] > have[item_id]:
            raise StorePolicyDenied(message or f"Error: {item_id} not found", rule="items.listed")


def check_pairs(item_ids: list[str], new_item_ids: list[str]) -> None:
    if len(item_ids) != len(new_item_ids):
        raise StorePolicyDenied(
            "Error: the number of items to be exchanged should match", rule="items.paired"
        )


def order_item(order: Record, item_id: str) -> Record:
    """The first line of the order holding this item (the reference's choice for duplicates)."""
    return next(item for item in order["items"] if item["item_id"] == item_id)


def replacement_variant(products: Mapping[str, Record], item: Record, new_item_id: str) -> Record:
    """The available variant of the item's own product that replaces it."""
    product = products.get(item["product_id"])
    variant = product["variants"].get(new_item_id) if product else None
    if variant is None or not variant.get("available"):
        raise StorePolicyDenied(
            f"Error: new item {new_item_id} not found or available",
            rule="items.same_product_available",
        )
    return variant


def check_single_payment(order: Record) -> Record:
    history = order["payment_history"]
    if len(history) != 1 or history[0]["transaction_type"] != "payment":
        raise StorePolicyDenied(
            "Error: there should be exactly one payment for a pending order",
            rule="modify_payment.single_payment",
        )
    return history[0]


def check_different_method(payment: Record, payment_method_id: str) -> None:
    if payment["payment_method_id"] == payment_method_id:
        raise StorePolicyDenied(
            "Error: the new payment method should be different from the current one",
            rule="modify_payment.different_method",
        )


def check_refund_destination(order: Record, method: Record, payment_method_id: str) -> None:
    original = (
        order["payment_history"][0]["payment_method_id"] if order["payment_history"] else None
    )
    if not is_gift_card(method) and payment_method_id != original:
        raise StorePolicyDenied(
            "Error: payment method should be either the original payment method or a gift card",
            rule="return.refund_destination",
        )
