"""Email use cases: inbound addresses, taking mail in (SMTP, IMAP), quarantine.

``receive()`` is the one function the SMTP server, IMAP polling and the
quarantine's "re-process" all call. It parses the raw bytes, routes them to
the workspace(s) whose address they were sent to, stores attachments and hands
a channel-neutral ``InboundMessage`` to ``ingest()``. It returns only after the
message is committed (or quarantined), so a caller may acknowledge then. Mail
that cannot be parsed, routed or ingested is kept as the original ``.eml`` with
the reason — never dropped.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.text import get_valid_filename

from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender, ThreadHints
from warmline.conversations.models import EntryKind
from warmline.errors import InvalidInput, NotFound
from warmline.tenancy.models import Member, Workspace
from warmline.tenancy.services import record_audit

from .. import outbound
from ..models import (
    EmailAddress,
    OutboundStatus,
    QuarantinedEmail,
    QuarantineStatus,
    Security,
)
from .headers import raw_first
from .parse import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    DEFAULT_MAX_ATTACHMENTS,
    MalformedEmail,
    ParsedEmail,
    parse_email,
)
from .reply_token import split_reply_address
from .tokens import number_from_token

log = logging.getLogger(__name__)

_ADDRESS_RE = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}$")


def max_message_bytes() -> int:
    """The largest message the SMTP server accepts (``WARMLINE_EMAIL_MAX_MESSAGE_BYTES``)."""
    return int(getattr(settings, "WARMLINE_EMAIL_MAX_MESSAGE_BYTES", 40 * 1024 * 1024))


def attachment_limits(workspace: Workspace) -> dict[str, Any]:
    """Per-workspace attachment limits (``workspace.settings["email"]``), else the defaults."""
    conf = (workspace.settings or {}).get("email", {}) if workspace else {}
    return {
        "max_attachment_bytes": int(
            conf.get(
                "max_attachment_bytes",
                getattr(
                    settings, "WARMLINE_EMAIL_MAX_ATTACHMENT_BYTES", DEFAULT_MAX_ATTACHMENT_BYTES
                ),
            )
        ),
        "max_attachments": int(conf.get("max_attachments", DEFAULT_MAX_ATTACHMENTS)),
        "allowed_types": conf.get("allowed_types"),  # None: the parser's safe default list
    }


# --- Addresses -------------------------------------------------------------------------


def normalise_address(address: str) -> str:
    value = (address or "").strip().lower()
    if not _ADDRESS_RE.match(value):
        raise InvalidInput(f"'{address}' is not an email address.", field="address")
    base, token = split_reply_address(value)
    if token or "+r-" in value:
        raise InvalidInput("An inbound address cannot carry a reply token.", field="address")
    return base


def add_email_address(
    *,
    workspace: Workspace,
    actor: Member | None,
    address: str,
    from_name: str = "",
    signature: str = "",
    is_default: bool | None = None,
    smtp_host: str = "",
    smtp_port: int | None = None,
    smtp_username: str = "",
    smtp_password: str = "",
    smtp_security: str = Security.STARTTLS,
) -> EmailAddress:
    """Make ``address`` an inbound address of ``workspace`` (and optionally its sender).

    Re-adding an address the workspace already has updates its settings; an
    address that belongs to another workspace is refused.
    """
    value = normalise_address(address)
    if smtp_security not in Security.values:
        raise InvalidInput(f"Unknown SMTP security '{smtp_security}'.", field="smtp_security")
    if smtp_port is not None and not 0 < smtp_port < 65536:
        raise InvalidInput("The SMTP port must be between 1 and 65535.", field="smtp_port")
    if smtp_host and smtp_security == Security.PLAIN:
        from .outbound import is_loopback

        if not is_loopback(smtp_host):
            raise InvalidInput(
                "Plain (unencrypted) SMTP is only allowed to a loopback relay.",
                field="smtp_security",
            )
    with transaction.atomic():
        row = EmailAddress.objects.select_for_update().filter(address=value).first()
        if row is not None and row.workspace_id != workspace.pk:
            raise InvalidInput(f"{value} already belongs to another workspace.", field="address")
        created = row is None
        if created:
            row = EmailAddress(workspace=workspace, address=value)
        row.from_name = from_name or row.from_name
        row.signature = signature or row.signature
        row.is_active = True
        if smtp_host:
            row.smtp_host, row.smtp_port = smtp_host, smtp_port
            row.smtp_username, row.smtp_security = smtp_username, smtp_security
            if smtp_password:
                row.smtp_password = smtp_password
        has_default = (
            EmailAddress.objects.filter(workspace=workspace, is_default=True)
            .exclude(pk=row.pk)
            .exists()
        )
        row.is_default = bool(is_default) if is_default is not None else (
            row.is_default or not has_default
        )  # fmt: skip
        if row.is_default:
            EmailAddress.objects.filter(workspace=workspace).exclude(pk=row.pk).update(
                is_default=False
            )
        row.save()
        record_audit(
            workspace=workspace,
            actor=actor,
            action="channel.email.add" if created else "channel.email.update",
            obj=row,
            before={},
            after={"address": value, "smtp_host": row.smtp_host, "is_default": row.is_default},
        )
    return row


def address_for(recipient: str) -> EmailAddress | None:
    """The active inbound address a recipient (maybe ``help+r-token@…``) routes to."""
    base, _token = split_reply_address(recipient or "")
    return (
        EmailAddress.objects.select_related("workspace")
        .filter(address=base, is_active=True)
        .first()
    )


# Routing is read at RCPT and again for DATA, for every message: keep answers briefly.
# Changes made in this process clear it at once (signals); other processes see them
# within ROUTE_CACHE_SECONDS.
ROUTE_CACHE_SECONDS = 10.0
_routes: dict[str, tuple[float, Workspace | None]] = {}
_routes_lock = threading.Lock()


def workspace_for(recipient: str) -> Workspace | None:
    """The workspace mail for ``recipient`` belongs to (a private copy), or None."""
    base, _token = split_reply_address(recipient or "")
    now = time.monotonic()
    hit = _routes.get(base)
    if hit is None or hit[0] < now:
        row = address_for(base)
        ws = row.workspace if row is not None else None
        with _routes_lock:
            if len(_routes) > 10_000:
                _routes.clear()
            _routes[base] = (now + ROUTE_CACHE_SECONDS, ws)
    else:
        ws = hit[1]
    return copy.copy(ws) if ws is not None else None


def forget_routes(**_kwargs: Any) -> None:
    with _routes_lock:
        _routes.clear()


post_save.connect(forget_routes, sender=EmailAddress, dispatch_uid="email-routes-save")
post_delete.connect(forget_routes, sender=EmailAddress, dispatch_uid="email-routes-delete")


def is_known_recipient(recipient: str) -> bool:
    return workspace_for(recipient) is not None


# --- Taking mail in --------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of one message for one workspace."""

    status: str  # ingested | duplicate | bounce | quarantined
    workspace_id: int | None = None
    conversation_id: int | None = None
    entry_id: int | None = None
    quarantine_id: int | None = None
    reason: str = ""


