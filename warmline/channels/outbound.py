"""The one outbound path: everything an agent, the assistant or a playbook sends.

``send()`` records the reply on the conversation's timeline *and* in the outbox
in one transaction, before anything leaves; after commit a background task
hands the outbox row to the channel's adapter. Failures are retried from the
record with exponential back-off, so a crash between "recorded" and "sent"
loses nothing. The timeline entry shows the delivery status throughout.

Adapters register per channel::

    register_adapter("email", EmailAdapter())

and implement :class:`Adapter`. They translate an ``OutboundMessage`` into the
channel's wire format and report what happened; they never write domain rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from warmline.conversations import services as conversations
from warmline.conversations.models import Conversation, DeliveryStatus, EntryKind
from warmline.customers.models import CHANNELS, Customer
from warmline.errors import InvalidInput
from warmline.tenancy.models import Member, Workspace

from .models import OutboundMessage, OutboundStatus

log = logging.getLogger(__name__)

# Back-off between attempts: 30 s, 2 min, 8 min, 32 min, ~2 h (capped at 4 h).
BACKOFF_BASE_SECONDS = 30
BACKOFF_FACTOR = 4
BACKOFF_CAP_SECONDS = 4 * 3600
# How long a worker may hold a row while sending before another may take it over.
SEND_LEASE = dt.timedelta(minutes=5)


class TemporaryFailure(Exception):
    """The channel could not take the message now (network, 4xx): try again later."""


class PermanentFailure(Exception):
    """The channel refused the message for good (bad address, 5xx): do not retry."""


class Undeliverable(PermanentFailure):
    """Raised by ``prepare()`` when the customer cannot be reached on this channel.

    The reply is still recorded (the agent's words are never lost) and shows
    as failed with this reason, so the agent can choose another channel.
    """


@dataclass
class Delivery:
    """What an adapter reports after handing a message over."""

    external_id: str | None = None  # provider message id / SMTP Message-ID
    status: str = OutboundStatus.SENT  # SENT, or DELIVERED where the hand-over is final
    detail: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    """What a channel adapter implements to be reachable through ``send()``."""

    def prepare(self, message: OutboundMessage) -> None:
        """Fill ``message.recipient``/``subject``/``payload`` before it is saved.

        Runs inside ``send()``'s transaction; raise ``Undeliverable`` when the
        customer cannot be reached on this channel (no address, channel not
        configured). Everything a retry needs must be fixed here (ids,
        headers), so retries are identical.
        """

    def deliver(self, message: OutboundMessage) -> Delivery:
        """Hand the message to the channel. Raise Temporary/PermanentFailure on failure.

        Runs outside any transaction, possibly more than once for one message
        (at-least-once): use ``message.pk`` / ``payload`` ids so the far side
        can recognise a repeat.
        """


_ADAPTERS: dict[str, Adapter] = {}


def register_adapter(channel: str, adapter: Adapter) -> None:
    """Make ``adapter`` the one that sends on ``channel`` (the last registration wins)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    _ADAPTERS[channel] = adapter


def get_adapter(channel: str) -> Adapter:
    try:
        return _ADAPTERS[channel]
    except KeyError:
        raise InvalidInput(
            f"No adapter can send on the '{channel}' channel.", field="channel"
        ) from None


def registered_channels() -> list[str]:
    return sorted(_ADAPTERS)


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failed ones."""
    seconds = BACKOFF_BASE_SECONDS * BACKOFF_FACTOR ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, BACKOFF_CAP_SECONDS))


# --- Sending -------------------------------------------------------------------------


def send(
    *,
    workspace: Workspace,
    actor: Member | None,
    text: str,
    conversation: Conversation | None = None,
    customer: Customer | None = None,
    channel: str | None = None,
    html: str = "",
    subject: str = "",
    kind: str = EntryKind.AGENT_REPLY,
    idempotency_key: str | None = None,
    payload: dict[str, Any] | None = None,
    deliver_now: bool = False,
) -> OutboundMessage:
    """Record a reply on the timeline and in the outbox, then deliver it after commit.

    Give ``conversation`` to reply in a case, or only ``customer`` to write first
    (a new pending case is opened). ``channel`` defaults to the case's last
    channel. ``idempotency_key`` makes a retried call return the first outbox
    row instead of sending twice. ``deliver_now`` attempts delivery in this
    process right after commit (otherwise a background task does it).
    """
    if conversation is None and customer is None:
        raise InvalidInput("Say which conversation or customer to write to.", field="conversation")
    if conversation is not None and conversation.workspace_id != workspace.pk:
        raise InvalidInput("No such conversation.", field="conversation")
    if customer is not None and customer.workspace_id != workspace.pk:
        raise InvalidInput("No such customer.", field="customer")
    if not (text or "").strip():
        raise InvalidInput("The reply is empty.", field="text")
    if idempotency_key:
        existing = OutboundMessage.objects.filter(
            workspace=workspace, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
    channel = channel or (
        (conversation.last_channel or conversation.channel) if conversation else None
    )
    if not channel:
        raise InvalidInput("Say which channel to send on.", field="channel")
    if channel not in CHANNELS:
        raise InvalidInput(f"Unknown channel '{channel}'.", field="channel")
    try:
        with transaction.atomic():
            if conversation is None:
                conversation = conversations.open_conversation(
                    workspace=workspace,
                    customer=customer,
                    channel=channel,
                    subject=subject,
                    owner=actor,
                )
            message = OutboundMessage(
                workspace=workspace,
                conversation=conversation,
                customer_id=conversation.customer_id,
                channel=channel,
                actor=actor,
                subject=subject,
                text=text,
                html=html,
                # Adapters may treat people and machines differently (email: Auto-Submitted).
                payload={**(payload or {}), "kind": kind, "automated": actor is None},
                idempotency_key=idempotency_key or None,
            )
            undeliverable = _prepare(message)
            entry = conversations.record_reply(
                workspace=workspace,
                member=actor,
                conversation=conversation,
                text=text,
                html=html,
                channel=channel,
                kind=kind,
                delivery_status=DeliveryStatus.FAILED if undeliverable else DeliveryStatus.QUEUED,
            )
            message.entry = entry
            if (payload or {}).get("card"):
                # Structured content (an in-chat survey card) lives on the timeline entry,
                # so a live push and a transcript replay show the same thing.
                entry.data = {**(entry.data or {}), "card": payload["card"]}
                type(entry).objects.filter(pk=entry.pk).update(data=entry.data)
            if undeliverable:
                message.status, message.last_error = OutboundStatus.FAILED, undeliverable
                message.status_at = timezone.now()
                message.save(force_insert=True)
                _show(message, OutboundStatus.FAILED, {"attempts": 0, "error": undeliverable})
            else:
                message.save(force_insert=True)
                transaction.on_commit(lambda: _dispatch(message.pk, deliver_now))
    except IntegrityError:
        if idempotency_key:
            existing = OutboundMessage.objects.filter(
                workspace=workspace, idempotency_key=idempotency_key
            ).first()
            if existing is not None:
                return existing
        raise
    return message


def _prepare(message: OutboundMessage) -> str:
    """Let the channel's adapter fix recipient and headers; returns why it cannot, or ""."""
    adapter = _ADAPTERS.get(message.channel)
    if adapter is None:
        return f"no adapter can send on the '{message.channel}' channel"
    try:
        adapter.prepare(message)
    except Undeliverable as exc:
        return str(exc) or exc.__class__.__name__
    return ""


def _dispatch(message_id: int, now: bool) -> None:
    if now:
        attempt(message_id)
        return
    from .tasks import deliver_outbound

    try:
        deliver_outbound(message_id)
    except Exception:  # the queue being down must not fail the request: the sweep retries
        log.exception("could not enqueue outbound message %s", message_id)


def attempt(message_id: int) -> str | None:
    """Try to deliver one outbox row now. Returns its status, or None if not ours to send.

    The row is claimed with a conditional update, so two workers (a task and
    the sweep) never send the same row at the same time.
    """
    now = timezone.now()
    claimed = (
        OutboundMessage.objects.filter(pk=message_id)
        .filter(
            Q(status=OutboundStatus.QUEUED, next_attempt_at__isnull=True)
            | Q(status=OutboundStatus.QUEUED, next_attempt_at__lte=now)
            | Q(status=OutboundStatus.SENDING, locked_until__lt=now)
        )
        .update(status=OutboundStatus.SENDING, locked_until=now + SEND_LEASE)
    )
    if not claimed:
        return None
    message = OutboundMessage.objects.select_related("workspace", "conversation", "customer").get(
        pk=message_id
    )
    message.attempts += 1
    OutboundMessage.objects.filter(pk=message_id).update(attempts=message.attempts)
    try:
        adapter = get_adapter(message.channel)
        result = adapter.deliver(message)
    except PermanentFailure as exc:
        return _failed(message, str(exc) or exc.__class__.__name__)
    except Exception as exc:  # TemporaryFailure, network errors, adapter bugs: retry
        reason = f"{exc.__class__.__name__}: {exc}"[:2000]
        if message.attempts >= message.max_attempts:
            return _failed(message, reason)
        return _retry_later(message, reason)
    return _sent(message, result)


def _sent(message: OutboundMessage, result: Delivery) -> str:
    now = timezone.now()
    status = result.status if result.status in OutboundStatus.values else OutboundStatus.SENT
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=status,
        external_id=result.external_id or message.external_id,
        sent_at=now,
        status_at=now,
        locked_until=None,
        next_attempt_at=None,
        last_error="",
    )
    _show(message, status, {"attempts": message.attempts, **result.detail})
    return status


