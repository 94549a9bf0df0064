"""Live-chat use cases: visitors, their signed tokens, messages in, transcript out.

The websocket consumer is thin and calls these. Every visitor message enters
through ``conversations.services.ingest`` as a channel-neutral
``InboundMessage``; the visitor row only remembers which conversation the
browser's chat continues.
"""

from __future__ import annotations

import fnmatch
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender, ThreadHints
from warmline.conversations.models import MESSAGE_KINDS, EntryKind, TimelineEntry
from warmline.customers import services as customers
from warmline.customers.identities import normalise_email
from warmline.errors import InvalidInput, NotFound
from warmline.tenancy.models import Availability, Member, Workspace

from .models import ChatVisitor

TOKEN_SALT = "warmline.chat.visitor"  # noqa: S105 (a signing namespace, not a secret)
# A visitor token stays valid this long after it was issued (re-issued on every visit).
TOKEN_MAX_AGE = 180 * 24 * 3600


def max_chars() -> int:
    return int(getattr(settings, "WARMLINE_CHAT_MAX_CHARS", 4000))


def rate_limit() -> tuple[int, int]:
    """(messages, seconds): how many messages one visitor may send per window."""
    count, seconds = getattr(settings, "WARMLINE_CHAT_RATE", (20, 60))
    return int(count), int(seconds)


def visitor_group(key: str) -> str:
    """The channel-layer group of one visitor's open widgets (all tabs)."""
    return f"chat.visitor.{key}"


def thread_key(key: str) -> str:
    return f"chat:{key}"


class RateLimited(InvalidInput):
    """Too many messages; wait a moment."""

    status = 429
    code = "rate_limited"


# --- Workspace and origin ------------------------------------------------------------


def get_workspace(slug: str) -> Workspace:
    ws = Workspace.objects.filter(slug=slug).first()
    if ws is None:
        raise NotFound("No such workspace.", field="workspace")
    return ws


def allowed_origins(workspace: Workspace) -> list[str]:
    """The sites that may embed this workspace's widget (``settings.chat.allowed_origins``)."""
    chat = (workspace.settings or {}).get("chat") or {}
    return [str(o).strip().rstrip("/").lower() for o in chat.get("allowed_origins", []) if o]


def origin_allowed(workspace: Workspace, origin: str | None) -> bool:
    """Exact ``scheme://host[:port]`` or a ``https://*.brand.example`` pattern.

    Warmline's own hosts (``ALLOWED_HOSTS``) are always allowed, so a help
    centre served by Warmline can embed the widget without configuration. A
    socket without an Origin header is refused: browsers always send one.
    """
    if not origin:
        return False
    origin = origin.strip().rstrip("/").lower()
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    for pattern in allowed_origins(workspace):
        if pattern == "*" or origin == pattern:
            return True
        if "*" in pattern and fnmatch.fnmatchcase(origin, pattern):
            return True
    own = [h.lower() for h in settings.ALLOWED_HOSTS]
    return parts.hostname in own or "*" in own


# --- Visitors and tokens --------------------------------------------------------------


def issue_token(visitor: ChatVisitor) -> str:
    return signing.dumps({"w": visitor.workspace_id, "v": visitor.key}, salt=TOKEN_SALT)


def visitor_from_token(workspace: Workspace, token: str | None) -> ChatVisitor | None:
    """The visitor a token names, or None when it is missing, forged, expired or another brand's."""
    if not token or len(token) > 500:
        return None
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("w") != workspace.pk:
        return None
    return ChatVisitor.objects.filter(workspace=workspace, key=str(data.get("v", ""))).first()


def new_visitor_limit() -> tuple[int, int]:
    """(visitors, seconds): how many new visitors one client address may start per window."""
    count, seconds = getattr(settings, "WARMLINE_CHAT_NEW_VISITORS", (120, 3600))
    return int(count), int(seconds)


def _fixed_window(key: str, limit: int, seconds: int) -> bool:
    """Count one more use of ``key`` in the current window; False when over ``limit``."""
    window = int(timezone.now().timestamp()) // seconds
    key = f"{key}:{window}"
    cache.add(key, 0, timeout=seconds * 2)
    try:
        used = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=seconds * 2)
        used = 1
    return used <= limit