@dataclass
class Received:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def quarantined(self) -> bool:
        return any(o.status == "quarantined" for o in self.outcomes)


def receive(
    raw: bytes,
    *,
    recipients: list[str] | None = None,
    envelope_from: str = "",
    workspace: Workspace | None = None,
    source: str = "smtp",
) -> Received:
    """Take one message in: parse, route, store attachments, ingest — or quarantine.

    SMTP passes the envelope ``recipients``; IMAP passes the mailbox's
    ``workspace`` (the mailbox decides where mail belongs). Returns after every
    outcome is committed.
    """
    recipients = [r.strip().lower() for r in (recipients or []) if r and r.strip()]
    targets = _targets(recipients, workspace)
    first_ws = next(iter(targets), None)
    limits = attachment_limits(first_ws) if first_ws else {}
    try:
        parsed = parse_email(raw, envelope_recipients=recipients, **limits)
    except MalformedEmail as exc:
        q = quarantine(
            raw,
            reason="unparseable",
            detail=exc.reason,
            workspace=first_ws,
            source=source,
            envelope_from=envelope_from,
            envelope_to=recipients,
        )
        return Received(
            [Outcome("quarantined", q.workspace_id, quarantine_id=q.pk, reason=exc.reason)]
        )
    if not targets:
        # No envelope (IMAP without a workspace, re-processing): route on the headers.
        header_rcpts = [*parsed.delivered_to, *parsed.to, *parsed.cc]
        targets = _targets(header_rcpts, None)
    if not targets:
        q = quarantine(
            raw,
            reason="unroutable",
            detail="no recipient is an address of any workspace",
            source=source,
            envelope_from=envelope_from,
            envelope_to=recipients,
            parsed=parsed,
        )
        return Received([Outcome("quarantined", None, quarantine_id=q.pk, reason="unroutable")])
    result = Received()
    for ws in targets:
        result.outcomes.append(
            _receive_for(
                ws, raw, parsed, source=source, envelope_from=envelope_from, recipients=recipients
            )  # fmt: skip
        )
    return result


