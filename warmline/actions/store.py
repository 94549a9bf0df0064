"""The built-in store connector's engine: a retail store's users, orders and products.

State has the JSON shape of the tau-bench retail store (``users.json``,
``orders.json``, ``products.json``), so a store can be imported from and exported
to that shape without loss. A :class:`StoreSession` is one conversation with one
customer: it sees a private copy of the store (records are copied on first write,
so a fresh session costs nothing), applies actions by name, and refuses — with an
error result and no change at all — anything ``store_policy`` forbids.

Outputs are the reference's: the JSON of the record an action touched, or an
``Error: ...`` line. Nothing here knows about tasks or expected results; replaying
gold actions lives in ``replay``.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from warmline.errors import DomainError

from . import store_policy as policy
from .store_policy import Record, StoreInvalid, StorePolicyDenied, exact, stored

KINDS = ("orders", "users", "products")
FILES = {kind: f"{kind}.json" for kind in KINDS}
# The reference writes a new address in this order (its stored files say country first).
ADDRESS_FIELDS = ("address1", "address2", "city", "state", "country", "zip")


@dataclass
class StoreData:
    """The store as loaded: treated as read-only; sessions write to their own copies."""

    users: dict[str, Record]
    orders: dict[str, Record]
    products: dict[str, Record]

    @classmethod
    def load(cls, directory: str | Path) -> StoreData:
        directory = Path(directory)
        loaded = {}
        for kind, name in FILES.items():
            path = directory / name
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} is missing (a store needs {', '.join(FILES.values())})"
                )
            loaded[kind] = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(loaded[kind], dict):
                raise ValueError(f"{path} must hold a JSON object keyed by id")
        return cls(**loaded)

    def collection(self, kind: str) -> dict[str, Record]:
        return getattr(self, kind)

    def to_json(self, kind: str) -> str:
        """One file's text: key order and number types (``51`` vs ``51.0``) as loaded."""
        return json.dumps(self.collection(kind), indent=4, ensure_ascii=False) + "\n"

    def dump(self, directory: str | Path) -> list[Path]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for kind, name in FILES.items():
            path = directory / name
            path.write_text(self.to_json(kind), encoding="utf-8")
            written.append(path)
        return written

    def integrity_problems(self) -> list[str]:
        """Dangling references between users, orders and products (empty when consistent)."""
        problems = []
        for user_id, user in self.users.items():
            problems += [
                f"user {user_id} lists unknown order {oid}"
                for oid in user.get("orders", [])
                if oid not in self.orders
            ]
        for order_id, order in self.orders.items():
            if order.get("user_id") not in self.users:
                problems.append(f"order {order_id} belongs to unknown user {order.get('user_id')}")
            for item in order.get("items", []):
                product = self.products.get(item.get("product_id"))
                if product is None:
                    problems.append(
                        f"order {order_id} has unknown product {item.get('product_id')}"
                    )
        return problems

    def session(
        self, *, customer_id: str | None = None, require_authentication: bool = False
    ) -> StoreSession:
        return StoreSession(
            self, customer_id=customer_id, require_authentication=require_authentication
        )


@dataclass(frozen=True)
class ActionResult:
    """What one action answered; ``refused`` results changed nothing."""

    name: str
    output: str
    refused: bool = False
    rule: str | None = None


@dataclass
class Transfer:
    summary: str