def open_visitor(
    *, workspace: Workspace, token: str | None, origin: str = "", client: str = ""
) -> tuple[ChatVisitor, str]:
    """Resume the visitor of a valid token or start a new one; returns (visitor, fresh token).

    New visitors are limited per client address, so a script cannot fill the
    table by saying hello without a token over and over.
    """
    visitor = visitor_from_token(workspace, token)
    if visitor is None:
        count, seconds = new_visitor_limit()
        if client and not _fixed_window(f"wl:chat-new:{workspace.pk}:{client}", count, seconds):
            raise RateLimited(
                _("Too many new chats from your address; please try again later."), field="token"
            )
        visitor = ChatVisitor.objects.create(
            workspace=workspace, key=secrets.token_urlsafe(24), origin=(origin or "")[:300]
        )
    return visitor, issue_token(visitor)


def socket_opened(visitor: ChatVisitor) -> None:
    ChatVisitor.objects.filter(pk=visitor.pk).update(
        open_sockets=F("open_sockets") + 1, last_seen_at=timezone.now()
    )


def socket_closed(visitor: ChatVisitor) -> None:
    ChatVisitor.objects.filter(pk=visitor.pk, open_sockets__gt=0).update(
        open_sockets=F("open_sockets") - 1, last_seen_at=timezone.now()
    )


def agents_available(workspace: Workspace) -> bool:
    """Is any active member online who answers chat (an empty channel list means all)?"""
    online = Member.objects.filter(
        workspace=workspace, is_active=True, availability=Availability.ONLINE
    ).values_list("channels", flat=True)
    return any(not chans or "chat" in chans for chans in online)


# --- Messages -----------------------------------------------------------------------


def check_rate(visitor: ChatVisitor) -> None:
    """Fixed-window counter in the shared cache (Redis at scale), per visitor, not per socket."""
    count, seconds = rate_limit()
    if not _fixed_window(f"wl:chat-rate:{visitor.key}", count, seconds):
        raise RateLimited(
            _("You are sending messages too quickly; please wait a moment."), field="text"
        )


def _clean_text(text: Any) -> str:
    if not isinstance(text, str):
        raise InvalidInput(_("The message must be text."), field="text")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidInput(_("The message is empty."), field="text")
    if len(text) > max_chars():
        raise InvalidInput(
            _("The message is longer than %(n)d characters.") % {"n": max_chars()}, field="text"
        )
    return text


def _clean_client_id(client_id: Any) -> str:
    value = str(client_id or "")
    if not value or len(value) > 64 or not all(c.isalnum() or c in "-_" for c in value):
        raise InvalidInput(_("Missing or invalid message id."), field="client_id")
    return value


def _sender(visitor: ChatVisitor) -> Sender:
    return Sender(chat_visitor=visitor.key, email=visitor.email or None, name=visitor.name)


@dataclass
class Posted:
    entry_id: int
    conversation_id: int
    created: bool
    message: dict


def post_message(
    *, workspace: Workspace, visitor: ChatVisitor, text: Any, client_id: Any
) -> Posted:
    """One visitor message into ``ingest``; the widget's own id makes resends idempotent."""
    text = _clean_text(text)
    client_id = _clean_client_id(client_id)
    check_rate(visitor)
    result = conversations.ingest(
        workspace=workspace,
        message=InboundMessage(
            channel="chat",
            text=text,
            sender=_sender(visitor),
            external_id=f"chat:{visitor.key}:{client_id}",
            thread=ThreadHints(keys=[thread_key(visitor.key)]),
            thread_key=thread_key(visitor.key),
            data={"visitor": visitor.key, "client_id": client_id},
        ),
    )
    _after_ingest(workspace, visitor, result)
    return Posted(
        entry_id=result.entry.pk,
        conversation_id=result.conversation.pk,
        created=result.created,
        message=serialise(result.entry),
    )


def leave_email(
    *, workspace: Workspace, visitor: ChatVisitor, email: Any, name: Any = ""
) -> ChatVisitor:
    """The visitor gives an address: later replies can go by email, and they become known.

    When the chat already has a conversation, the address enters through
    ``ingest`` as an identity of a recorded (auto-submitted, never reopening)
    note, so identity resolution ties the visitor to the customer who owns that
    address. An anonymous visitor (only chat identities) is then merged into
    that customer; two known customers are never merged silently — ingest
    records a merge suggestion for an agent instead.
    """
    if not isinstance(email, str):
        raise InvalidInput(_("Enter a valid email address."), field="email")
    try:
        email = normalise_email(email)
    except InvalidInput:
        raise InvalidInput(_("Enter a valid email address."), field="email") from None
    name = (name if isinstance(name, str) else "").strip()[:200]
    visitor.email = email
    if name:
        visitor.name = name
    visitor.save(update_fields=["email", "name", "updated_at"])
    if visitor.conversation_id:
        result = conversations.ingest(
            workspace=workspace,
            message=InboundMessage(
                channel="chat",
                text=_("Left an email address for follow-up: %(email)s") % {"email": email},
                sender=_sender(visitor),
                external_id=f"chat:{visitor.key}:email:{email}",
                thread=ThreadHints(keys=[thread_key(visitor.key)]),
                auto_submitted=True,
                data={"visitor": visitor.key, "chat_event": "email_left"},
            ),
        )
        _after_ingest(workspace, visitor, result)
    return visitor


