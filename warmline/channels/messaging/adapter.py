"""Outbound SMS / WhatsApp (Twilio REST shape) and generic webhooks, behind ``send()``.

Twilio-compatible: ``POST {api_base_url}/2010-04-01/Accounts/{sid}/Messages.json``,
form-encoded ``To``, ``From``, ``Body`` (and ``StatusCallback`` when the account
has a public URL), HTTP basic auth with the account SID and token. The answer's
``sid`` becomes the outbox row's external id, which the status callbacks name.

Generic webhook: ``POST {outbound_url}`` with a JSON body signed like inbound
webhooks (``X-Warmline-Timestamp`` / ``X-Warmline-Signature``); the answer's
``id`` becomes the external id. Our own ``id`` (``wl-<outbox id>``) lets the far
side drop a repeat when a retry follows a lost answer.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from django.utils.translation import gettext as _

from warmline.channels import outbound
from warmline.channels.models import OutboundMessage, OutboundStatus
from warmline.customers.models import Identity

from .models import MessagingAccount, Provider
from .services import webhook_signature

TIMEOUT_SECONDS = 15


def _identity(message: OutboundMessage, kind: str) -> str:
    value = (
        Identity.objects.filter(
            workspace_id=message.workspace_id, customer_id=message.customer_id, kind=kind
        )
        .order_by("-verified", "id")
        .values_list("value", flat=True)
        .first()
    )
    return value or ""


def _post(url: str, data: bytes, headers: dict[str, str]) -> dict:
    if not url.lower().startswith(("https://", "http://")):
        raise outbound.PermanentFailure(f"Not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode("utf-8", "replace")
        # Malformed request or unknown number: the same bytes will fail again.
        if exc.code in (400, 404, 410, 413, 422):
            raise outbound.PermanentFailure(f"HTTP {exc.code}: {detail}") from None
        raise outbound.TemporaryFailure(f"HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise outbound.TemporaryFailure(str(exc)) from None
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return {}


class TwilioAdapter:
    def __init__(self, channel: str):
        self.channel = channel

    def _account(self, workspace_id: int, account_id: int | None = None) -> MessagingAccount:
        qs = MessagingAccount.objects.filter(
            workspace_id=workspace_id, provider=Provider.TWILIO, is_active=True
        )
        if account_id:
            qs = qs.filter(pk=account_id)
        field = "whatsapp_number" if self.channel == "whatsapp" else "sms_number"
        account = qs.exclude(**{field: ""}).order_by("id").first()
        if account is None:
            raise outbound.Undeliverable(
                _("No %(channel)s account is set up for this workspace.")
                % {"channel": self.channel}
            )
        return account

    def prepare(self, message: OutboundMessage) -> None:
        phone = _identity(message, "phone")
        if not phone:
            raise outbound.Undeliverable(_("The customer has no phone number."))
        account = self._account(message.workspace_id)
        prefix = "whatsapp:" if self.channel == "whatsapp" else ""
        sender = account.whatsapp_number if self.channel == "whatsapp" else account.sms_number
        message.recipient = phone
        message.payload = {
            **message.payload,
            "account": account.pk,
            "To": prefix + phone,
            "From": sender if sender.startswith(prefix) else prefix + sender,
        }

    def deliver(self, message: OutboundMessage) -> outbound.Delivery:
        account = self._account(message.workspace_id, message.payload.get("account"))
        form = {"To": message.payload["To"], "From": message.payload["From"], "Body": message.text}
        if account.public_url:
            form["StatusCallback"] = (
                f"{account.public_url.rstrip('/')}/hooks/twilio/{account.key}/status/"
            )
        url = (
            f"{account.api_base_url.rstrip('/')}/2010-04-01/Accounts/"
            f"{urllib.parse.quote(account.account_sid)}/Messages.json"
        )
        auth = base64.b64encode(f"{account.account_sid}:{account.auth_token}".encode()).decode()
        answer = _post(
            url,
            urllib.parse.urlencode(form).encode(),
            {
                "Authorization": f"Basic {auth}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        sid = answer.get("sid")
        if not sid:
            raise outbound.TemporaryFailure("The provider answered without a message sid.")
        return outbound.Delivery(
            external_id=str(sid),
            status=OutboundStatus.SENT,
            detail={"provider_status": answer.get("status", "")},
        )


class WebhookAdapter:
    channel = "social"

    def _account(self, message: OutboundMessage) -> MessagingAccount:
        qs = MessagingAccount.objects.filter(
            workspace_id=message.workspace_id,
            provider=Provider.WEBHOOK,
            channel=self.channel,
            is_active=True,
        ).exclude(outbound_url="")
        account_id = message.payload.get("account")
        if account_id:
            qs = qs.filter(pk=account_id)
        account = qs.order_by("id").first()
        if account is None:
            raise outbound.Undeliverable(
                _("No webhook account can send on %(channel)s.") % {"channel": self.channel}
            )
        return account

    def prepare(self, message: OutboundMessage) -> None:
        handle = _identity(message, "social")
        if not handle:
            raise outbound.Undeliverable(_("The customer has no social handle."))
        account = self._account(message)
        message.recipient = handle
        message.payload = {**message.payload, "account": account.pk, "to": handle}

    def deliver(self, message: OutboundMessage) -> outbound.Delivery:
        account = self._account(message)
        body = json.dumps(
            {
                "type": "message",
                "id": f"wl-{message.pk}",
                "to": message.payload["to"],
                "text": message.text,
                "conversation": message.conversation_id,
            }
        ).encode()
        stamp = str(int(time.time()))
        answer = _post(
            account.outbound_url,
            body,
            {
                "Content-Type": "application/json",
                "X-Warmline-Timestamp": stamp,
                "X-Warmline-Signature": webhook_signature(account.secret, stamp, body),
            },
        )
        return outbound.Delivery(
            external_id=str(answer.get("id") or f"wl-{message.pk}"), status=OutboundStatus.SENT
        )


def register() -> None:
    outbound.register_adapter("sms", TwilioAdapter("sms"))
    outbound.register_adapter("whatsapp", TwilioAdapter("whatsapp"))
    outbound.register_adapter("social", WebhookAdapter())
