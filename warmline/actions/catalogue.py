"""The catalogue of empowered actions: what an agent can do for a customer, and its parameters.

Each action is a code, a label and a pydantic model of its parameters. The model is the
contract for the API (its JSON schema is served by ``GET /actions/catalogue``), for the
connectors (which receive the parsed parameters) and for authority (``money`` says which
amount an action gives away, so caps can be checked before anything runs). Money is
``Decimal`` with a currency, never a float: a JSON number or string is read as the decimal
it was written as, with at most two places.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from warmline.errors import InvalidInput

CENT = Decimal("0.01")
# Always two places, so "10" and "10.00" are the same parameters (idempotency compares them).
Money = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=2),
    AfterValidator(lambda d: d.quantize(CENT)),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
ItemIds = Annotated[list[Annotated[str, Field(min_length=1, max_length=120)]], Field(min_length=1)]


class Params(BaseModel):
    """Base of every action's parameters: unknown keys are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_float_money(cls, v: Any, info) -> Any:
        # A float has already lost the decimal it was written as; read it through repr.
        if isinstance(v, float):
            return Decimal(repr(v))
        return v


class Address(Params):
    address1: str = Field(min_length=1, max_length=200)
    address2: str = Field("", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field("", max_length=100)
    country: str = Field(min_length=1, max_length=100)
    zip: str = Field(min_length=1, max_length=20)


class NewItem(Params):
    """The item an order line changes to (same product, another variant)."""

    item_id: str = Field(min_length=1, max_length=120)
    price: Money
    product_id: str = Field("", max_length=120)
    name: str = Field("", max_length=200)
    options: dict[str, Any] = Field(default_factory=dict)


class RefundParams(Params):
    order_id: int
    amount: Money | None = Field(None, description="Omit for a full refund of what is left.")
    currency: Currency | None = None
    payment_method_id: str = Field("", max_length=120, description="Default: the original one.")
    reason: str = Field(min_length=1, max_length=500)


class CreditParams(Params):
    amount: Money
    currency: Currency | None = None
    reason: str = Field(min_length=1, max_length=500)


class DiscountCodeParams(Params):
    amount: Money
    currency: Currency | None = None
    valid_days: int = Field(30, ge=1, le=365)
    reason: str = Field(min_length=1, max_length=500)


class FeeWaiverParams(Params):
    fee: str = Field(min_length=1, max_length=120, description="Which fee, e.g. 'late payment'.")
    amount: Money
    currency: Currency | None = None
    order_id: int | None = None
    reason: str = Field(min_length=1, max_length=500)


class FreePeriodParams(Params):
    subscription: str = Field(min_length=1, max_length=120)
    days: int = Field(ge=1, le=365)
    value: Money | None = Field(None, description="What the free days are worth.")
    currency: Currency | None = None
    reason: str = Field(min_length=1, max_length=500)


class ReplacementParams(Params):
    order_id: int
    item_ids: ItemIds
    reason: str = Field(min_length=1, max_length=500)


class CancelOrderParams(Params):
    order_id: int
    reason: Literal["no longer needed", "ordered by mistake"]


class ModifyOrderParams(Params):
    order_id: int
    address: Address | None = None
    payment_method_id: str | None = Field(None, min_length=1, max_length=120)
    item_ids: list[str] | None = None
    new_items: list[NewItem] | None = None

    def changes(self) -> list[str]:
        return [
            name
            for name, value in (
                ("address", self.address),
                ("payment_method_id", self.payment_method_id),
                ("items", self.item_ids),
            )
            if value is not None
        ]


class ReturnParams(Params):
    order_id: int
    item_ids: ItemIds
    payment_method_id: str = Field("", max_length=120, description="Default: the original one.")
    reason: str = Field("", max_length=500)


class ExchangeParams(Params):
    order_id: int
    item_ids: ItemIds
    new_items: list[NewItem] = Field(min_length=1)
    payment_method_id: str = Field("", max_length=120, description="Default: the original one.")
    reason: str = Field("", max_length=500)


class AddressParams(Params):
    address: Address


@dataclass(frozen=True)
class ActionSpec:
    code: str
    label: str
    description: str
    params: type[Params]
    # Which orders the action touches (None: it concerns the customer, not an order).
    takes_order: bool = False
    # Why money matters: the amount given away, computed from params and the order.
    money: Callable[[Params, Any], Decimal] | None = None

    def parse(self, raw: dict[str, Any]) -> Params:
        """Parsed parameters, or ``InvalidInput`` naming the first bad field (``params.x``)."""
        if not isinstance(raw, dict):
            raise InvalidInput("params must be an object.", field="params")
        try:
            parsed = self.params.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            field = f"params.{where}" if where else "params"
            raise InvalidInput(f"{field}: {err['msg']}", field=field) from None
        _check_combinations(self.code, parsed)
        return parsed

    def schema(self) -> dict[str, Any]:
        return self.params.model_json_schema()


def _check_combinations(code: str, p: Params) -> None:
    if code == "modify_order":
        assert isinstance(p, ModifyOrderParams)
        if not p.changes():
            raise InvalidInput(
                "params: name one of address, payment_method_id or item_ids.", field="params"
            )
        if (p.item_ids is None) != (p.new_items is None):
            field = "params.new_items" if p.new_items is None else "params.item_ids"
            raise InvalidInput(f"{field}: item_ids and new_items go together.", field=field)
        if p.item_ids is not None and not p.item_ids:
            raise InvalidInput("params.item_ids: name at least one item.", field="params.item_ids")


def _amount(p: Params, order: Any) -> Decimal:
    return p.amount  # type: ignore[attr-defined]


def _refund_amount(p: Params, order: Any) -> Decimal:
    assert isinstance(p, RefundParams)
    return p.amount if p.amount is not None else order.refundable


def _free_period_value(p: Params, order: Any) -> Decimal:
    assert isinstance(p, FreePeriodParams)
    return p.value or Decimal("0")


def _items_value(p: Params, order: Any) -> Decimal:
    """What the listed items of the order are worth (duplicates counted)."""
    prices: dict[str, Decimal] = {}
    for line in order.items:
        prices.setdefault(str(line.get("item_id")), Decimal(str(line.get("price", "0"))))
    return sum((prices.get(i, Decimal("0")) for i in p.item_ids), Decimal("0"))  # type: ignore[attr-defined]


def _order_total(p: Params, order: Any) -> Decimal:
    return order.refundable


def _price_drop(p: Params, order: Any) -> Decimal:
    """Money going back to the customer when new items cost less than the old ones."""
    item_ids = getattr(p, "item_ids", None)
    new_items = getattr(p, "new_items", None)
    if not item_ids or not new_items:
        return Decimal("0")
    old = _items_value(p, order)
    new = sum((n.price for n in new_items), Decimal("0"))
    return max(Decimal("0"), old - new)


CATALOGUE: dict[str, ActionSpec] = {
    spec.code: spec
    for spec in (
        ActionSpec(
            "refund",
            "Refund",
            "Refund an order in full (omit amount) or in part, to the original payment method "
            "or a gift card.",
            RefundParams,
            takes_order=True,
            money=_refund_amount,
        ),
        ActionSpec(
            "account_credit",
            "Account credit",
            "Add credit to the customer's account balance.",
            CreditParams,
            money=_amount,
        ),
        ActionSpec(
            "discount_code",
            "Discount code",
            "Issue a single-use discount code worth a fixed amount.",
            DiscountCodeParams,
            money=_amount,
        ),
        ActionSpec(
            "fee_waiver",
            "Fee waiver",
            "Waive a fee (late payment, delivery, restocking…).",
            FeeWaiverParams,
            money=_amount,
        ),
        ActionSpec(
            "free_period",
            "Free-period extension",
            "Extend a subscription by a number of free days.",
            FreePeriodParams,
            money=_free_period_value,
        ),
        ActionSpec(
            "replacement",
            "Replacement shipment",
            "Ship the listed items of an order again, free of charge.",
            ReplacementParams,
            takes_order=True,
            money=_items_value,
        ),
        ActionSpec(
            "cancel_order",
            "Cancel order",
            "Cancel a pending order; its total is refunded.",
            CancelOrderParams,
            takes_order=True,
            money=_order_total,
        ),
        ActionSpec(
            "modify_order",
            "Modify pending order",
            "Change a pending order's address, payment method or items (same product).",
            ModifyOrderParams,
            takes_order=True,
            money=_price_drop,
        ),
        ActionSpec(
            "return_items",
            "Return items",
            "Return delivered items for a refund.",
            ReturnParams,
            takes_order=True,
            money=_items_value,
        ),
        ActionSpec(
            "exchange_items",
            "Exchange items",
            "Exchange delivered items for other variants of the same product.",
            ExchangeParams,
            takes_order=True,
            money=_price_drop,
        ),
        ActionSpec(
            "change_address",
            "Change default address",
            "Change the customer's default address.",
            AddressParams,
        ),
    )
}


def get_spec(code: str) -> ActionSpec:
    try:
        return CATALOGUE[code]
    except KeyError:
        raise InvalidInput(f"Unknown action '{code}'.", field="action") from None


def jsonable(params: Params) -> dict[str, Any]:
    """Parameters as JSON (Decimals as strings, so no float ever stores money)."""
    return params.model_dump(mode="json", exclude_none=True)
