"""Parse one inbound email into a channel-neutral ``ParsedEmail`` (no database).

The parser is forgiving on purpose: real mail breaks every rule, and a helpdesk
that drops a customer's message because its MIME was sloppy has failed that
customer. Only mail with nothing usable (no sender) raises ``MalformedEmail``;
everything else parses best-effort and lists what was wrong in ``defects``.
"""

from __future__ import annotations

import functools
import mimetypes
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.headerregistry import BaseHeader, UnstructuredHeader
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime

from . import autoreply
from .charsets import decode_bytes, repair_header
from .headers import raw_first, raw_values
from .quotes import split_reply
from .reply_token import extract_reply_token
from .sanitize import html_to_text, sanitize_html

DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_ATTACHMENTS = 100
# Office documents, PDFs, media and plain data. HTML and SVG are left out on purpose:
# opened from the helpdesk's own origin they can run script.
DEFAULT_ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff",
        "image/heic", "image/heif", "audio/*", "video/*", "text/plain", "text/csv",
        "text/calendar", "application/pdf", "application/rtf", "application/msword",
        "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.*", "application/vnd.oasis.opendocument.*",
        "application/zip", "application/x-zip-compressed", "application/json",
        "application/pkcs7-signature", "application/pgp-signature", "message/rfc822",
    }
)  # fmt: skip
BLOCKED_EXTENSIONS = frozenset(
    {
        ".exe", ".com", ".bat", ".cmd", ".scr", ".pif", ".msi", ".msp", ".js", ".jse", ".vbs",
        ".vbe", ".wsf", ".wsh", ".ps1", ".jar", ".hta", ".cpl", ".lnk", ".reg", ".dll", ".app",
        ".sh", ".apk", ".svg", ".html", ".htm", ".xhtml",
    }
)  # fmt: skip
_REPORT_PARTS = frozenset(
    {"message/delivery-status", "message/disposition-notification", "text/rfc822-headers"}
)
_FORWARD_SUBJECT_RE = re.compile(r"^\s*(fwd?|rv|reenv|tr|wg|enc|doorst)\s*:", re.I)
_MSGID_RE = re.compile(r"<([^<>\s]+)>")
_BOUNDARY_LINE_RE = re.compile(r"^--([0-9A-Za-z'()+_,./:=?-]{1,70}?)(--)?\s*$", re.M)
_UNSAFE_FILENAME_RE = re.compile(r"[\x00-\x1f\x7f]")
_MAX_DEPTH = 40


class _CachedHeadersPolicy(EmailPolicy):
    """``email.policy.default`` with parsed header objects memoised.

    The modern policy re-parses a header every time it is read, and the parser
    itself reads ``Content-Type`` many times per part; that made a typical
    message cost several milliseconds. Header objects are immutable, and most
    values (``text/plain; charset="UTF-8"``) repeat across messages, so one
    shared bounded cache removes most of the work without changing results.
    """

    def header_fetch_parse(self, name, value):  # type: ignore[no-untyped-def]
        if hasattr(value, "name"):
            return value
        if len(value) > 2048:  # keep the shared cache small; long headers are rare
            return _parse_header.__wrapped__(name, value)
        return _parse_header(name, value)


POLICY = _CachedHeadersPolicy()
# The stdlib's structured header parser still has crash bugs on hostile input (IndexError,
# AttributeError deep in _header_value_parser); such a header is kept as plain text instead.
_UnparsableHeader = type("_UnparsableHeader", (UnstructuredHeader, BaseHeader), {})


@functools.lru_cache(maxsize=8192)
def _parse_header(name: str, value: str):  # type: ignore[no-untyped-def]
    try:
        return EmailPolicy.header_fetch_parse(POLICY, name, value)
    except Exception:  # see _UnparsableHeader
        return _UnparsableHeader(name, "".join(value.splitlines()))