def _targets(recipients: list[str], workspace: Workspace | None) -> list[Workspace]:
    if workspace is not None:
        return [workspace]
    seen: dict[int, Workspace] = {}
    for rcpt in recipients:
        ws = workspace_for(rcpt)
        if ws is not None and ws.pk not in seen:
            seen[ws.pk] = ws
    return list(seen.values())


def external_id_for(parsed: ParsedEmail, raw: bytes) -> str:
    """The Message-ID, or a digest of the bytes for mail without a usable one."""
    if parsed.message_id and len(parsed.message_id) <= 300:
        return parsed.message_id
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _receive_for(
    ws: Workspace,
    raw: bytes,
    parsed: ParsedEmail,
    *,
    source: str,
    envelope_from: str,
    recipients: list[str],
) -> Outcome:
    bounce = _bounce_of_ours(ws, parsed)
    if bounce is not None:
        return bounce
    external_id = external_id_for(parsed, raw)
    try:
        attachments = store_attachments(ws, parsed, external_id)
        message = to_inbound(ws, parsed, external_id, attachments, envelope_from, recipients)
        result = conversations.ingest(workspace=ws, message=message)
    except InvalidInput as exc:
        q = quarantine(
            raw,
            reason="rejected",
            detail=f"{exc.field}: {exc.message}" if exc.field else exc.message,
            workspace=ws,
            source=source,
            envelope_from=envelope_from,
            envelope_to=recipients,
            parsed=parsed,
        )
        return Outcome("quarantined", ws.pk, quarantine_id=q.pk, reason="rejected")
    return Outcome(
        "ingested" if result.created else "duplicate",
        ws.pk,
        conversation_id=result.conversation.pk,
        entry_id=result.entry.pk,
    )