class StoreSession:
    """One conversation with one customer over a private, copy-on-write view of the store."""

    def __init__(
        self,
        data: StoreData,
        *,
        customer_id: str | None = None,
        require_authentication: bool = False,
    ):
        self.data = data
        self.customer_id = customer_id
        self.require_authentication = require_authentication
        self.transfers: list[Transfer] = []
        self._written: dict[str, dict[str, Record]] = {kind: {} for kind in KINDS}

    # ------------------------------------------------------------ state

    def _get(self, kind: str) -> Mapping[str, Record]:
        return _Overlay(self._written[kind], self.data.collection(kind))

    @property
    def orders(self) -> Mapping[str, Record]:
        return self._get("orders")

    @property
    def users(self) -> Mapping[str, Record]:
        return self._get("users")

    @property
    def products(self) -> Mapping[str, Record]:
        return self._get("products")

    def _for_update(self, kind: str, record_id: str) -> Record:
        written = self._written[kind]
        if record_id not in written:
            written[record_id] = copy.deepcopy(self.data.collection(kind)[record_id])
        return written[record_id]

    def changed(self) -> dict[str, dict[str, Record]]:
        """Full final record of every record whose content differs from the loaded store."""
        return {
            kind: {
                record_id: record
                for record_id, record in self._written[kind].items()
                if record != self.data.collection(kind)[record_id]
            }
            for kind in KINDS
        }

    # ------------------------------------------------------------ dispatch

    def apply(self, name: str, kwargs: Mapping[str, Any] | None = None) -> ActionResult:
        """Run one action by its reference name; domain refusals become error results."""
        handler = ACTIONS.get(name)
        if handler is None:
            return ActionResult(name, f"Error: unknown action {name}", refused=True, rule="unknown")
        try:
            bound = _SIGNATURES[name].bind(self, **dict(kwargs or {}))
        except TypeError as exc:
            return ActionResult(name, f"Error: {exc}", refused=True, rule="arguments")
        try:
            output = handler(*bound.args, **bound.kwargs)
        except DomainError as exc:
            return ActionResult(
                name, exc.message, refused=True, rule=getattr(exc, "rule", None) or exc.code
            )
        return ActionResult(name, output)

    # ------------------------------------------------------------ session scope

    def _authenticate(self, user_id: str) -> str:
        if self.customer_id is not None and self.customer_id != user_id:
            raise StorePolicyDenied(
                "Error: this conversation already serves another user", rule="session.one_customer"
            )
        self.customer_id = user_id
        return user_id

    def _require_customer(self) -> None:
        if self.require_authentication and self.customer_id is None:
            raise StorePolicyDenied(
                "Error: authenticate the user (email, or name and zip code) first",
                rule="session.authenticated",
            )

    def _own_order(self, order_id: Any) -> Record:
        self._require_customer()
        order = policy.require_order(self.orders, order_id)
        policy.check_session_customer(self.customer_id, order["user_id"], what="order")
        return order

    def _own_user(self, user_id: Any) -> Record:
        self._require_customer()
        user = policy.require_user(self.users, user_id)
        policy.check_session_customer(self.customer_id, user_id, what="user")
        return user

    # ------------------------------------------------------------ reads

    def find_user_id_by_email(self, email: str) -> str:
        for user_id, user in self.users.items():
            if user["email"] == email:
                return self._authenticate(user_id)
        raise policy.StoreNotFound("Error: user not found")

    def find_user_id_by_name_zip(self, first_name: str, last_name: str, zip: str) -> str:
        for user_id, user in self.users.items():
            name = user["name"]
            if (
                name["first_name"].lower() == str(first_name).lower()
                and name["last_name"].lower() == str(last_name).lower()
                and user["address"]["zip"] == zip
            ):
                return self._authenticate(user_id)
        raise policy.StoreNotFound("Error: user not found")

    def get_user_details(self, user_id: str) -> str:
        return json.dumps(self._own_user(user_id))

    def get_order_details(self, order_id: str) -> str:
        return json.dumps(self._own_order(order_id))

    def get_product_details(self, product_id: str) -> str:
        return json.dumps(policy.require_product(self.products, product_id))

    def list_all_product_types(self) -> str:
        names = {product["name"]: product["product_id"] for product in self.products.values()}
        return json.dumps(dict(sorted(names.items())))

    def calculate(self, expression: str) -> str:
        return calculate(expression)

    def think(self, thought: str) -> str:
        return ""

    def transfer_to_human_agents(self, summary: str) -> str:
        self.transfers.append(Transfer(summary=summary))
        return "Transfer successful"

    # ------------------------------------------------------------ writes

    def cancel_pending_order(self, order_id: str, reason: str) -> str:
        order = self._own_order(order_id)
        policy.check_pending(order, verb="cancelled")
        policy.check_cancel_reason(reason)
        user = self.users[order["user_id"]]
        refunds = []
        for payment in order["payment_history"]:
            method_id = payment["payment_method_id"]
            refunds.append(
                {
                    "transaction_type": "refund",
                    "amount": payment["amount"],
                    "payment_method_id": method_id,
                }
            )
            method = user["payment_methods"].get(method_id)
            if method is not None and policy.is_gift_card(method):
                # Gift cards are refunded at once; other methods in 5-7 business days (policy.md).
                self._adjust_balance(
                    order["user_id"], method_id, exact(payment["amount"]), payment["amount"]
                )
        order = self._for_update("orders", order_id)
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        order["payment_history"].extend(refunds)
        return json.dumps(order)

    def modify_pending_order_address(
        self,
        order_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,
    ) -> str:
        order = self._own_order(order_id)
        policy.check_pending(order, verb="modified")
        order = self._for_update("orders", order_id)
        order["address"] = _address(address1, address2, city, state, country, zip)
        return json.dumps(order)

    def modify_pending_order_payment(self, order_id: str, payment_method_id: str) -> str:
        order = self._own_order(order_id)
        policy.check_pending(order, verb="modified")
        user = self.users[order["user_id"]]
        method = policy.require_payment_method(user, payment_method_id)
        payment = policy.check_single_payment(order)
        policy.check_different_method(payment, payment_method_id)
        amount = payment["amount"]
        policy.check_gift_card_covers(
            method, exact(amount), rule="gift_card.covers_total", purpose="the order"
        )
        old_method_id = payment["payment_method_id"]
        order = self._for_update("orders", order_id)
        order["payment_history"].extend(
            [
                {
                    "transaction_type": "payment",
                    "amount": amount,
                    "payment_method_id": payment_method_id,
                },
                {
                    "transaction_type": "refund",
                    "amount": amount,
                    "payment_method_id": old_method_id,
                },
            ]
        )
        if policy.is_gift_card(method):
            self._adjust_balance(order["user_id"], payment_method_id, -exact(amount), amount)
        old_method = user["payment_methods"].get(old_method_id)
        if old_method is not None and policy.is_gift_card(old_method):
            self._adjust_balance(order["user_id"], old_method_id, exact(amount), amount)
        return json.dumps(order)

    def modify_pending_order_items(
        self, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
    ) -> str:
        order = self._own_order(order_id)
        policy.check_pending(order, verb="modified")
        item_ids = policy.check_item_list(item_ids)
        policy.check_items_in_order(order, item_ids, message=None)
        new_item_ids = policy.check_item_list(new_item_ids, field="new_item_ids")
        policy.check_pairs(item_ids, new_item_ids)
        difference = self._price_difference(order, item_ids, new_item_ids)
        user = self.users[order["user_id"]]
        method = policy.require_payment_method(user, payment_method_id)
        policy.check_gift_card_covers(
            method, difference.exact, rule="gift_card.covers_difference", purpose="the new item"
        )
        order = self._for_update("orders", order_id)
        # The record keeps the reference's float amount (see store_policy.PriceDifference).
        order["payment_history"].append(
            {
                "transaction_type": "payment" if difference.reference_float > 0 else "refund",
                "amount": abs(difference.reference_float),
                "payment_method_id": payment_method_id,
            }
        )
        if policy.is_gift_card(method):
            self._adjust_balance(
                order["user_id"], payment_method_id, -difference.exact, difference.reference_float
            )
        for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
            item = policy.order_item(order, item_id)
            variant = self.products[item["product_id"]]["variants"][new_item_id]
            item["item_id"] = new_item_id
            item["price"] = variant["price"]
            item["options"] = copy.deepcopy(variant["options"])
        # No longer 'pending': neither another modification nor a cancellation can follow.
        order["status"] = "pending (item modified)"
        return json.dumps(order)

    def return_delivered_order_items(
        self, order_id: str, item_ids: list[str], payment_method_id: str
    ) -> str:
        order = self._own_order(order_id)
        policy.check_delivered(order, verb="returned")
        user = self.users[order["user_id"]]
        method = policy.require_payment_method(user, payment_method_id)
        policy.check_refund_destination(order, method, payment_method_id)
        item_ids = policy.check_item_list(item_ids)
        policy.check_items_in_order(order, item_ids, message="Error: some item not found")
        order = self._for_update("orders", order_id)
        order["status"] = "return requested"
        order["return_items"] = sorted(item_ids)
        order["return_payment_method_id"] = payment_method_id
        return json.dumps(order)

    def exchange_delivered_order_items(
        self, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
    ) -> str:
        order = self._own_order(order_id)
        policy.check_delivered(order, verb="exchanged")
        item_ids = policy.check_item_list(item_ids)
        policy.check_items_in_order(order, item_ids, message=None)
        new_item_ids = policy.check_item_list(new_item_ids, field="new_item_ids")
        policy.check_pairs(item_ids, new_item_ids)
        difference = self._price_difference(order, item_ids, new_item_ids)
        user = self.users[order["user_id"]]
        method = policy.require_payment_method(user, payment_method_id)
        policy.check_gift_card_covers(
            method,
            difference.exact,
            rule="gift_card.covers_difference",
            purpose="the price difference",
        )
        order = self._for_update("orders", order_id)
        order["status"] = "exchange requested"
        order["exchange_items"] = sorted(item_ids)
        order["exchange_new_items"] = sorted(new_item_ids)
        order["exchange_payment_method_id"] = payment_method_id
        # Settled when the returned items arrive, so no balance moves yet.
        order["exchange_price_difference"] = difference.rounded_float
        return json.dumps(order)

    def modify_user_address(
        self,
        user_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,
    ) -> str:
        self._own_user(user_id)
        user = self._for_update("users", user_id)
        user["address"] = _address(address1, address2, city, state, country, zip)
        return json.dumps(user)

    # ------------------------------------------------------------ helpers

    def _price_difference(
        self, order: Record, item_ids: list[str], new_item_ids: list[str]
    ) -> policy.PriceDifference:
        pairs = []
        for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
            item = policy.order_item(order, item_id)
            variant = policy.replacement_variant(self.products, item, new_item_id)
            pairs.append((item["price"], variant["price"]))
        return policy.price_difference(pairs)

    def _adjust_balance(
        self, user_id: str, method_id: str, delta: Decimal, delta_as_stored: int | float
    ) -> None:
        user = self._for_update("users", user_id)
        method = user["payment_methods"][method_id]
        balance = method.get("balance", 0)
        method["balance"] = stored(exact(balance) + delta, balance, delta_as_stored)


