"""The generic JSON webhook channel: HMAC-SHA256 over timestamp and body, replays refused."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from warmline.channels import outbound
from warmline.channels.messaging.models import MessagingAccount, Provider
from warmline.channels.messaging.services import verify_webhook, webhook_signature
from warmline.channels.models import OutboundStatus
from warmline.conversations.models import DeliveryStatus, TimelineEntry
from warmline.customers.models import Identity

from .provider import Provider as FakeProvider

SECRET = "whsec-0123456789"


@pytest.fixture
def far_side():
    with FakeProvider() as p:
        yield p


@pytest.fixture
def hook(workspace, far_side):
    return MessagingAccount.objects.create(
        workspace=workspace,
        name="Social bridge",
        provider=Provider.WEBHOOK,
        channel="social",
        secret=SECRET,
        outbound_url=far_side.url + "/outbound",
    )


def event(**over):
    return {
        "type": "message",
        "id": "ig-msg-1",
        "from": {"handle": "@ana.garcia", "name": "Ana García"},
        "text": "Your post says free shipping but I was charged.",
        "thread": "dm-42",
        "sent_at": "2026-01-05T10:00:00Z",
        **over,
    }


def post(client, hook, body: bytes, *, stamp=None, secret=SECRET, signature=None):
    stamp = str(int(time.time()) if stamp is None else stamp)
    sig = signature if signature is not None else webhook_signature(secret, stamp, body)
    return client.post(
        f"/hooks/webhook/{hook.key}/",
        data=body,
        content_type="application/json",
        headers={"X-Warmline-Timestamp": stamp, "X-Warmline-Signature": sig},
    )


def test_signed_event_is_ingested_and_a_retry_returns_the_same_message(workspace, hook):
    client = Client()
    body = json.dumps(event()).encode()
    first = post(client, hook, body)
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "stored" and first.json()["created"] is True
    again = post(client, hook, body)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    entry = TimelineEntry.objects.get(workspace=workspace)
    assert entry.channel == "social" and entry.external_id == "ig-msg-1"
    assert Identity.objects.get(customer=entry.author_customer, kind="social").value == (
        "ana.garcia"
    )
    # The next message of the same thread continues the same conversation.
    follow = json.dumps(event(id="ig-msg-2", text="Any news?", sent_at=None)).encode()
    assert post(client, hook, follow).status_code == 200
    assert TimelineEntry.objects.filter(conversation=entry.conversation).count() == 2


def test_old_or_future_timestamps_are_refused_even_when_correctly_signed(workspace, hook):
    client = Client()
    body = json.dumps(event()).encode()
    now = int(time.time())
    old = post(client, hook, body, stamp=now - 301)
    assert old.status_code == 403
    assert old.json()["detail"][0]["loc"] == ["body", "X-Warmline-Timestamp"]
    assert post(client, hook, body, stamp=now + 301).status_code == 403
    assert post(client, hook, body, stamp="yesterday", signature="sha256=00").status_code == 403
    assert post(client, hook, body, stamp=now - 290).status_code == 200  # inside the window
    assert TimelineEntry.objects.filter(workspace=workspace).count() == 1


def test_bad_signatures_are_refused(workspace, hook):
    client = Client()
    body = json.dumps(event()).encode()
    assert post(client, hook, body, secret="not-the-secret").status_code == 403
    assert post(client, hook, body, signature="").status_code == 403
    stamp = str(int(time.time()))
    sig = webhook_signature(SECRET, stamp, body)
    tampered = json.dumps(event(text="Refund me twice")).encode()
    assert post(client, hook, tampered, stamp=stamp, signature=sig).status_code == 403
    # The signature binds the timestamp too: a fresh stamp on an old signature fails.
    assert post(client, hook, body, stamp=int(stamp) + 1, signature=sig).status_code == 403
    assert not TimelineEntry.objects.filter(workspace=workspace).exists()


def test_verify_window_is_five_minutes():
    account = MessagingAccount(secret=SECRET)
    body = b"{}"
    sig = webhook_signature(SECRET, "1000", body)
    verify_webhook(account, body=body, timestamp="1000", signature=sig, now=1300)
    with pytest.raises(Exception, match="five minutes"):
        verify_webhook(account, body=body, timestamp="1000", signature=sig, now=1301)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"text": ""}, "text"),
        ({"id": None}, "id"),
        ({"from": "ana"}, "from"),
        ({"sent_at": "last tuesday"}, "sent_at"),
        ({"type": "reaction"}, "type"),
    ],
)
def test_malformed_events_are_422_naming_the_field(workspace, hook, change, field):
    body = json.dumps(event(**change)).encode()
    resp = post(Client(), hook, body)
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", field]


def test_not_json_is_422(workspace, hook):
    resp = post(Client(), hook, b"not json")
    assert resp.status_code == 422


def test_reply_goes_out_signed_and_status_events_update_the_timeline(
    workspace, member, hook, far_side, django_capture_on_commit_callbacks
):
    client = Client()
    post(client, hook, json.dumps(event()).encode())
    conv = TimelineEntry.objects.get(workspace=workspace).conversation
    far_side.script = [(200, {"id": "ig-out-77"})]
    with django_capture_on_commit_callbacks(execute=True):
        msg = outbound.send(
            workspace=workspace, actor=member, conversation=conv, text="We refunded the shipping."
        )
    msg.refresh_from_db()
    assert msg.status == OutboundStatus.SENT and msg.external_id == "ig-out-77"
    req = far_side.seen[0]
    assert req.path == "/outbound"
    # The far side can verify us with the same scheme.
    verify_webhook(
        hook,
        body=req.body,
        timestamp=req.headers["x-warmline-timestamp"],
        signature=req.headers["x-warmline-signature"],
    )
    assert req.json == {
        "type": "message",
        "id": f"wl-{msg.pk}",
        "to": "ana.garcia",
        "text": "We refunded the shipping.",
        "conversation": conv.pk,
    }
    status = json.dumps({"type": "status", "id": "ig-out-77", "status": "delivered"}).encode()
    resp = post(client, hook, status)
    assert resp.status_code == 200 and resp.json()["status"] == "updated"
    entry = TimelineEntry.objects.get(pk=msg.entry_id)
    assert entry.delivery_status == DeliveryStatus.DELIVERED
    unknown = json.dumps({"type": "status", "id": "nope", "status": "delivered"}).encode()
    assert post(client, hook, unknown).json()["status"] == "ignored"