class MalformedEmail(Exception):  # the name the callers and docs use
    """Raised when a message has nothing usable (empty, no headers, no sender)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    content: bytes = field(repr=False)
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedAttachment:
    """An attachment that was not kept, and why (too_large, type_not_allowed, ...)."""

    filename: str
    content_type: str
    size: int
    reason: str


@dataclass(slots=True)
class ParsedEmail:
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    subject: str
    from_email: str
    from_name: str
    reply_to: list[str]
    to: list[str]
    cc: list[str]
    delivered_to: list[str]
    date: datetime | None
    text: str
    html: str
    new_text: str
    quoted_text: str
    is_forwarded: bool
    forwarded_from_email: str | None
    forwarded_from_name: str | None
    attachments: list[Attachment]
    rejected_attachments: list[RejectedAttachment]
    auto_kind: str | None
    auto_reasons: list[str]
    bounce: autoreply.BounceReport | None
    reply_token: str | None
    defects: list[str]
    size: int

    @property
    def is_automatic(self) -> bool:
        """Mail no person wrote: record it, never answer it, never reopen a case with it."""
        return self.auto_kind is not None

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs to look up for threading, most specific first."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        ids += [ref for ref in reversed(self.references) if ref not in ids]
        return ids


def parse_email(
    raw: bytes,
    *,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    allowed_types: Iterable[str] | None = None,
    max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
    envelope_recipients: Iterable[str] = (),
    allow_remote_images: bool = False,
) -> ParsedEmail:
    """Parse ``raw`` (the bytes of an RFC 5322 message).

    ``allowed_types`` are MIME types, ``type/*`` wildcards allowed; ``None``
    means ``DEFAULT_ALLOWED_TYPES``. ``envelope_recipients`` are the SMTP
    ``RCPT TO`` addresses, searched first for a reply token.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    if not raw or not raw.strip():
        raise MalformedEmail("empty message")
    msg = BytesParser(policy=POLICY, _class=EmailMessage).parsebytes(raw)
    if not msg.keys():
        raise MalformedEmail("no headers")
    defects: list[str] = []

    senders = _addresses(msg, "From", defects)
    if not senders:
        senders = _addresses(msg, "Sender", defects) or _addresses(msg, "Reply-To", defects)
        if not senders:
            raise MalformedEmail("no From address")
        defects.append("no usable From header; sender taken from Sender/Reply-To")
    from_name, from_email = senders[0]
    subject = _subject(msg)

    msg = _repair_boundaries(msg, defects)
    bodies = _bodies(msg, defects)
    html_raw = bodies.html
    html_quote_start: int | None = None
    if bodies.text.strip():
        text = bodies.text
    elif html_raw:
        rendered = html_to_text(html_raw)
        text, html_quote_start = rendered.text, rendered.quote_start
    else:
        text = bodies.text

    forwarded_subject = bool(_FORWARD_SUBJECT_RE.match(subject))
    split = split_reply(text, forwarded=forwarded_subject)
    new_text, quoted_text = split.new_text, split.quoted_text
    if html_quote_start is not None and not split.has_forward_marker:
        head = split_reply(text[:html_quote_start])
        new_text = head.new_text
        quoted_text = "\n\n".join(p for p in (head.quoted_text, text[html_quote_start:]) if p)

    attachments, rejected, rfc822_from = _attachments(
        msg,
        skip=bodies.parts,
        max_bytes=max_attachment_bytes,
        allowed=tuple(DEFAULT_ALLOWED_TYPES if allowed_types is None else allowed_types),
        max_count=max_attachments,
        is_report=msg.get_content_type() == "multipart/report",
    )
    forwarded_name, forwarded_email = split.forwarded_from_name, split.forwarded_from_email
    if rfc822_from and not forwarded_email:
        forwarded_name, forwarded_email = rfc822_from

    auto = autoreply.classify(msg, subject=subject, from_email=from_email)
    to = [addr for _, addr in _addresses(msg, "To", defects)]
    cc = [addr for _, addr in _addresses(msg, "Cc", defects)]
    delivered_to = [
        addr
        for name in ("Delivered-To", "X-Original-To", "Envelope-To")
        for _, addr in _plain_addresses(raw_values(msg, name))
    ]
    envelope = list(envelope_recipients)
    for part in msg.walk():
        defects.extend(_defect_text(d) for d in part.defects)

    return ParsedEmail(
        message_id=_first_id(raw_first(msg, "Message-ID")),
        in_reply_to=_first_id(raw_first(msg, "In-Reply-To")),
        references=_all_ids(" ".join(raw_values(msg, "References"))),
        subject=subject,
        from_email=from_email,
        from_name=from_name,
        reply_to=[addr for _, addr in _addresses(msg, "Reply-To", defects)],
        to=to,
        cc=cc,
        delivered_to=delivered_to,
        date=_date(msg, defects),
        text=text,
        html=sanitize_html(html_raw, allow_remote_images=allow_remote_images) if html_raw else "",
        new_text=new_text,
        quoted_text=quoted_text,
        is_forwarded=forwarded_subject or split.has_forward_marker or rfc822_from is not None,
        forwarded_from_email=forwarded_email,
        forwarded_from_name=forwarded_name,
        attachments=attachments,
        rejected_attachments=rejected,
        auto_kind=auto.kind,
        auto_reasons=list(auto.reasons),
        bounce=auto.bounce,
        reply_token=extract_reply_token([*envelope, *to, *cc, *delivered_to]),
        defects=list(dict.fromkeys(defects + bodies.defects)),
        size=len(raw),
    )


# --- headers ----------------------------------------------------------------------------


def _header_text(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        return repair_header(str(value))
    except Exception:  # a header that cannot render is treated as absent
        return ""


def _subject(msg: Message) -> str:
    raw = raw_first(msg, "Subject")
    if raw and not raw.isascii() and "=?" not in raw:
        # Unencoded 8-bit bytes: the policy would turn them into U+FFFD; guess the charset instead.
        return " ".join(repair_header(raw).split())
    return " ".join(_header_text(msg, "Subject").split())


def _addresses(msg: Message, name: str, defects: list[str]) -> list[tuple[str, str]]:
    """``(display name, lower-cased address)`` pairs with a domain, from every ``name`` header.

    ``email.utils.getaddresses`` on the raw value is ~20x cheaper than the
    policy's structured address parser; the structured parser is the fallback
    for values the fast path cannot read (and it records their defects).
    """
    values = raw_values(msg, name)
    if not values:
        return []
    found = _fast_addresses(values)
    if found is not None:
        return found
    found = []
    for value in msg.get_all(name) or ():
        try:
            pairs = [(a.display_name, a.addr_spec) for a in value.addresses]
            defects.extend(f"{name}: {d}" for d in getattr(value, "defects", ()))
        except Exception:  # fall back to the lenient stdlib splitter
            pairs = getaddresses([str(value)])
        found.extend(_usable(pairs))
    return found


def _fast_addresses(values: list[str]) -> list[tuple[str, str]] | None:
    """Addresses via ``getaddresses``, or ``None`` when the value needs the careful parser."""
    if any(not v.isascii() for v in values):
        return None  # raw 8-bit bytes: let the policy decode and flag them
    pairs = getaddresses(values)
    if not pairs or any("@" not in addr or addr.count("@") > 1 for _, addr in pairs):
        return None
    decoded = []
    for display, addr in pairs:
        if "=?" in display:
            try:
                display = str(make_header(decode_header(display)))
            except (LookupError, UnicodeError, ValueError, HeaderParseError):
                return None
        decoded.append((display, addr))
    usable = _usable(decoded)
    return usable if len(usable) == len(pairs) else None


def _plain_addresses(values: list[str]) -> list[tuple[str, str]]:
    """Addresses from unparsed header values, for headers whose display names do not matter."""
    return _usable(getaddresses(values)) if values else []


def _usable(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    found = []
    for display, addr in pairs:
        addr = addr.strip().strip("<>").lower()
        local, at, domain = addr.rpartition("@")
        if at and local and ("." in domain or domain == "localhost"):
            found.append((" ".join(repair_header(display).split()), repair_header(addr)))
    return found


def _first_id(value: str) -> str | None:
    ids = _all_ids(value)
    return ids[0] if ids else None


def _all_ids(value: str) -> list[str]:
    if not value:
        return []
    ids = _MSGID_RE.findall(value)
    if not ids:  # some clients drop the angle brackets
        ids = [token for token in value.split() if "@" in token]
    return list(dict.fromkeys(ids))


def _date(msg: Message, defects: list[str]) -> datetime | None:
    when = None
    stamp = raw_first(msg, "Date")
    if stamp:
        try:
            when = parsedate_to_datetime(stamp)
        except (TypeError, ValueError, IndexError):
            when = None
    if when is None:
        defects.append("missing or unreadable Date; used the newest Received stamp")
        for received in raw_values(msg, "Received"):
            stamp = received.rpartition(";")[2].strip()
            try:
                when = parsedate_to_datetime(stamp)
            except (TypeError, ValueError, IndexError):
                continue
            break
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": UTC per RFC 5322, the zone is just unknown
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _defect_text(defect: Exception) -> str:
    detail = str(defect)
    return f"{type(defect).__name__}: {detail}" if detail else type(defect).__name__


# --- bodies -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Bodies:
    text: str = ""
    html: str = ""
    parts: list[Message] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def _repair_boundaries(msg: EmailMessage, defects: list[str]) -> EmailMessage:
    """A multipart whose declared boundary never appears: re-parse with the one that does."""
    if not msg.get_content_maintype() == "multipart" or msg.is_multipart():
        return msg
    payload = msg.get_payload()
    if not isinstance(payload, str):
        return msg
    found = _BOUNDARY_LINE_RE.findall(payload)
    if not found:
        return msg
    boundary = found[0][0]
    head = "".join(
        f"{k}: {v}\r\n"
        for k, v in msg.items()
        if k.lower() not in ("content-type", "content-transfer-encoding")
    )
    ctype = f'Content-Type: {msg.get_content_type()}; boundary="{boundary}"\r\n'
    raw = (head + ctype + "\r\n").encode("utf-8", "replace") + payload.encode(
        "utf-8", "surrogateescape"
    )
    repaired = BytesParser(policy=POLICY, _class=EmailMessage).parsebytes(raw)
    if not repaired.is_multipart():
        return msg
    defects.append(f"declared MIME boundary not found; re-parsed with boundary {boundary!r}")
    return repaired


def _bodies(msg: EmailMessage, defects: list[str]) -> _Bodies:
    out = _Bodies()
    plain = html = None
    try:
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
    except Exception as exc:  # a broken structure still has text somewhere
        defects.append(f"body lookup failed: {exc}")
    if plain is None and html is None and not msg.is_multipart():
        maintype = msg.get_content_maintype()
        if maintype in ("text", "multipart") or not raw_first(msg, "Content-Type"):
            plain = msg  # a broken multipart or an odd single part: its payload is the text
    if plain is not None:
        out.text = _part_text(plain, out.defects)
        out.parts.append(plain)
    if html is not None and html is not plain:
        out.html = _part_text(html, out.defects)
        out.parts.append(html)
    if plain is not None and plain.get_content_type() == "text/html":
        out.html, out.text = out.text, ""
    return out


def _part_text(part: Message, defects: list[str]) -> str:
    data = part.get_payload(decode=True)
    if data is None:
        payload = part.get_payload()
        data = payload.encode("ascii", "surrogateescape") if isinstance(payload, str) else b""
    text, problem = decode_bytes(data, part.get_content_charset())
    if problem:
        defects.append(problem)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    if part.get_content_type() == "text/plain" and (part.get_param("format") or "").lower() == (
        "flowed"
    ):
        text = _unflow(text, delsp=(part.get_param("delsp") or "").lower() == "yes")
    return text.strip("\n")


def _unflow(text: str, *, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed soft line breaks."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        soft = content.endswith(" ") and content != "-- "
        if pending is not None and depth == pending_depth:
            content = pending + content
        elif pending is not None:
            out.append(_quoted(pending, pending_depth))
        if soft:
            pending = content[:-1] if delsp else content
            pending_depth = depth
        else:
            out.append(_quoted(content, depth))
            pending, pending_depth = None, -1
    if pending is not None:
        out.append(_quoted(pending, pending_depth))
    return "\n".join(out)


def _quoted(content: str, depth: int) -> str:
    return ("> " * depth + content).rstrip() if depth else content


# --- attachments ------------------------------------------------------------------------


def _leaves(part: Message, depth: int = 0) -> Iterator[Message]:
    ctype = part.get_content_type()
    if depth < _MAX_DEPTH and part.is_multipart() and ctype.startswith("multipart/"):
        for sub in part.get_payload():
            yield from _leaves(sub, depth + 1)
    else:
        yield part


def _attachments(
    msg: Message,
    *,
    skip: list[Message],
    max_bytes: int,
    allowed: tuple[str, ...],
    max_count: int,
    is_report: bool,
) -> tuple[list[Attachment], list[RejectedAttachment], tuple[str, str] | None]:
    kept: list[Attachment] = []
    rejected: list[RejectedAttachment] = []
    rfc822_from: tuple[str, str] | None = None
    skip_ids = {id(p) for p in skip}
    for part in _leaves(msg):
        if id(part) in skip_ids:
            continue
        ctype = part.get_content_type()
        if ctype in _REPORT_PARTS or (is_report and ctype == "message/rfc822"):
            continue
        disposition = part.get_content_disposition()
        filename = _safe_filename(part)
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            continue  # an alternative body we did not choose
        raw_cid = raw_first(part, "Content-ID")
        content_id = _first_id(raw_cid) or raw_cid.strip() or None
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            if inner_msg is not None and rfc822_from is None:
                found = _addresses(inner_msg, "From", [])
                rfc822_from = found[0] if found else None
            filename = filename or _eml_name(inner_msg)
        filename = filename or f"attachment-{len(kept) + len(rejected) + 1}{_extension(ctype)}"
        effective = ctype
        if ctype == "application/octet-stream":
            effective = mimetypes.guess_type(filename)[0] or ctype
        estimate = _estimated_size(part)
        reason = None
        if len(kept) >= max_count:
            reason = "too_many_attachments"
        elif _extension_of(filename) in BLOCKED_EXTENSIONS:
            reason = "blocked_extension"
        elif not _type_allowed(effective, allowed):
            reason = "type_not_allowed"
        elif estimate > max_bytes + max_bytes // 20 + 1024:
            reason = "too_large"
        if reason:
            rejected.append(RejectedAttachment(filename, effective, estimate, reason))
            continue
        content = _content(part)
        if len(content) > max_bytes:
            rejected.append(RejectedAttachment(filename, effective, len(content), "too_large"))
            continue
        kept.append(
            Attachment(
                filename=filename,
                content_type=effective,
                size=len(content),
                content=content,
                inline=disposition == "inline" or (disposition is None and content_id is not None),
                content_id=content_id,
            )
        )
    return kept, rejected, rfc822_from


def _safe_filename(part: Message) -> str:
    try:
        name = repair_header(part.get_filename() or "")
    except Exception:  # unreadable name: one is made up below
        name = ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME_RE.sub("", name).strip().lstrip(".")
    return name[:200]


def _eml_name(inner: Message | None) -> str:
    subject = _header_text(inner, "Subject") if inner is not None else ""
    stem = re.sub(r"[^\w .-]+", "", subject).strip()[:80] or "forwarded-message"
    return f"{stem}.eml"


def _extension(ctype: str) -> str:
    return mimetypes.guess_extension(ctype) or ".bin"


def _extension_of(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot > 0 else ""


def _type_allowed(ctype: str, allowed: tuple[str, ...]) -> bool:
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern.endswith("*"):
            if ctype.startswith(pattern[:-1]):
                return True
        elif ctype == pattern:
            return True
    return False


def _estimated_size(part: Message) -> int:
    """Decoded size without decoding: cheap enough to refuse a huge part before copying it."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return len(_content(part))
    cte = raw_first(part, "Content-Transfer-Encoding").strip().lower()
    if cte == "base64":
        return (len(payload) - payload.count("\n") - payload.count("\r")) * 3 // 4
    return len(payload)


def _content(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner:
            try:
                return inner[0].as_bytes()
            except Exception:  # keep what can be kept
                return str(inner[0]).encode("utf-8", "replace")
        return b""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""
