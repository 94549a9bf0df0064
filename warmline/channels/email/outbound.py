"""Email adapter for the one ``send()`` path: replies by SMTP with threading headers.

Each workspace sends from its default ``EmailAddress`` through that address's
own SMTP relay (Django's SMTP backend), or through the project's
``EMAIL_BACKEND`` when the address has no relay configured. Every reply carries
``Message-ID``, ``In-Reply-To`` and ``References`` that continue the customer's
thread, and a ``Reply-To`` with the conversation's reply token for clients that
drop those headers.
"""

from __future__ import annotations

import html as html_lib
import ipaddress
import smtplib
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.translation import gettext as _

from warmline.conversations import services as conversations
from warmline.conversations.models import EntryKind
from warmline.customers.models import Identity, IdentityKind

from ..models import EmailAddress, OutboundMessage, Security
from ..outbound import Delivery, PermanentFailure, TemporaryFailure, Undeliverable
from .reply_token import make_reply_address, split_reply_address
from .tokens import conversation_token

SMTP_TIMEOUT_SECONDS = 30
MAX_REFERENCES = 20


def sender_address(workspace_id: int) -> EmailAddress | None:
    """The address a workspace's replies leave from: the default one, else the oldest."""
    return (
        EmailAddress.objects.filter(workspace_id=workspace_id, is_active=True)
        .order_by("-is_default", "id")
        .first()
    )