def to_inbound(
    ws: Workspace,
    parsed: ParsedEmail,
    external_id: str,
    attachments: list[dict[str, Any]],
    envelope_from: str = "",
    recipients: list[str] | None = None,
) -> InboundMessage:
    """The channel-neutral message for ``ingest()``: new text first, the original kept."""
    conversation_id = None
    number = number_from_token(ws.pk, parsed.reply_token)
    if number is not None:
        try:
            conversation_id = conversations.get_conversation_by_number(
                workspace=ws, number=number
            ).pk
        except NotFound:
            conversation_id = None
    text = parsed.new_text.strip() or parsed.text
    email_data: dict[str, Any] = {
        "message_id": parsed.message_id,
        "from": parsed.from_email,
        "to": parsed.to[:50],
        "cc": parsed.cc[:50],
        "reply_to": parsed.reply_to[:10],
        "quoted_text": parsed.quoted_text[:100_000],
        "is_forwarded": parsed.is_forwarded,
        "forwarded_from": parsed.forwarded_from_email,
        "auto_kind": parsed.auto_kind,
        "auto_reasons": parsed.auto_reasons,
        "rejected_attachments": [
            {
                "filename": r.filename,
                "content_type": r.content_type,
                "size": r.size,
                "reason": r.reason,
            }
            for r in parsed.rejected_attachments
        ],  # fmt: skip
        "defects": parsed.defects[:20],
        "size": parsed.size,
    }
    if text != parsed.text:
        email_data["original_text"] = parsed.text[:200_000]
    if envelope_from:
        email_data["envelope_from"] = envelope_from[:320]
    if recipients:
        email_data["recipients"] = recipients[:50]
    if parsed.bounce is not None:
        email_data["bounce"] = _bounce_data(parsed)
    return InboundMessage(
        channel="email",
        text=text,
        html=parsed.html,
        subject=parsed.subject,
        sender=Sender(email=parsed.from_email, name=parsed.from_name),
        external_id=external_id,
        thread=ThreadHints(conversation_id=conversation_id, keys=parsed.thread_ids[:50]),
        thread_key=parsed.message_id if parsed.message_id else None,
        sent_at=parsed.date,
        attachments=attachments,
        auto_submitted=parsed.is_automatic,
        data={"email": email_data},
    )


def _bounce_data(parsed: ParsedEmail) -> dict[str, Any]:
    b = parsed.bounce
    return {
        "original_message_id": b.original_message_id,
        "permanent": b.permanent,
        "recipients": [
            {
                "recipient": r.recipient,
                "status": r.status,
                "action": r.action,
                "diagnostic": r.diagnostic,
            }
            for r in b.recipients
        ],  # fmt: skip
    }


def _bounce_of_ours(ws: Workspace, parsed: ParsedEmail) -> Outcome | None:
    """A bounce of a reply we sent: mark that send failed and note it on its case.

    The bounce is not a customer message: no customer is created for the
    mailer daemon, and nothing is answered or reopened.
    """
    b = parsed.bounce
    if b is None or not b.original_message_id:
        return None
    status = OutboundStatus.FAILED if b.permanent else None
    detail = _bounce_data(parsed)
    if status is None:
        return None  # a delay notice: keep it as an automatic message
    sent = outbound.record_delivery_status(
        workspace=ws,
        channel="email",
        external_id=b.original_message_id,
        status=status,
        detail={"bounce": detail},
    )
    if sent is None:
        return None
    first = b.recipients[0] if b.recipients else None
    text = "Delivery failed"
    if first is not None:
        text += f": {first.recipient} {first.status} {first.diagnostic}".rstrip()
    entry = conversations.add_system_entry(
        conversation=sent.conversation,
        kind=EntryKind.SYSTEM,
        text=text[:2000],
        data={"bounce": detail, "outbound": sent.pk},
    )
    return Outcome("bounce", ws.pk, conversation_id=sent.conversation_id, entry_id=entry.pk)


def store_attachments(ws: Workspace, parsed: ParsedEmail, external_id: str) -> list[dict[str, Any]]:
    """Save kept attachments to the default storage; returns their timeline metadata.

    Paths are derived from the message's id, so a redelivered message rewrites
    the same files instead of leaving copies behind.
    """
    if not parsed.attachments:
        return []
    folder = f"attachments/ws{ws.pk}/{hashlib.sha256(external_id.encode()).hexdigest()[:24]}"
    stored = []
    for index, att in enumerate(parsed.attachments):
        name = get_valid_filename(att.filename or "attachment") or "attachment"
        path = f"{folder}/{index}-{name[:120]}"
        if not default_storage.exists(path):
            path = default_storage.save(path, ContentFile(att.content))
        stored.append(
            {
                "filename": att.filename,
                "content_type": att.content_type,
                "size": att.size,
                "path": path,
                "inline": att.inline,
                "content_id": att.content_id,
                "sha256": hashlib.sha256(att.content).hexdigest(),
            }
        )
    return stored