class _Overlay(Mapping[str, Record]):
    """Written copies over the loaded records, in the loaded order."""

    __slots__ = ("_base", "_top")

    def __init__(self, top: dict[str, Record], base: dict[str, Record]):
        self._top = top
        self._base = base

    def __getitem__(self, key: str) -> Record:
        if key in self._top:
            return self._top[key]
        return self._base[key]

    def __contains__(self, key: object) -> bool:
        return key in self._base

    def __iter__(self) -> Iterator[str]:
        return iter(self._base)

    def __len__(self) -> int:
        return len(self._base)


def _address(*values: Any) -> dict[str, str]:
    if not all(isinstance(v, str) for v in values):
        raise StoreInvalid("Error: every address field must be text")
    return dict(zip(ADDRESS_FIELDS, values, strict=True))


# ---------------------------------------------------------------- calculate

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_CALC_CHARS = frozenset("0123456789+-*/(). ")
_MAX_EXPONENT = 1000


def calculate(expression: str) -> str:
    """Arithmetic on numbers only (what the reference's tool allows), without ``eval``."""
    if not isinstance(expression, str) or not set(expression) <= _CALC_CHARS:
        raise StoreInvalid("Error: invalid characters in expression")
    try:
        value = _evaluate(ast.parse(expression, mode="eval").body)
        return str(round(float(value), 2))
    except (ArithmeticError, ValueError, SyntaxError, TypeError) as exc:
        raise StoreInvalid(f"Error: {exc}") from exc


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ValueError("exponent too large")
        return _BINARY[type(node.op)](left, right)
    raise ValueError("unsupported expression")


ACTIONS: dict[str, Callable[..., str]] = {
    name: getattr(StoreSession, name)
    for name in (
        "find_user_id_by_email",
        "find_user_id_by_name_zip",
        "get_user_details",
        "get_order_details",
        "get_product_details",
        "list_all_product_types",
        "calculate",
        "think",
        "transfer_to_human_agents",
        "cancel_pending_order",
        "modify_pending_order_address",
        "modify_pending_order_payment",
        "modify_pending_order_items",
        "return_delivered_order_items",
        "exchange_delivered_order_items",
        "modify_user_address",
    )
}
WRITE_ACTIONS = frozenset(
    {
        "cancel_pending_order",
        "modify_pending_order_address",
        "modify_pending_order_payment",
        "modify_pending_order_items",
        "return_delivered_order_items",
        "exchange_delivered_order_items",
        "modify_user_address",
    }
)
_SIGNATURES = {name: inspect.signature(handler) for name, handler in ACTIONS.items()}


__all__ = [
    "ACTIONS",
    "WRITE_ACTIONS",
    "ActionResult",
    "StoreData",
    "StoreSession",
    "calculate",
]