def customer_email(workspace_id: int, customer_id: int) -> str | None:
    return (
        Identity.objects.filter(
            workspace_id=workspace_id, customer_id=customer_id, kind=IdentityKind.EMAIL
        )
        .order_by("-verified", "-id")
        .values_list("value", flat=True)
        .first()
    )


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _thread_ids(message: OutboundMessage) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) continuing the conversation's email thread.

    References lists the thread oldest first (customer mail and our replies);
    In-Reply-To is the newest customer email we are answering.
    """
    entries = (
        conversations.timeline(conversation=message.conversation)
        .filter(channel="email", kind=EntryKind.CUSTOMER_MESSAGE, external_id__isnull=False)
        .values_list("occurred_at", "external_id")
    )
    ours = OutboundMessage.objects.filter(
        workspace_id=message.workspace_id,
        conversation_id=message.conversation_id,
        channel="email",
        external_id__isnull=False,
    ).values_list("created_at", "external_id")
    theirs = [(at, ext) for at, ext in entries if "@" in ext]
    in_reply_to = theirs[-1][1] if theirs else None
    chain = sorted([*theirs, *ours], key=lambda pair: pair[0])
    refs = list(dict.fromkeys(ext for _, ext in chain))[-MAX_REFERENCES:]
    return in_reply_to, refs


def _last_customer_email(message: OutboundMessage) -> dict:
    """``data["email"]`` of the newest email the customer sent in this case ({} if none)."""
    data = (
        conversations.timeline(conversation=message.conversation)
        .filter(channel="email", kind=EntryKind.CUSTOMER_MESSAGE, is_auto_reply=False)
        .order_by("-occurred_at", "-id")
        .values_list("data", flat=True)
        .first()
    )
    return (data or {}).get("email") or {}


def _ours(workspace_id: int) -> dict[str, EmailAddress]:
    return {
        a.address: a for a in EmailAddress.objects.filter(workspace_id=workspace_id, is_active=True)
    }


def _written_to(workspace_id: int, last: dict) -> EmailAddress | None:
    if not last:
        return None
    ours = _ours(workspace_id)
    for value in [*(last.get("recipients") or []), *(last.get("to") or []),
                  *(last.get("cc") or [])]:  # fmt: skip
        base, _token = split_reply_address(value)
        if base in ours:
            return ours[base]
    return None


def _reply_target(workspace_id: int, last: dict) -> str | None:
    """Reply-To if the customer set one (and it is not one of ours), else their From."""
    if not last:
        return None
    ours = _ours(workspace_id)
    for value in [*(last.get("reply_to") or []), last.get("from") or ""]:
        if value and split_reply_address(value)[0] not in ours:
            return value
    return None


class EmailAdapter:
    """Registered for the ``email`` channel in ``ChannelsConfig.ready()``."""

    def prepare(self, message: OutboundMessage) -> None:
        last = _last_customer_email(message)
        # Answer from the address the customer wrote to, to the address they asked for.
        sender = _written_to(message.workspace_id, last) or sender_address(message.workspace_id)
        if sender is None:
            raise Undeliverable(_("This workspace has no email address to send from."))
        recipient = (
            message.recipient
            or _reply_target(message.workspace_id, last)
            or customer_email(message.workspace_id, message.conversation.customer_id)
        )
        if not recipient:
            raise Undeliverable(_("The customer has no email address."))
        conv = message.conversation
        in_reply_to, references = _thread_ids(message)
        subject = (message.subject or conv.subject or "").strip() or _("Your request")
        if in_reply_to and not subject.lower().startswith(("re:", "aw:", "sv:")):
            subject = f"Re: {subject}"
        domain = sender.address.rpartition("@")[2]
        message_id = make_msgid(idstring="wl", domain=domain).strip("<>")
        token = conversation_token(message.workspace_id, conv.number)
        message.recipient = recipient
        message.subject = subject[:300]
        message.external_id = message_id
        message.payload = {
            **message.payload,
            "email_address_id": sender.pk,
            "from": formataddr((sender.from_name, sender.address)),
            "reply_to": make_reply_address(sender.address, token),
            "message_id": message_id,
            "in_reply_to": in_reply_to,
            "references": references,
            "signature": sender.signature,
        }
        # A reply to this reply names our Message-ID: tie it to the conversation now.
        conversations.add_thread_keys(
            workspace=message.workspace, conversation=conv, keys=[message_id]
        )

    def build(self, message: OutboundMessage) -> EmailMultiAlternatives:
        """The email exactly as it goes out (also used by tests and previews)."""
        p = message.payload
        signature = (p.get("signature") or "").strip()
        body = message.text.rstrip()
        if signature:
            body += "\n\n-- \n" + signature
        headers = {"Message-ID": f"<{p['message_id']}>"}
        if p.get("in_reply_to"):
            headers["In-Reply-To"] = f"<{p['in_reply_to']}>"
        if p.get("references"):
            headers["References"] = " ".join(f"<{r}>" for r in p["references"])
        # RFC 3834: mail no person wrote says so, so out-of-office responders stay quiet
        # and no loop starts between two automatic systems.
        if p.get("kind") == EntryKind.ASSISTANT_REPLY:
            headers["Auto-Submitted"] = "auto-replied"
        elif p.get("automated"):
            headers["Auto-Submitted"] = "auto-generated"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=body,
            from_email=p["from"],
            to=[message.recipient],
            reply_to=[p["reply_to"]],
            headers=headers,
        )
        if message.html:
            html = message.html
            if signature:
                html += "<p>-- <br>" + html_lib.escape(signature).replace("\n", "<br>") + "</p>"
            email.attach_alternative(html, "text/html")
        return email

    def _connection(self, message: OutboundMessage):  # type: ignore[no-untyped-def]
        address = EmailAddress.objects.filter(
            workspace_id=message.workspace_id, pk=message.payload.get("email_address_id")
        ).first() or sender_address(message.workspace_id)
        if address is None or not address.smtp_host:
            return get_connection(fail_silently=False)
        if address.smtp_security == Security.PLAIN and not is_loopback(address.smtp_host):
            raise PermanentFailure("plain SMTP is only allowed to a loopback relay")
        default_port = {Security.TLS: 465, Security.STARTTLS: 587, Security.PLAIN: 25}
        return get_connection(
            "django.core.mail.backends.smtp.EmailBackend",
            host=address.smtp_host,
            port=address.smtp_port or default_port[address.smtp_security],
            username=address.smtp_username or None,
            password=address.smtp_password or None,
            use_tls=address.smtp_security == Security.STARTTLS,
            use_ssl=address.smtp_security == Security.TLS,
            timeout=getattr(settings, "WARMLINE_SMTP_TIMEOUT", SMTP_TIMEOUT_SECONDS),
            fail_silently=False,
        )

    def deliver(self, message: OutboundMessage) -> Delivery:
        email = self.build(message)
        try:
            with self._connection(message) as connection:
                sent = connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            text = "; ".join(f"{r}: {c} {m!r}" for r, (c, m) in exc.recipients.items())
            if codes and all(c >= 500 for c in codes):
                raise PermanentFailure(text) from exc
            raise TemporaryFailure(text) from exc
        except smtplib.SMTPResponseException as exc:
            text = f"{exc.smtp_code} {exc.smtp_error!r}"
            if exc.smtp_code >= 500 and exc.smtp_code not in (530, 535):
                raise PermanentFailure(text) from exc
            raise TemporaryFailure(text) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"{exc.__class__.__name__}: {exc}") from exc
        if not sent:
            raise TemporaryFailure("the mail backend accepted nothing")
        return Delivery(external_id=message.payload["message_id"])