# --- Quarantine ------------------------------------------------------------------------


def quarantine(
    raw: bytes,
    *,
    reason: str,
    detail: str = "",
    workspace: Workspace | None = None,
    source: str = "smtp",
    envelope_from: str = "",
    envelope_to: list[str] | None = None,
    parsed: ParsedEmail | None = None,
) -> QuarantinedEmail:
    """Keep the original bytes as a ``.eml`` with the reason; the same bytes are kept once."""
    digest = hashlib.sha256(raw).hexdigest()
    existing = QuarantinedEmail.objects.filter(sha256=digest, source=source).first()
    if existing is not None:
        # Fetched again (IMAP retry) or re-processed: one row, with the latest reason.
        if existing.status == QuarantineStatus.HELD:
            existing.reason, existing.detail = reason[:60], detail[:10_000]
            existing.workspace_id = existing.workspace_id or (workspace.pk if workspace else None)
            existing.save(update_fields=["reason", "detail", "workspace", "updated_at"])
        return existing
    from_header = parsed.from_email if parsed else _safe_header(raw, "From")
    subject = parsed.subject if parsed else _safe_header(raw, "Subject")
    row = QuarantinedEmail(
        workspace=workspace,
        reason=reason[:60],
        detail=detail[:10_000],
        source=source,
        sha256=digest,
        size=len(raw),
        envelope_from=envelope_from[:320],
        envelope_to=(envelope_to or [])[:100],
        from_header=(from_header or "")[:320],
        subject=(subject or "")[:300],
    )
    row.eml.save(f"{digest[:32]}.eml", ContentFile(raw), save=False)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        default_storage.delete(row.eml.name)
        return QuarantinedEmail.objects.get(sha256=digest, source=source)
    log.warning("email quarantined (%s): %s %s", reason, row.pk, detail[:200])
    return row


def _safe_header(raw: bytes, name: str) -> str:
    try:
        from email import message_from_bytes

        return str(raw_first(message_from_bytes(raw[:65536]), name))[:300]
    except Exception:  # a quarantined message may be anything at all
        return ""


def list_quarantine(*, workspace: Workspace | None, status: str | None = QuarantineStatus.HELD):
    qs = QuarantinedEmail.objects.all()
    if workspace is not None:
        qs = qs.filter(workspace=workspace)
    if status:
        qs = qs.filter(status=status)
    return qs


def reprocess(*, item: QuarantinedEmail, actor: Member | None = None) -> Received:
    """Run a quarantined message through ``receive()`` again (after a fix or a new address).

    Success marks the row re-processed; another failure keeps it held with the
    new reason. The stored .eml is never changed.
    """
    with item.eml.open("rb") as fh:
        raw = fh.read()
    before = {"reason": item.reason, "detail": item.detail}
    result = receive(
        raw,
        recipients=list(item.envelope_to or []),
        envelope_from=item.envelope_from,
        workspace=item.workspace,
        source=item.source,
    )
    item.refresh_from_db()  # a new failure updated this very row's reason
    QuarantinedEmail.objects.filter(pk=item.pk).update(attempts=item.attempts + 1)
    item.attempts += 1
    if not any(o.status == "quarantined" for o in result.outcomes):
        done = next((o for o in result.outcomes if o.entry_id), None)
        item.status = QuarantineStatus.REPROCESSED
        item.reprocessed_at = timezone.now()
        item.entry_id = done.entry_id if done else None
        if item.workspace_id is None and done is not None:
            item.workspace_id = done.workspace_id
        item.save(update_fields=["status", "reprocessed_at", "entry", "workspace", "updated_at"])
    if item.workspace_id:
        record_audit(
            workspace=Workspace.objects.get(pk=item.workspace_id),
            actor=actor,
            action="channel.email.reprocess",
            obj=item,
            before=before,
            after={"status": item.status, "reason": item.reason},
        )
    return result
