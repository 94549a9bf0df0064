"""Connectors: the store's preconditions on Warmline orders, and the signed, retried webhook."""

from __future__ import annotations

import itertools
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from warmline.actions import services
from warmline.actions.catalogue import CATALOGUE
from warmline.actions.connectors import SIGNATURE_HEADER, signature_header, verify_signature
from warmline.actions.models import (
    ActionStatus,
    AuthorityProfile,
    ConnectorConfig,
    DailyUsage,
    EmpoweredAction,
)
from warmline.customers.models import Order
from warmline.errors import PolicyDenied
from warmline.tenancy.models import Notification

from ..factories import ConversationFactory, CustomerFactory
from .test_authority import make_order

GIFT = {"gift_card_9": {"source": "gift_card", "balance": "10.00"}}
METHODS = {"credit_card_1": {"source": "credit_card"}, "paypal_2": {"source": "paypal"}, **GIFT}


@pytest.fixture
def conversation(workspace, member):
    # Unlimited authority for every action, so these tests are about the connector alone.
    AuthorityProfile.objects.create(
        workspace=workspace, role="agent", limits=dict.fromkeys(CATALOGUE)
    )
    customer = CustomerFactory(workspace=workspace, custom_attributes={"payment_methods": METHODS})
    return ConversationFactory(customer=customer)


keys = itertools.count()


def act(member, conversation, action, **params):
    return services.request_action(
        member=member,
        conversation_id=conversation.pk,
        action=action,
        params=params,
        idempotency_key=f"k{next(keys)}",
    ).action


def refused(member, conversation, action, rule_text, **params):
    with pytest.raises(PolicyDenied, match=rule_text):
        act(member, conversation, action, **params)


# ------------------------------------------------------------------------ store


def test_cancel_only_a_pending_order(member, conversation):
    delivered = make_order(conversation, external_id="W1", status="delivered")
    refused(
        member,
        conversation,
        "cancel_order",
        "non-pending order cannot be cancelled",
        order_id=delivered.pk,
        reason="no longer needed",
    )
    pending = make_order(conversation, external_id="W2", status="pending", total="30.00")
    action = act(
        member, conversation, "cancel_order", order_id=pending.pk, reason="ordered by mistake"
    )
    pending.refresh_from_db()
    assert pending.status == "cancelled" and action.amount == Decimal("30.00")
    assert action.result["before"] == {"status": "pending"}
    conversation.customer.refresh_from_db()
    assert conversation.customer.lifetime_value == Decimal("100.00")  # only W1 counts now
    with pytest.raises(Exception, match="reason"):
        act(member, conversation, "cancel_order", order_id=pending.pk, reason="bored")


def test_modify_only_a_pending_order_and_items_only_once(member, conversation):
    order = make_order(conversation, status="pending")
    address = {"address1": "2 High St", "city": "Leeds", "country": "UK", "zip": "LS1"}
    act(member, conversation, "modify_order", order_id=order.pk, address=address)
    conversation.customer.refresh_from_db()
    assert conversation.customer.custom_attributes["order_addresses"]["W1"]["city"] == "Leeds"
    act(
        member,
        conversation,
        "modify_order",
        order_id=order.pk,
        item_ids=["i1"],
        new_items=[{"item_id": "i1b", "product_id": "p1", "price": "55.00"}],
    )
    order.refresh_from_db()
    assert order.status == "pending (item modified)" and order.total == Decimal("95.00")
    assert [i["item_id"] for i in order.items] == ["i1b", "i2"]
    refused(
        member,
        conversation,
        "modify_order",
        "non-pending order cannot be modified",
        order_id=order.pk,
        address=address,
    )


def test_item_changes_stay_within_the_same_product(member, conversation):
    order = make_order(conversation, status="pending")
    refused(
        member,
        conversation,
        "modify_order",
        "not found or available",
        order_id=order.pk,
        item_ids=["i1"],
        new_items=[{"item_id": "x", "product_id": "p2", "price": "1.00"}],
    )
    refused(
        member,
        conversation,
        "modify_order",
        "i9 not found",
        order_id=order.pk,
        item_ids=["i9"],
        new_items=[{"item_id": "x", "product_id": "p1", "price": "1.00"}],
    )


