"""SMS, WhatsApp and generic webhooks: verify, translate to ``InboundMessage``, ingest.

Two signing schemes:

* Twilio's ``X-Twilio-Signature``: base64(HMAC-SHA1(auth token, URL + each POST
  parameter name and value, sorted by name)). The URL is the exact one the
  provider requested, query string included.
* The generic webhook: ``X-Warmline-Timestamp: <unix seconds>`` and
  ``X-Warmline-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``.
  A timestamp more than five minutes away from now is refused, so a captured
  request cannot be replayed later; within the window, the message id makes a
  replay (or a provider's retry) return the stored message instead of a copy.

Retries are idempotent because the provider's message id becomes the
message's external id (``ingest`` returns the existing entry).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from warmline.channels import outbound
from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender, ThreadHints
from warmline.errors import InvalidInput, NotFound

from .models import MessagingAccount

MAX_SKEW_SECONDS = 300
MAX_BODY = 1_000_000
MAX_MEDIA = 10


class BadSignature(InvalidInput):
    """The request's signature does not verify."""

    status = 403
    code = "bad_signature"


def get_account(*, provider: str, key: str) -> MessagingAccount:
    account = (
        MessagingAccount.objects.select_related("workspace")
        .filter(provider=provider, key=key, is_active=True)
        .first()
    )
    if account is None:
        raise NotFound("No such messaging account.", field="key")
    return account


