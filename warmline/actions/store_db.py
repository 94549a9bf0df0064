"""``warmline store import DIR --workspace SLUG``: the retail store into Warmline's database.

The JSON copy under ``<DATA_DIR>/store`` stays the lossless record (export writes it back
byte-for-byte in meaning); this mirror is what the store connector acts on inside a
workspace: each store user becomes a customer (found by email, else created) with their
payment methods, default address and store user id in ``custom_attributes``; each order
becomes an ``Order`` (status, items, total, payment method, its shipping address kept on
the customer); each product a :class:`StoreProduct` with its variants. Re-importing
updates the same rows (orders by order id, customers by email, products by id).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from warmline.customers.models import Customer, Identity, Order
from warmline.customers.services import create_customer, recompute_lifetime_value
from warmline.tenancy.models import Member, Workspace
from warmline.tenancy.services import record_audit

from .models import StoreProduct
from .store import StoreData


def _money(value: Any) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value or "0"))


def _customer_for(workspace: Workspace, actor: Member | None, uid: str, user: dict) -> Customer:
    email = str(user.get("email") or "").strip().lower()
    ident = (
        Identity.objects.filter(workspace=workspace, kind="email", value=email)
        .select_related("customer")
        .first()
        if email
        else None
    )
    if ident is not None:
        return ident.customer
    name = user.get("name") or {}
    full = " ".join(p for p in (name.get("first_name"), name.get("last_name")) if p) or uid
    return create_customer(
        workspace=workspace,
        actor=actor,
        identities=[("email", email)] if email else [],
        name=full,
    )


@transaction.atomic
def import_store(*, workspace: Workspace, actor: Member | None, data: StoreData) -> dict[str, int]:
    """Mirror ``data`` into ``workspace``; returns how many of each were written."""
    for pid, product in data.products.items():
        StoreProduct.objects.update_or_create(
            workspace=workspace,
            product_id=str(product.get("product_id") or pid),
            defaults={"name": product.get("name") or "", "variants": product.get("variants") or {}},
        )
    customers: dict[str, Customer] = {}
    for uid, user in data.users.items():
        customer = _customer_for(workspace, actor, uid, user)
        attrs = dict(customer.custom_attributes or {})
        attrs.update(
            store_user_id=uid,
            payment_methods=user.get("payment_methods") or {},
            default_address=user.get("address"),
        )
        customer.custom_attributes = attrs
        customer.save(update_fields=["custom_attributes"])
        customers[uid] = customer
    touched: set[int] = set()
    for oid, order in data.orders.items():
        customer = customers.get(str(order.get("user_id")))
        if customer is None:
            continue  # a dangling reference (reported by import): nobody to attach it to
        payments = [
            p for p in order.get("payment_history") or [] if p.get("transaction_type") == "payment"
        ]
        total = sum((_money(i.get("price")) for i in order.get("items") or []), Decimal("0"))
        Order.objects.update_or_create(
            workspace=workspace,
            external_id=str(order.get("order_id") or oid),
            defaults={
                "customer": customer,
                "status": order.get("status") or "pending",
                "items": order.get("items") or [],
                "total": total,
                "payment_method": payments[0].get("payment_method_id", "") if payments else "",
            },
        )
        if order.get("address"):
            attrs = customer.custom_attributes
            attrs.setdefault("order_addresses", {})[str(order.get("order_id") or oid)] = order[
                "address"
            ]
        touched.add(customer.pk)
    for customer in customers.values():
        if customer.pk in touched:
            customer.save(update_fields=["custom_attributes"])
            recompute_lifetime_value(customer=customer)
    counts = {
        "products": len(data.products),
        "customers": len(customers),
        "orders": Order.objects.filter(workspace=workspace, customer__in=customers.values())
        .only("id")
        .count(),
    }
    record_audit(
        workspace=workspace, actor=actor, action="store.import", obj=workspace, after=counts
    )
    return counts
