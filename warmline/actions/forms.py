"""The conversation page's action form: fields from the catalogue, params from a POST.

The catalogue's pydantic models stay the one contract: this module only says how each
parameter is typed into an HTML form and turns the submitted strings back into the
``params`` dict that ``services.request_action`` validates (which names any bad field).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from .catalogue import ActionSpec, Address

LABELS = {
    "order_id": _("Order"),
    "amount": _("Amount"),
    "value": _("Value"),
    "currency": _("Currency"),
    "reason": _("Reason"),
    "payment_method_id": _("Payment method (empty: the original one)"),
    "valid_days": _("Valid for (days)"),
    "fee": _("Fee"),
    "subscription": _("Subscription"),
    "days": _("Free days"),
    "item_ids": _("Item ids (separated by commas)"),
    "new_items": _("New items (one per line: item id and price)"),
    "address": _("Address"),
    "address1": _("Address line 1"),
    "address2": _("Address line 2"),
    "city": _("City"),
    "state": _("State or province"),
    "country": _("Country"),
    "zip": _("Postal code"),
}


@dataclass
class FormField:
    name: str  # the POST name; nested address fields are "address.city"
    label: str
    kind: str  # order, money, int, choice, list, lines, text
    required: bool
    choices: list[str] = field(default_factory=list)
    max_length: int | None = None


def _kind(name: str, annotation: Any) -> tuple[str, list[str]]:
    if name == "order_id":
        return "order", []
    if name == "new_items":
        return "lines", []
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return "choice", [str(a) for a in typing.get_args(annotation)]
    if typing.get_origin(annotation) is list or name == "item_ids":
        return "list", []
    text = repr(annotation)
    if annotation is Decimal or "Decimal" in text:
        return "money", []
    if annotation is int or args == [int]:
        return "int", []
    return "text", []


def _max_length(info: Any) -> int | None:
    for meta in info.metadata:
        if getattr(meta, "max_length", None):
            return meta.max_length
    return None


def fields_for(spec: ActionSpec) -> list[FormField]:
    """One form field per parameter the catalogue's schema names, in its order."""
    out: list[FormField] = []
    for name, info in spec.params.model_fields.items():
        if name == "address":
            for sub, sub_info in Address.model_fields.items():
                out.append(
                    FormField(
                        f"address.{sub}",
                        str(LABELS.get(sub, sub)),
                        "text",
                        sub_info.is_required() and info.is_required(),
                        max_length=_max_length(sub_info),
                    )
                )
            continue
        kind, choices = _kind(name, info.annotation)
        out.append(
            FormField(
                name,
                str(LABELS.get(name, name.replace("_", " "))),
                kind,
                info.is_required(),
                choices,
                _max_length(info),
            )
        )
    return out


def params_from_post(spec: ActionSpec, post: QueryDict) -> dict[str, Any]:
    """The submitted strings as the catalogue's params; empty fields are left out so the
    catalogue's defaults and "required" messages apply."""
    params: dict[str, Any] = {}
    address: dict[str, str] = {}
    for f in fields_for(spec):
        raw = post.get(f.name, "").strip()
        if not raw:
            continue
        if f.name.startswith("address."):
            address[f.name.split(".", 1)[1]] = raw
        elif f.kind == "list":
            params[f.name] = [p for p in re.split(r"[,\s]+", raw) if p]
        elif f.kind == "lines":
            params[f.name] = [_new_item(line) for line in raw.splitlines() if line.strip()]
        else:
            params[f.name] = raw
    if address:
        params["address"] = address
    return params


def _new_item(line: str) -> dict[str, str]:
    parts = line.split()
    item: dict[str, str] = {"item_id": parts[0]}
    if len(parts) > 1:
        item["price"] = parts[1]
    return item


def changes(result: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """What an executed action changed, as (what, before, after) rows for the page."""
    before = result.get("before") if isinstance(result.get("before"), dict) else {}
    after = result.get("after") if isinstance(result.get("after"), dict) else {}
    return [(key, before.get(key, "—"), value) for key, value in after.items()]
