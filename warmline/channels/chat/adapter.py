"""The chat adapter behind ``send()``: a reply reaches the visitor's open widgets live.

``prepare`` runs inside ``send()``'s transaction. It fixes how the reply will
travel: to the visitor's widgets, or — when none of them is open and the
visitor left an email address — by email, so the case continues there
(the email adapter prepares and delivers it; the timeline says "via email").

The live push happens right after commit in the process that sent the reply
(the one whose channel layer the visitors' sockets listen on in the embedded
single-process setup) and is noted on the outbox row; ``deliver`` then only
records the status, or pushes from the worker when the first push failed.
The widget drops repeats by message id, so at-least-once is safe.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils.translation import gettext as _

from warmline.channels import outbound
from warmline.channels.models import OutboundMessage, OutboundStatus
from warmline.conversations.models import TimelineEntry

from . import services

log = logging.getLogger(__name__)


def push(*, entry_id: int, workspace_id: int, visitor_keys: list[str]) -> bool:
    """Send one reply to the visitors' groups; False when the layer refused it."""
    layer = get_channel_layer()
    if layer is None or not visitor_keys:
        return False
    entry = (
        TimelineEntry.objects.select_related("author_member")
        .filter(workspace_id=workspace_id, pk=entry_id)
        .first()
    )
    if entry is None:
        return False
    event = {"type": "chat.message", "message": services.serialise(entry)}
    try:
        for key in visitor_keys:
            async_to_sync(layer.group_send)(services.visitor_group(key), event)
    except Exception:  # a failed live push must not fail the send; deliver() retries it
        log.exception("live chat push of entry %s failed", entry_id)
        return False
    return True


def _push_now(message: OutboundMessage, keys: list[str]) -> None:
    """Right after commit (before the delivery task is queued): push, and say so."""
    if push(entry_id=message.entry_id, workspace_id=message.workspace_id, visitor_keys=keys):
        message.payload = {**message.payload, "pushed": True}
        OutboundMessage.objects.filter(pk=message.pk).update(payload=message.payload)


class ChatAdapter:
    channel = "chat"

    def prepare(self, message: OutboundMessage) -> None:
        visitors = services.visitors_of(
            workspace_id=message.workspace_id, conversation_id=message.conversation_id
        )
        if not visitors:
            raise outbound.Undeliverable(
                _("Nobody is chatting in this conversation; reply by email or SMS.")
            )
        online = [v for v in visitors if v.open_sockets > 0]
        emailed = next((v.email for v in visitors if v.email), "")
        if not online and emailed:
            # The visitor left; their case continues by email.
            email = outbound.get_adapter("email")
            email.prepare(message)
            message.payload = {**message.payload, "via": "email"}
            return
        keys = [v.key for v in visitors]
        message.recipient = ",".join(keys)[:320]
        message.payload = {**message.payload, "visitors": keys}
        transaction.on_commit(lambda: _push_now(message, keys))

    def deliver(self, message: OutboundMessage) -> outbound.Delivery:
        if message.payload.get("via") == "email":
            result = outbound.get_adapter("email").deliver(message)
            result.detail = {**result.detail, "via": "email"}
            return result
        if not message.payload.get("pushed"):
            push(
                entry_id=message.entry_id,
                workspace_id=message.workspace_id,
                visitor_keys=list(message.payload.get("visitors", [])),
            )
        return outbound.Delivery(
            external_id=services.reply_external_id(message.entry_id), status=OutboundStatus.SENT
        )


def register() -> None:
    outbound.register_adapter("chat", ChatAdapter())