def _after_ingest(workspace: Workspace, visitor: ChatVisitor, result) -> None:
    conv = result.conversation
    if visitor.conversation_id != conv.pk:
        ChatVisitor.objects.filter(pk=visitor.pk).update(conversation=conv)
        visitor.conversation_id = conv.pk
    if conv.customer_id != result.customer.pk:
        _merge_if_anonymous(workspace, anonymous_id=conv.customer_id, known=result.customer)


def _merge_if_anonymous(workspace: Workspace, *, anonymous_id: int, known) -> None:
    try:
        anon = customers.get_customer(workspace=workspace, customer_id=anonymous_id)
    except NotFound:
        return
    kinds = set(anon.identities.values_list("kind", flat=True))
    if kinds - {"chat"}:
        return  # a known customer: ingest already recorded a merge suggestion
    customers.merge_customers(workspace=workspace, actor=None, keep=known, other=anon)


# --- Reading ------------------------------------------------------------------------


def serialise(entry: TimelineEntry) -> dict:
    """What the widget may see of one entry: never notes, never other channels."""
    author = "visitor" if entry.kind == EntryKind.CUSTOMER_MESSAGE else "agent"
    name = ""
    if entry.kind == EntryKind.AGENT_REPLY and entry.author_member_id:
        member = entry.author_member
        name = (member.display_name or "").split(" ")[0] if member else ""
    elif entry.kind == EntryKind.ASSISTANT_REPLY:
        name = _("Assistant")
    out = {
        "id": entry.pk,
        "author": author,
        "name": name,
        "text": entry.text,
        "at": entry.occurred_at.isoformat(),
        "client_id": (entry.data or {}).get("client_id", ""),
    }
    card = (entry.data or {}).get("card")
    if card and author == "agent":
        out["card"] = card  # e.g. a survey card: the widget renders it with its buttons
    return out


def transcript(*, workspace: Workspace, visitor: ChatVisitor, limit: int = 200) -> list[dict]:
    """This browser's chat: chat-channel messages of its conversation since it first came.

    A visitor who left a known customer's address must not read that
    customer's email history, so only the chat channel is shown.
    """
    if not visitor.conversation_id:
        return []
    qs = (
        TimelineEntry.objects.filter(
            workspace=workspace,
            conversation_id=visitor.conversation_id,
            channel="chat",
            kind__in=MESSAGE_KINDS,
            is_auto_reply=False,
            occurred_at__gte=visitor.created_at,
        )
        .filter(~Q(kind=EntryKind.CUSTOMER_MESSAGE) | Q(data__visitor=visitor.key))
        .select_related("author_member")
        .order_by("-occurred_at", "-id")[:limit]
    )
    return [serialise(e) for e in reversed(list(qs))]


def reply_external_id(entry_id: int) -> str:
    """The outbox's external id of a chat reply (what the widget's "seen" refers to)."""
    return f"chat-reply:{entry_id}"


def mark_seen(*, workspace: Workspace, visitor: ChatVisitor, entry_id: Any) -> bool:
    """The widget showed a reply: its delivery status becomes "read". False if not theirs."""
    from warmline.channels import outbound

    try:
        entry_id = int(entry_id)
    except (TypeError, ValueError):
        raise InvalidInput(_("Invalid message id."), field="id") from None
    if not visitor.conversation_id:
        return False
    mine = TimelineEntry.objects.filter(
        workspace=workspace,
        pk=entry_id,
        conversation_id=visitor.conversation_id,
        kind__in=[EntryKind.AGENT_REPLY, EntryKind.ASSISTANT_REPLY],
    ).exists()
    if not mine:
        return False
    return (
        outbound.record_delivery_status(
            workspace=workspace,
            channel="chat",
            external_id=reply_external_id(entry_id),
            status="read",
        )
        is not None
    )


def visitors_of(*, workspace_id: int, conversation_id: int) -> list[ChatVisitor]:
    return list(
        ChatVisitor.objects.filter(workspace_id=workspace_id, conversation_id=conversation_id)
    )
