"""IMAP polling (stdlib ``imaplib``): fetch unseen → ingest → mark seen / move.

The order is the whole point. A message is fetched with ``BODY.PEEK[]`` (which
leaves it unseen), taken in by ``receive()`` — committed, or quarantined — and
only then marked ``\\Seen`` or moved. A crash anywhere in a batch leaves the
not-yet-marked messages unseen; the next poll fetches them again, and
``ingest()``'s idempotency on the Message-ID (or the bytes' digest) and the
quarantine's digest make the second pass store nothing twice.

TLS (port 993) or STARTTLS; plain IMAP only to a loopback server.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from warmline.errors import InvalidInput
from warmline.tenancy.models import Member, Workspace
from warmline.tenancy.services import record_audit

from ..models import ImapMailbox, Security
from . import services
from .outbound import is_loopback

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60
BATCH = 100
DEFAULT_PORTS = {Security.TLS: 993, Security.STARTTLS: 143, Security.PLAIN: 143}


class ImapError(Exception):
    pass


def add_mailbox(
    *,
    workspace: Workspace,
    actor: Member | None,
    host: str,
    username: str,
    password: str,
    port: int | None = None,
    security: str = Security.TLS,
    folder: str = "INBOX",
    move_to: str = "",
    name: str = "",
) -> ImapMailbox:
    if security not in Security.values:
        raise InvalidInput(f"Unknown security '{security}'.", field="security")
    if not host.strip():
        raise InvalidInput("The IMAP host is required.", field="host")
    if security == Security.PLAIN and not is_loopback(host):
        raise InvalidInput("Plain IMAP is only allowed to a loopback server.", field="security")
    if port is not None and not 0 < port < 65536:
        raise InvalidInput("The port must be between 1 and 65535.", field="port")
    box = ImapMailbox.objects.create(
        workspace=workspace,
        name=name or f"{username}@{host}",
        host=host.strip(),
        port=port or DEFAULT_PORTS[security],
        security=security,
        username=username,
        password=password,
        folder=folder or "INBOX",
        move_to=move_to,
    )
    record_audit(
        workspace=workspace,
        actor=actor,
        action="channel.imap.add",
        obj=box,
        after={"host": box.host, "port": box.port, "user": username, "security": security},
    )
    return box


def connect(box: ImapMailbox, *, context: ssl.SSLContext | None = None) -> imaplib.IMAP4:
    """Log in to the mailbox's server; ``context`` overrides certificate checks (tests)."""
    context = context or ssl.create_default_context()
    if box.security == Security.TLS:
        conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            box.host, box.port, ssl_context=context, timeout=TIMEOUT_SECONDS
        )
    else:
        if box.security == Security.PLAIN and not is_loopback(box.host):
            raise ImapError("plain IMAP is only allowed to a loopback server")
        conn = imaplib.IMAP4(box.host, box.port, timeout=TIMEOUT_SECONDS)
        if box.security == Security.STARTTLS:
            conn.starttls(ssl_context=context)
    conn.login(box.username, box.password)
    return conn


@dataclass
class PollResult:
    fetched: int = 0
    ingested: int = 0
    duplicates: int = 0
    quarantined: int = 0
    error: str = ""

    def __str__(self) -> str:
        text = (
            f"fetched {self.fetched}, ingested {self.ingested}, duplicates {self.duplicates}, "
            f"quarantined {self.quarantined}"
        )
        return text + (f", error: {self.error}" if self.error else "")


def _check(typ: str, data, what: str) -> None:  # type: ignore[no-untyped-def]
    if typ != "OK":
        raise ImapError(f"{what} failed: {data!r}")


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def poll_mailbox(
    box: ImapMailbox,
    *,
    limit: int = BATCH,
    context: ssl.SSLContext | None = None,
    after_receive: Callable[[bytes], None] | None = None,
) -> PollResult:
    """One pass over the mailbox's unseen mail (at most ``limit`` messages).

    ``after_receive`` runs between "committed" and "marked seen" — the window
    a crash would hit; tests use it to crash there on purpose.
    """
    result = PollResult()
    conn = None
    try:
        conn = connect(box, context=context)
        typ, data = conn.select(_quote(box.folder))
        _check(typ, data, "SELECT")
        typ, data = conn.uid("SEARCH", None, "UNSEEN")
        _check(typ, data, "SEARCH")
        uids = (data[0] or b"").split()[:limit]
        typ, caps = conn.capability()  # after login: servers add MOVE, UIDPLUS… here
        can_move = typ == "OK" and b"MOVE" in b" ".join(c for c in caps if c).upper().split()
        for uid in uids:
            raw = _fetch(conn, uid)
            if raw is None:
                continue
            result.fetched += 1
            received = services.receive(raw, workspace=box.workspace, source="imap")
            for outcome in received.outcomes:
                if outcome.status == "quarantined":
                    result.quarantined += 1
                elif outcome.status == "duplicate":
                    result.duplicates += 1
                else:
                    result.ingested += 1
            if after_receive is not None:
                after_receive(raw)
            _done(conn, uid, box.move_to, can_move)
        if box.move_to and uids and not can_move:
            conn.expunge()
    except (imaplib.IMAP4.error, ImapError, OSError) as exc:
        result.error = f"{exc.__class__.__name__}: {exc}"
        log.warning("IMAP poll of mailbox %s failed: %s", box.pk, result.error)
    finally:
        if conn is not None:
            try:
                conn.logout()
            except Exception:  # noqa: S110 (the connection may already be gone)
                pass
        ImapMailbox.objects.filter(pk=box.pk).update(
            last_polled_at=timezone.now(), last_error=result.error
        )
    return result


_LITERAL_RE = re.compile(rb"BODY\[\]")


def _fetch(conn: imaplib.IMAP4, uid: bytes) -> bytes | None:
    # PEEK: fetching must not mark the message seen; only a commit may.
    typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    _check(typ, data, "FETCH")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and _LITERAL_RE.search(item[0]):
            return item[1]
    return None


def _done(conn: imaplib.IMAP4, uid: bytes, move_to: str, can_move: bool) -> None:
    if not move_to:
        typ, data = conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen)")
        _check(typ, data, "STORE")
        return
    if can_move:
        typ, data = conn.uid("MOVE", uid, _quote(move_to))
        _check(typ, data, "MOVE")
        return
    typ, data = conn.uid("COPY", uid, _quote(move_to))
    _check(typ, data, "COPY")
    typ, data = conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen \Deleted)")
    _check(typ, data, "STORE")


def poll_all() -> int:
    """Poll every active mailbox once; returns how many messages were fetched."""
    total = 0
    for box in ImapMailbox.objects.filter(is_active=True).select_related("workspace"):
        total += poll_mailbox(box).fetched
    return total
