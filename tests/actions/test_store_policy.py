"""Each store-policy precondition, on a small hand-made store: refusals change nothing."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from warmline.actions.store import StoreData, StoreSession, calculate
from warmline.actions.store_policy import StoreInvalid

ADDRESS = {
    "address1": "1 Main St",
    "address2": "Apt 1",
    "city": "Austin",
    "country": "USA",
    "state": "TX",
    "zip": "78701",
}
NEW_ADDRESS = {
    "address1": "9 Elm St",
    "address2": "",
    "city": "Boston",
    "state": "MA",
    "country": "USA",
    "zip": "02101",
}


def _item(product_id: str, item_id: str, price: float, name: str, **options: str) -> dict:
    return {
        "name": name,
        "product_id": product_id,
        "item_id": item_id,
        "price": price,
        "options": options,
    }


def _order(
    order_id: str, user_id: str, status: str, items: list[dict], method: str, **extra
) -> dict:
    total = float(sum(Decimal(repr(i["price"])) for i in items))
    return {
        "order_id": order_id,
        "user_id": user_id,
        "address": dict(ADDRESS),
        "items": items,
        "fulfillments": [],
        "status": status,
        "payment_history": [
            {"transaction_type": "payment", "amount": total, "payment_method_id": method}
        ],
        **extra,
    }


SHIRT_S = _item("p_shirt", "shirt_s", 40.01, "T-Shirt", size="S")
SHIRT_M = _item("p_shirt", "shirt_m", 42.04, "T-Shirt", size="M")
LAMP = _item("p_lamp", "lamp_w", 20.5, "Lamp", color="white")


def small_store() -> StoreData:
    """Two customers; ada holds one order in every interesting state."""
    products = {
        "p_shirt": {
            "name": "T-Shirt",
            "product_id": "p_shirt",
            "variants": {
                "shirt_s": {
                    "item_id": "shirt_s",
                    "options": {"size": "S"},
                    "available": True,
                    "price": 40.01,
                },
                "shirt_m": {
                    "item_id": "shirt_m",
                    "options": {"size": "M"},
                    "available": True,
                    "price": 42.04,
                },
                "shirt_l": {
                    "item_id": "shirt_l",
                    "options": {"size": "L"},
                    "available": False,
                    "price": 43.0,
                },
                "shirt_xs": {
                    "item_id": "shirt_xs",
                    "options": {"size": "XS"},
                    "available": True,
                    "price": 30.0,
                },
            },
        },
        "p_lamp": {
            "name": "Lamp",
            "product_id": "p_lamp",
            "variants": {
                "lamp_w": {
                    "item_id": "lamp_w",
                    "options": {"color": "white"},
                    "available": True,
                    "price": 20.5,
                },
                "lamp_b": {
                    "item_id": "lamp_b",
                    "options": {"color": "black"},
                    "available": True,
                    "price": 22.53,
                },
            },
        },
    }
    ada_methods = {
        "credit_card_1": {
            "source": "credit_card",
            "brand": "visa",
            "last_four": "1111",
            "id": "credit_card_1",
        },
        "paypal_1": {"source": "paypal", "id": "paypal_1"},
        "gift_card_1": {"source": "gift_card", "balance": 0.1, "id": "gift_card_1"},
        "gift_card_2": {"source": "gift_card", "balance": 2.03, "id": "gift_card_2"},
        "gift_card_big": {"source": "gift_card", "balance": 500, "id": "gift_card_big"},
    }
    orders = {
        "#P1": _order(
            "#P1", "ada", "pending", [copy.deepcopy(SHIRT_S), copy.deepcopy(LAMP)], "credit_card_1"
        ),
        "#P2": _order("#P2", "ada", "pending", [copy.deepcopy(SHIRT_S)], "gift_card_1"),
        "#P3": _order("#P3", "ada", "pending", [copy.deepcopy(LAMP)], "paypal_1"),
        "#R1": _order("#R1", "ada", "processed", [copy.deepcopy(SHIRT_S)], "credit_card_1"),
        "#D1": _order(
            "#D1",
            "ada",
            "delivered",
            [copy.deepcopy(SHIRT_S), copy.deepcopy(SHIRT_S), copy.deepcopy(LAMP)],
            "paypal_1",
        ),
        "#C1": _order(
            "#C1",
            "ada",
            "cancelled",
            [copy.deepcopy(LAMP)],
            "paypal_1",
            cancel_reason="ordered by mistake",
        ),
        "#B1": _order("#B1", "bob", "pending", [copy.deepcopy(LAMP)], "paypal_9"),
    }
    orders["#P2"]["payment_history"][0]["amount"] = 0.2
    users = {
        "ada": {
            "name": {"first_name": "Ada", "last_name": "Lovelace"},
            "address": dict(ADDRESS),
            "email": "ada@example.com",
            "payment_methods": ada_methods,
            "orders": ["#P1", "#P2", "#P3", "#R1", "#D1", "#C1"],
        },
        "bob": {
            "name": {"first_name": "Bob", "last_name": "Lovelace"},
            "address": dict(ADDRESS),
            "email": "bob@example.com",
            "payment_methods": {"paypal_9": {"source": "paypal", "id": "paypal_9"}},
            "orders": ["#B1"],
        },
    }
    return StoreData(users=users, orders=orders, products=products)


@pytest.fixture
def store() -> StoreData:
    return small_store()


@pytest.fixture
def ada(store) -> StoreSession:
    return store.session(customer_id="ada")


def nothing_changed(session: StoreSession) -> bool:
    return all(not records for records in session.changed().values())


def refuse(session: StoreSession, name: str, rule: str, **kwargs) -> str:
    """Apply an action that must be refused by ``rule`` and leave the session unchanged."""
    before = json.dumps(session.changed(), sort_keys=True)
    result = session.apply(name, kwargs)
    assert result.refused, result.output
    assert result.output.startswith("Error")
    assert result.rule == rule, (result.rule, result.output)
    assert json.dumps(session.changed(), sort_keys=True) == before
    return result.output


def ok(session: StoreSession, name: str, **kwargs) -> dict | str:
    result = session.apply(name, kwargs)
    assert not result.refused, result.output
    try:
        return json.loads(result.output)
    except json.JSONDecodeError:
        return result.output


def balance(session: StoreSession, method: str) -> float:
    return session.users["ada"]["payment_methods"][method]["balance"]


# ---------------------------------------------------------------- cancel


@pytest.mark.parametrize("order_id", ["#R1", "#D1", "#C1"])
def test_only_pending_orders_can_be_cancelled(ada, order_id):
    assert refuse(
        ada,
        "cancel_pending_order",
        "cancel.pending_only",
        order_id=order_id,
        reason="no longer needed",
    ) == ("Error: non-pending order cannot be cancelled")


def test_cancel_reason_must_be_one_of_the_two_policy_reasons(ada):
    refuse(ada, "cancel_pending_order", "cancel.reason", order_id="#P1", reason="found it cheaper")


def test_cancel_refunds_original_method_and_gift_card_at_once_in_exact_cents(ada):
    order = ok(ada, "cancel_pending_order", order_id="#P2", reason="ordered by mistake")
    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "ordered by mistake"
    assert order["payment_history"][-1] == {
        "transaction_type": "refund",
        "amount": 0.2,
        "payment_method_id": "gift_card_1",
    }
    assert balance(ada, "gift_card_1") == 0.3  # not 0.30000000000000004
    assert set(ada.changed()["users"]) == {"ada"}


def test_cancel_to_card_moves_no_balance(ada):
    ok(ada, "cancel_pending_order", order_id="#P1", reason="no longer needed")
    assert ada.changed()["users"] == {}


# ---------------------------------------------------------------- modify


@pytest.mark.parametrize("order_id", ["#R1", "#D1", "#C1"])
def test_only_pending_orders_can_be_modified(ada, order_id):
    refuse(
        ada, "modify_pending_order_address", "modify.pending_only", order_id=order_id, **NEW_ADDRESS
    )
    refuse(
        ada,
        "modify_pending_order_payment",
        "modify.pending_only",
        order_id=order_id,
        payment_method_id="paypal_1",
    )
    refuse(
        ada,
        "modify_pending_order_items",
        "modify.pending_only",
        order_id=order_id,
        item_ids=["shirt_s"],
        new_item_ids=["shirt_m"],
        payment_method_id="paypal_1",
    )


def test_address_change_keeps_the_order_pending(ada):
    order = ok(ada, "modify_pending_order_address", order_id="#P1", **NEW_ADDRESS)
    assert order["status"] == "pending"
    assert order["address"] == NEW_ADDRESS


def test_payment_must_change_to_a_different_method(ada):
    refuse(
        ada,
        "modify_pending_order_payment",
        "modify_payment.different_method",
        order_id="#P1",
        payment_method_id="credit_card_1",
    )


def test_payment_method_must_be_the_customers_own(ada):
    refuse(
        ada,
        "modify_pending_order_payment",
        "payment_method.owned",
        order_id="#P1",
        payment_method_id="paypal_9",
    )


def test_gift_card_must_cover_the_whole_order(ada):
    refuse(
        ada,
        "modify_pending_order_payment",
        "gift_card.covers_total",
        order_id="#P1",
        payment_method_id="gift_card_2",
    )


def test_payment_change_swaps_balances_between_gift_cards(ada):
    order = ok(
        ada, "modify_pending_order_payment", order_id="#P2", payment_method_id="gift_card_big"
    )
    assert order["status"] == "pending"
    assert [p["transaction_type"] for p in order["payment_history"]] == [
        "payment",
        "payment",
        "refund",
    ]
    assert balance(ada, "gift_card_big") == 499.8
    assert balance(ada, "gift_card_1") == 0.3


def test_payment_can_change_only_while_one_payment_exists(ada):
    ok(ada, "modify_pending_order_payment", order_id="#P3", payment_method_id="credit_card_1")
    refuse(
        ada,
        "modify_pending_order_payment",
        "modify_payment.single_payment",
        order_id="#P3",
        payment_method_id="gift_card_big",
    )


def test_items_change_only_within_the_same_product(ada):
    refuse(
        ada,
        "modify_pending_order_items",
        "items.same_product_available",
        order_id="#P1",
        item_ids=["shirt_s"],
        new_item_ids=["lamp_b"],
        payment_method_id="paypal_1",
    )


def test_items_change_only_to_available_variants(ada):
    refuse(
        ada,
        "modify_pending_order_items",
        "items.same_product_available",
        order_id="#P1",
        item_ids=["shirt_s"],
        new_item_ids=["shirt_l"],
        payment_method_id="paypal_1",
    )


def test_items_to_change_must_be_in_the_order(ada):
    refuse(
        ada,
        "modify_pending_order_items",
        "items.listed",
        order_id="#P1",
        item_ids=["shirt_s", "shirt_s"],
        new_item_ids=["shirt_m", "shirt_m"],
        payment_method_id="paypal_1",
    )


def test_every_item_needs_exactly_one_new_item(ada):
    refuse(
        ada,
        "modify_pending_order_items",
        "items.paired",
        order_id="#P1",
        item_ids=["shirt_s", "lamp_w"],
        new_item_ids=["shirt_m"],
        payment_method_id="paypal_1",
    )


def test_empty_item_list_is_invalid(ada):
    refuse(
        ada,
        "modify_pending_order_items",
        "invalid",
        order_id="#P1",
        item_ids=[],
        new_item_ids=[],
        payment_method_id="paypal_1",
    )


def test_items_are_modified_once_then_the_order_is_locked(ada):
    order = ok(
        ada,
        "modify_pending_order_items",
        order_id="#P1",
        item_ids=["shirt_s"],
        new_item_ids=["shirt_m"],
        payment_method_id="paypal_1",
    )
    assert order["status"] == "pending (item modified)"
    assert order["items"][0]["item_id"] == "shirt_m"
    assert order["items"][0]["price"] == 42.04
    assert order["items"][0]["options"] == {"size": "M"}
    refuse(
        ada,
        "modify_pending_order_items",
        "modify.pending_only",
        order_id="#P1",
        item_ids=["lamp_w"],
        new_item_ids=["lamp_b"],
        payment_method_id="paypal_1",
    )
    refuse(
        ada,
        "cancel_pending_order",
        "cancel.pending_only",
        order_id="#P1",
        reason="no longer needed",
    )


def test_cheaper_item_records_a_refund_to_the_chosen_method(ada):
    order = ok(
        ada,
        "modify_pending_order_items",
        order_id="#P1",
        item_ids=["shirt_s"],
        new_item_ids=["shirt_xs"],
        payment_method_id="gift_card_2",
    )
    assert order["payment_history"][-1]["transaction_type"] == "refund"
    assert balance(ada, "gift_card_2") == 12.04  # 2.03 + 10.01


def test_gift_card_must_cover_the_price_difference(ada):
    assert (
        refuse(
            ada,
            "modify_pending_order_items",
            "gift_card.covers_difference",
            order_id="#P1",
            item_ids=["shirt_s"],
            new_item_ids=["shirt_m"],
            payment_method_id="gift_card_1",
        )
        == "Error: insufficient gift card balance to pay for the new item"
    )


def test_gift_card_cover_is_decided_in_exact_cents(ada):
    # 42.04 - 40.01 is 2.030000000000001 in binary floats: a float check would refuse
    # a card holding exactly 2.03.
    assert 42.04 - 40.01 > 2.03
    order = ok(
        ada,
        "modify_pending_order_items",
        order_id="#P1",
        item_ids=["shirt_s"],
        new_item_ids=["shirt_m"],
        payment_method_id="gift_card_2",
    )
    assert balance(ada, "gift_card_2") == 0.0
    # The record keeps the reference's float rendering of the difference.
    assert order["payment_history"][-1] == {
        "transaction_type": "payment",
        "amount": 42.04 - 40.01,
        "payment_method_id": "gift_card_2",
    }


# ---------------------------------------------------------------- return


@pytest.mark.parametrize("order_id", ["#P1", "#R1", "#C1"])
def test_only_delivered_orders_can_be_returned(ada, order_id):
    refuse(
        ada,
        "return_delivered_order_items",
        "return.delivered_only",
        order_id=order_id,
        item_ids=["shirt_s"],
        payment_method_id="paypal_1",
    )


def test_refund_goes_to_the_original_method_or_a_gift_card(ada):
    refuse(
        ada,
        "return_delivered_order_items",
        "return.refund_destination",
        order_id="#D1",
        item_ids=["shirt_s"],
        payment_method_id="credit_card_1",
    )
    order = ok(
        ada,
        "return_delivered_order_items",
        order_id="#D1",
        item_ids=["lamp_w", "shirt_s"],
        payment_method_id="gift_card_1",
    )
    assert order["status"] == "return requested"
    assert order["return_items"] == ["lamp_w", "shirt_s"]
    assert order["return_payment_method_id"] == "gift_card_1"


def test_refund_to_the_original_method(ada):
    order = ok(
        ada,
        "return_delivered_order_items",
        order_id="#D1",
        item_ids=["shirt_s", "shirt_s"],
        payment_method_id="paypal_1",
    )
    assert order["return_items"] == ["shirt_s", "shirt_s"]


def test_returned_items_must_be_in_the_order_as_often_as_listed(ada):
    assert (
        refuse(
            ada,
            "return_delivered_order_items",
            "items.listed",
            order_id="#D1",
            item_ids=["lamp_w", "lamp_w"],
            payment_method_id="paypal_1",
        )
        == "Error: some item not found"
    )


def test_a_gift_card_of_another_customer_is_not_a_refund_destination(ada):
    refuse(
        ada,
        "return_delivered_order_items",
        "payment_method.owned",
        order_id="#D1",
        item_ids=["lamp_w"],
        payment_method_id="gift_card_999",
    )


# ---------------------------------------------------------------- exchange


@pytest.mark.parametrize("order_id", ["#P1", "#R1", "#C1"])
def test_only_delivered_orders_can_be_exchanged(ada, order_id):
    refuse(
        ada,
        "exchange_delivered_order_items",
        "exchange.delivered_only",
        order_id=order_id,
        item_ids=["shirt_s"],
        new_item_ids=["shirt_m"],
        payment_method_id="paypal_1",
    )


def test_exchange_happens_once_and_moves_no_balance(ada):
    order = ok(
        ada,
        "exchange_delivered_order_items",
        order_id="#D1",
        item_ids=["shirt_s", "lamp_w"],
        new_item_ids=["shirt_m", "lamp_b"],
        payment_method_id="gift_card_big",
    )
    assert order["status"] == "exchange requested"
    assert order["exchange_items"] == ["lamp_w", "shirt_s"]
    assert order["exchange_new_items"] == ["lamp_b", "shirt_m"]
    assert order["exchange_price_difference"] == 4.06
    assert ada.changed()["users"] == {}
    refuse(
        ada,
        "exchange_delivered_order_items",
        "exchange.delivered_only",
        order_id="#D1",
        item_ids=["shirt_s"],
        new_item_ids=["shirt_xs"],
        payment_method_id="paypal_1",
    )
    refuse(
        ada,
        "return_delivered_order_items",
        "return.delivered_only",
        order_id="#D1",
        item_ids=["shirt_s"],
        payment_method_id="paypal_1",
    )


def test_exchange_gift_card_must_cover_the_difference(ada):
    assert (
        refuse(
            ada,
            "exchange_delivered_order_items",
            "gift_card.covers_difference",
            order_id="#D1",
            item_ids=["lamp_w"],
            new_item_ids=["lamp_b"],
            payment_method_id="gift_card_1",
        )
        == "Error: insufficient gift card balance to pay for the price difference"
    )


def test_exchange_stays_within_the_product(ada):
    refuse(
        ada,
        "exchange_delivered_order_items",
        "items.same_product_available",
        order_id="#D1",
        item_ids=["lamp_w"],
        new_item_ids=["shirt_m"],
        payment_method_id="paypal_1",
    )


# ---------------------------------------------------------------- one customer per conversation


def test_another_customers_order_looks_absent(ada):
    assert (
        refuse(
            ada,
            "cancel_pending_order",
            "session.one_customer",
            order_id="#B1",
            reason="no longer needed",
        )
        == "Error: order not found"
    )
    refuse(ada, "get_order_details", "session.one_customer", order_id="#B1")
    refuse(ada, "modify_user_address", "session.one_customer", user_id="bob", **NEW_ADDRESS)


def test_authentication_required_before_acting(store):
    session = store.session(require_authentication=True)
    refuse(
        session,
        "cancel_pending_order",
        "session.authenticated",
        order_id="#P1",
        reason="no longer needed",
    )
    assert ok(session, "find_user_id_by_email", email="ada@example.com") == "ada"
    ok(session, "cancel_pending_order", order_id="#P1", reason="no longer needed")


def test_a_conversation_serves_one_customer(store):
    session = store.session()
    assert (
        ok(session, "find_user_id_by_name_zip", first_name="ADA", last_name="lovelace", zip="78701")
        == "ada"
    )
    refuse(session, "find_user_id_by_email", "session.one_customer", email="bob@example.com")


# ---------------------------------------------------------------- reads and the rest


def test_reads_answer_the_record_json(ada):
    assert ok(ada, "get_order_details", order_id="#P1")["order_id"] == "#P1"
    assert ok(ada, "get_user_details", user_id="ada")["email"] == "ada@example.com"
    assert ok(ada, "get_product_details", product_id="p_lamp")["name"] == "Lamp"
    assert ok(ada, "list_all_product_types") == {"Lamp": "p_lamp", "T-Shirt": "p_shirt"}
    assert (
        ada.apply("get_product_details", {"product_id": "nope"}).output
        == "Error: product not found"
    )
    assert ada.apply("find_user_id_by_email", {"email": "nobody@example.com"}).refused


def test_user_address_change_is_seen_by_lookups(store):
    session = store.session(customer_id="ada")
    user = ok(session, "modify_user_address", user_id="ada", **NEW_ADDRESS)
    assert user["address"] == NEW_ADDRESS
    assert (
        ok(session, "find_user_id_by_name_zip", first_name="Ada", last_name="Lovelace", zip="02101")
        == "ada"
    )
    assert store.users["ada"]["address"]["zip"] == "78701"  # the loaded store is untouched


def test_transfer_and_calculate(ada):
    assert (
        ok(ada, "transfer_to_human_agents", summary="wants a refund to a new card")
        == "Transfer successful"
    )
    assert [t.summary for t in ada.transfers] == ["wants a refund to a new card"]
    assert calculate("(42.04 - 40.01) * 2") == "4.06"
    assert calculate("2 + 2") == "4.0"
    with pytest.raises(StoreInvalid):
        calculate("__import__('os')")
    assert ada.apply("calculate", {"expression": "1/0"}).output == "Error: division by zero"


def test_unknown_actions_and_bad_arguments_are_refused(ada):
    assert ada.apply("refund_everything", {}).refused
    assert ada.apply("cancel_pending_order", {"order_id": "#P1"}).refused
    assert ada.apply(
        "cancel_pending_order", {"order_id": ["#P1"], "reason": "no longer needed"}
    ).refused
    assert nothing_changed(ada)


def test_sessions_are_isolated_copies(store):
    first = store.session(customer_id="ada")
    ok(first, "cancel_pending_order", order_id="#P2", reason="no longer needed")
    second = store.session(customer_id="ada")
    assert second.orders["#P2"]["status"] == "pending"
    assert store.orders["#P2"]["status"] == "pending"
    assert store.users["ada"]["payment_methods"]["gift_card_1"]["balance"] == 0.1
    assert nothing_changed(second)