def _retry_later(message: OutboundMessage, reason: str) -> str:
    delay = backoff(message.attempts)
    when = timezone.now() + delay
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=OutboundStatus.QUEUED, next_attempt_at=when, locked_until=None, last_error=reason
    )
    log.warning("outbound %s attempt %s failed (%s); next at %s", message.pk, message.attempts,
                reason, when.isoformat())  # fmt: skip
    _show(
        message,
        DeliveryStatus.QUEUED,
        {"attempts": message.attempts, "error": reason, "next_attempt_at": when.isoformat()},
    )
    from .tasks import deliver_outbound

    try:
        deliver_outbound.schedule((message.pk,), delay=int(delay.total_seconds()))
    except Exception:  # the periodic sweep finds it from the record
        log.exception("could not schedule retry of outbound %s", message.pk)
    return OutboundStatus.QUEUED


def _failed(message: OutboundMessage, reason: str) -> str:
    now = timezone.now()
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=OutboundStatus.FAILED, status_at=now, locked_until=None, last_error=reason[:2000]
    )
    log.warning("outbound %s failed for good: %s", message.pk, reason)
    _show(message, DeliveryStatus.FAILED, {"attempts": message.attempts, "error": reason})
    return OutboundStatus.FAILED


_TIMELINE_STATUS = {
    OutboundStatus.QUEUED: DeliveryStatus.QUEUED,
    OutboundStatus.SENDING: DeliveryStatus.QUEUED,
    OutboundStatus.SENT: DeliveryStatus.SENT,
    OutboundStatus.DELIVERED: DeliveryStatus.DELIVERED,
    OutboundStatus.READ: DeliveryStatus.READ,
    OutboundStatus.FAILED: DeliveryStatus.FAILED,
}