def test_payment_method_must_be_owned_different_and_a_gift_card_must_cover(member, conversation):
    order = make_order(conversation, status="pending")
    refused(
        member,
        conversation,
        "modify_order",
        "payment method not found",
        order_id=order.pk,
        payment_method_id="someone_elses",
    )
    refused(
        member,
        conversation,
        "modify_order",
        "should be different",
        order_id=order.pk,
        payment_method_id="credit_card_1",
    )
    refused(
        member,
        conversation,
        "modify_order",
        "insufficient gift card balance",
        order_id=order.pk,
        payment_method_id="gift_card_9",
    )
    act(member, conversation, "modify_order", order_id=order.pk, payment_method_id="paypal_2")
    order.refresh_from_db()
    assert order.payment_method == "paypal_2"


def test_return_only_delivered_items_refunded_to_original_or_gift_card(member, conversation):
    pending = make_order(conversation, external_id="W0", status="pending")
    refused(
        member,
        conversation,
        "return_items",
        "non-delivered order cannot be returned",
        order_id=pending.pk,
        item_ids=["i1"],
    )
    order = make_order(conversation, status="delivered")
    refused(
        member,
        conversation,
        "return_items",
        "original payment method or a gift card",
        order_id=order.pk,
        item_ids=["i1"],
        payment_method_id="paypal_2",
    )
    action = act(
        member,
        conversation,
        "return_items",
        order_id=order.pk,
        item_ids=["i2"],
        payment_method_id="gift_card_9",
    )
    assert action.amount == Decimal("40.00")
    order.refresh_from_db()
    conversation.customer.refresh_from_db()
    assert order.status == "return requested"
    assert (
        conversation.customer.custom_attributes["payment_methods"]["gift_card_9"]["balance"]
        == "50.00"
    )
    refused(
        member,
        conversation,
        "return_items",
        "non-delivered order cannot be returned",
        order_id=order.pk,
        item_ids=["i1"],
    )


def test_exchange_once_within_the_same_product(member, conversation):
    order = make_order(conversation, status="delivered")
    action = act(
        member,
        conversation,
        "exchange_items",
        order_id=order.pk,
        item_ids=["i2"],
        new_items=[{"item_id": "i2-blue", "product_id": "p2", "price": "35.00"}],
    )
    assert action.amount == Decimal("5.00")  # the cheaper variant's difference goes back
    assert action.result["price_difference"] == "-5.00"
    order.refresh_from_db()
    assert order.status == "exchange requested"
    refused(
        member,
        conversation,
        "exchange_items",
        "non-delivered order cannot be exchanged",
        order_id=order.pk,
        item_ids=["i1"],
        new_items=[{"item_id": "i1b", "product_id": "p1", "price": "60.00"}],
    )


def test_refunds_never_exceed_what_was_paid(member, conversation):
    order = make_order(conversation, status="delivered", total="100.00")
    act(member, conversation, "refund", order_id=order.pk, amount="70.00", reason="late")
    refused(
        member,
        conversation,
        "refund",
        "exceeds what is left",
        order_id=order.pk,
        amount="30.01",
        reason="late",
    )
    full = act(member, conversation, "refund", order_id=order.pk, reason="late")
    assert full.amount == Decimal("30.00")  # a full refund is what is left
    refused(
        member, conversation, "refund", "exceeds what is left", order_id=order.pk, reason="late"
    )


def test_replacement_ships_the_items_again_as_a_free_order(member, conversation):
    order = make_order(conversation, status="delivered")
    action = act(
        member,
        conversation,
        "replacement",
        order_id=order.pk,
        item_ids=["i1"],
        reason="arrived broken",
    )
    assert action.amount == Decimal("60.00")
    new = Order.objects.get(external_id="W1-R1")
    assert new.total == 0 and new.status == "pending" and new.items[0]["item_id"] == "i1"


def test_credit_codes_waivers_free_days_and_default_address(member, conversation):
    act(member, conversation, "account_credit", amount="5.00", reason="sorry")
    act(member, conversation, "account_credit", amount="2.50", reason="sorry again")
    code = act(member, conversation, "discount_code", amount="10", reason="birthday")
    act(member, conversation, "fee_waiver", fee="late payment", amount="4.99", reason="first")
    act(member, conversation, "free_period", subscription="premium", days=14, reason="outage")
    act(
        member,
        conversation,
        "change_address",
        address={"address1": "9 Rue Neuve", "city": "Lyon", "country": "FR", "zip": "69001"},
    )
    attrs = conversation.customer.__class__.objects.get(
        pk=conversation.customer_id
    ).custom_attributes
    assert attrs["account_credit"] == "7.50"
    assert attrs["discount_codes"][0]["code"] == code.result["code"]
    assert code.result["code"].startswith("WL-") and attrs["discount_codes"][0]["amount"] == "10.00"
    assert attrs["fee_waivers"][0]["amount"] == "4.99"
    assert attrs["free_days"] == {"premium": 14}
    assert attrs["default_address"]["city"] == "Lyon"