# --- Twilio-compatible -----------------------------------------------------------------


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """The X-Twilio-Signature value for a form-encoded POST to ``url``."""
    # As Twilio's own validators do: names sorted, each name's distinct values sorted.
    data = url + "".join(k + v for k, v in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio(
    account: MessagingAccount, *, url: str, params: list[tuple[str, str]], signature: str
) -> None:
    if not account.auth_token:
        raise BadSignature("The account has no auth token to verify with.", field="signature")
    expected = twilio_signature(url, params, account.auth_token)
    if not signature or not hmac.compare_digest(expected, signature):
        raise BadSignature("X-Twilio-Signature does not match.", field="X-Twilio-Signature")


def _first(params: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params:
        out.setdefault(k, v)
    return out


def twilio_channel(address: str) -> str:
    return "whatsapp" if address.lower().startswith("whatsapp:") else "sms"


def receive_twilio(*, account: MessagingAccount, params: list[tuple[str, str]]):
    """One inbound SMS or WhatsApp message (already verified) into ``ingest``."""
    p = _first(params)
    sid = p.get("MessageSid") or p.get("SmsSid") or p.get("SmsMessageSid")
    if not sid:
        raise InvalidInput("MessageSid is missing.", field="MessageSid")
    sender = p.get("From", "")
    if not sender:
        raise InvalidInput("From is missing.", field="From")
    try:
        media_count = min(int(p.get("NumMedia", "0") or 0), MAX_MEDIA)
    except ValueError:
        raise InvalidInput("NumMedia is not a number.", field="NumMedia") from None
    attachments = [
        {
            "url": p[f"MediaUrl{i}"],
            "content_type": p.get(f"MediaContentType{i}", ""),
            "source": "provider",
        }
        for i in range(media_count)
        if p.get(f"MediaUrl{i}")
    ]
    channel = twilio_channel(sender)
    return conversations.ingest(
        workspace=account.workspace,
        message=InboundMessage(
            channel=channel,
            text=p.get("Body", ""),
            sender=Sender(phone=sender, name=p.get("ProfileName", "")),
            external_id=sid,
            attachments=attachments,
            data={
                "provider": "twilio",
                "account": account.pk,
                "to": p.get("To", ""),
                **({"wa_id": p["WaId"]} if p.get("WaId") else {}),
            },
        ),
    )


# Provider statuses → the outbox's.
TWILIO_STATUS = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
    "canceled": "failed",
}


def twilio_status(*, account: MessagingAccount, params: list[tuple[str, str]]):
    """A delivery-status callback: the outbox row and its timeline entry move forward."""
    p = _first(params)
    sid = p.get("MessageSid") or p.get("SmsSid")
    raw = (p.get("MessageStatus") or p.get("SmsStatus") or "").lower()
    if not sid:
        raise InvalidInput("MessageSid is missing.", field="MessageSid")
    if raw not in TWILIO_STATUS:
        raise InvalidInput(f"Unknown MessageStatus '{raw}'.", field="MessageStatus")
    detail = {"provider_status": raw}
    if p.get("ErrorCode"):
        detail["error_code"] = p["ErrorCode"]
    channel = twilio_channel(p.get("From", "") or p.get("To", ""))
    return outbound.record_delivery_status(
        workspace=account.workspace,
        channel=channel,
        external_id=sid,
        status=TWILIO_STATUS[raw],
        detail=detail,
    )


# --- Generic JSON webhook -----------------------------------------------------------------


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_webhook(
    account: MessagingAccount,
    *,
    body: bytes,
    timestamp: str,
    signature: str,
    now: float | None = None,
) -> None:
    if not account.secret:
        raise BadSignature("The account has no signing secret.", field="signature")
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        raise BadSignature(
            "X-Warmline-Timestamp is missing or not a number.", field="X-Warmline-Timestamp"
        ) from None
    if abs((now if now is not None else time.time()) - sent) > MAX_SKEW_SECONDS:
        raise BadSignature(
            "The timestamp is more than five minutes away: replays are refused.",
            field="X-Warmline-Timestamp",
        )
    expected = webhook_signature(account.secret, str(sent), body)
    if not signature or not hmac.compare_digest(expected, signature.strip()):
        raise BadSignature("X-Warmline-Signature does not match.", field="X-Warmline-Signature")


def _str(data: dict, key: str, limit: int, *, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"'{key}' must be a string.", field=key)
    if required and not value.strip():
        raise InvalidInput(f"'{key}' is required.", field=key)
    if len(value) > limit:
        raise InvalidInput(f"'{key}' is longer than {limit} characters.", field=key)
    return value


def parse_webhook(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise InvalidInput("The body is too large.", field="body")
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidInput("The body is not JSON.", field="body") from None
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.", field="body")
    return data


def receive_webhook(*, account: MessagingAccount, data: dict[str, Any]):
    """A verified generic webhook event: a message into ``ingest`` or a delivery status."""
    kind = data.get("type", "message")
    if kind == "status":
        status = _str(data, "status", 20, required=True)
        return outbound.record_delivery_status(
            workspace=account.workspace,
            channel=account.channel,
            external_id=_str(data, "id", 300, required=True),
            status=status,
            detail={"provider_status": status},
        )
    if kind != "message":
        raise InvalidInput(f"Unknown event type '{kind}'.", field="type")
    sender = data.get("from")
    if not isinstance(sender, dict):
        raise InvalidInput("'from' must be an object.", field="from")
    sent_at = None
    if data.get("sent_at"):
        sent_at = parse_datetime(_str(data, "sent_at", 40))
        if sent_at is None or timezone.is_naive(sent_at):
            raise InvalidInput("'sent_at' must be an ISO 8601 time with a zone.", field="sent_at")
        sent_at = sent_at.astimezone(dt.UTC)
    channel = _str(data, "channel", 12) or account.channel
    thread = _str(data, "thread", 300)
    return conversations.ingest(
        workspace=account.workspace,
        message=InboundMessage(
            channel=channel,
            text=_str(data, "text", 200_000, required=True),
            subject=_str(data, "subject", 300),
            sender=Sender(
                social=_str(sender, "handle", 200) or None,
                email=_str(sender, "email", 320) or None,
                phone=_str(sender, "phone", 40) or None,
                external_id=_str(sender, "id", 200) or None,
                name=_str(sender, "name", 200),
            ),
            external_id=_str(data, "id", 300, required=True),
            sent_at=sent_at,
            thread=ThreadHints(keys=[f"hook:{account.pk}:{thread}"] if thread else []),
            thread_key=f"hook:{account.pk}:{thread}" if thread else None,
            data={"provider": "webhook", "account": account.pk, "network": channel},
        ),
    )