def _show(message: OutboundMessage, status: str, detail: dict[str, Any]) -> None:
    if message.entry_id:
        conversations.set_delivery_status(
            workspace=message.workspace,
            entry_id=message.entry_id,
            status=_TIMELINE_STATUS.get(status, status),
            detail=detail,
        )


def retry_due(limit: int = 200) -> int:
    """Deliver queued rows whose time has come and rows whose sender died; returns tried."""
    now = timezone.now()
    ids = list(
        OutboundMessage.objects.filter(
            Q(status=OutboundStatus.QUEUED, next_attempt_at__lte=now)
            | Q(status=OutboundStatus.QUEUED, next_attempt_at__isnull=True, created_at__lte=now
                - dt.timedelta(minutes=1))
            | Q(status=OutboundStatus.SENDING, locked_until__lt=now)
        )
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )  # fmt: skip
    for message_id in ids:
        attempt(message_id)
    return len(ids)


# --- Status callbacks ------------------------------------------------------------------

_ORDER = {
    OutboundStatus.QUEUED: 0,
    OutboundStatus.SENDING: 1,
    OutboundStatus.SENT: 2,
    OutboundStatus.DELIVERED: 3,
    OutboundStatus.READ: 4,
}


def record_delivery_status(
    *,
    workspace: Workspace,
    channel: str,
    external_id: str,
    status: str,
    detail: dict[str, Any] | None = None,
) -> OutboundMessage | None:
    """A provider says what became of a message (delivery callback, bounce). Idempotent.

    Statuses only move forward (a late "sent" after "delivered" is ignored);
    "failed" always wins. Returns the outbox row, or None if it is not ours.
    """
    if status not in OutboundStatus.values:
        raise InvalidInput(f"Unknown delivery status '{status}'.", field="status")
    message = (
        OutboundMessage.objects.select_related("workspace")
        .filter(workspace=workspace, channel=channel, external_id=external_id)
        .first()
    )
    if message is None:
        return None
    if status != OutboundStatus.FAILED and (
        message.status == OutboundStatus.FAILED
        or _ORDER.get(status, 0) <= _ORDER.get(message.status, 0)
    ):
        return message
    if status == message.status:
        return message
    OutboundMessage.objects.filter(pk=message.pk).update(status=status, status_at=timezone.now())
    message.status = status
    _show(message, status, {"attempts": message.attempts, **(detail or {})})
    return message


class PulledByClientAdapter:
    """For the ``api`` channel: the client system reads replies through the API.

    Nothing is pushed, so a reply counts as sent once it is recorded.
    """

    def prepare(self, message: OutboundMessage) -> None:
        return None

    def deliver(self, message: OutboundMessage) -> Delivery:
        return Delivery(status=OutboundStatus.SENT)