# ---------------------------------------------------------------------- webhook


class Receiver:
    """The business's own system on loopback: answers each POST with the next scripted code."""

    def __init__(self, codes: list[int]):
        self.codes = list(codes)
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server hook name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                code = receiver.codes.pop(0) if receiver.codes else 200
                payload = {"refund_id": "R-77"} if code < 300 else {"error": "nope"}
                out = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/warmline"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


SECRET = "whsec_test_0123456789"  # noqa: S105 - a test key


def hook(workspace, url, **kw):
    return ConnectorConfig.objects.create(
        workspace=workspace,
        name="shop",
        url=url,
        secret=SECRET,
        actions=["account_credit", "refund"],
        backoff_seconds=0.01,
        **kw,
    )


def test_webhook_retries_a_failure_then_records_the_success(
    member, conversation, django_capture_on_commit_callbacks
):
    with Receiver([503, 200]) as receiver:
        hook(member.workspace, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            action = act(member, conversation, "account_credit", amount="15.00", reason="sorry")
            assert action.status == ActionStatus.QUEUED
    action.refresh_from_db()
    assert action.status == ActionStatus.EXECUTED and action.connector == "webhook"
    assert action.attempts == 2 and action.response_code == 200
    assert action.result == {"refund_id": "R-77"}
    assert len(receiver.requests) == 2
    for headers, body in receiver.requests:
        assert verify_signature(SECRET, headers[SIGNATURE_HEADER], body)
        assert not verify_signature("another secret", headers[SIGNATURE_HEADER], body)
        assert headers["Idempotency-Key"] == action.idempotency_key
        sent = json.loads(body)
        assert sent["action"] == "account_credit" and sent["amount"] == "15.00"
        assert sent["params"] == {"amount": "15.00", "reason": "sorry"}
    # The store did not also execute it.
    conversation.customer.refresh_from_db()
    assert "account_credit" not in conversation.customer.custom_attributes


def test_webhook_gives_up_after_bounded_attempts_and_frees_the_cap(
    member, conversation, django_capture_on_commit_callbacks
):
    with Receiver([500, 502, 503, 504]) as receiver:
        hook(member.workspace, receiver.url, max_attempts=3)
        with django_capture_on_commit_callbacks(execute=True):
            action = act(member, conversation, "account_credit", amount="15.00", reason="sorry")
    action.refresh_from_db()
    assert action.status == ActionStatus.FAILED and action.attempts == 3
    assert action.response_code == 503 and "gave up after 3 attempts" in action.error
    assert len(receiver.requests) == 3
    assert DailyUsage.objects.get(member=member).total == 0
    assert Notification.objects.filter(member=member, kind="action_failed").count() == 1


def test_webhook_refusal_is_not_retried(member, conversation, django_capture_on_commit_callbacks):
    with Receiver([422]) as receiver:
        hook(member.workspace, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            action = act(member, conversation, "account_credit", amount="15.00", reason="sorry")
    action.refresh_from_db()
    assert action.status == ActionStatus.REFUSED and action.error == "nope"
    assert len(receiver.requests) == 1


def test_unreachable_webhook_fails_after_retries(
    member, conversation, django_capture_on_commit_callbacks
):
    with Receiver([]) as receiver:
        url = receiver.url
    hook(member.workspace, url, max_attempts=2, timeout_seconds=2)
    with django_capture_on_commit_callbacks(execute=True):
        action = act(member, conversation, "account_credit", amount="1.00", reason="x")
    action.refresh_from_db()
    assert action.status == ActionStatus.FAILED and action.attempts == 2
    assert action.response_code is None and "ConnectError" in action.error
    assert EmpoweredAction.objects.count() == 1


def test_signatures_reject_tampering_and_stale_timestamps():
    body = b'{"a":1}'
    header = signature_header(SECRET, body, timestamp=1_000_000)
    assert verify_signature(SECRET, header, body, now=1_000_100)
    assert not verify_signature(SECRET, header, b'{"a":2}', now=1_000_100)
    assert not verify_signature(SECRET, header, body, now=1_000_000 + 301)
    assert not verify_signature(SECRET, "garbage", body)
