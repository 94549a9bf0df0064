"""Inbound email: parse raw messages into channel-neutral data (pure functions, no DB)."""

from .autoreply import AUTO_REPLY, BOUNCE, LIST, OUT_OF_OFFICE, BounceReport, FailedRecipient
from .parse import (
    DEFAULT_ALLOWED_TYPES,
    DEFAULT_MAX_ATTACHMENT_BYTES,
    Attachment,
    MalformedEmail,
    ParsedEmail,
    RejectedAttachment,
    parse_email,
)
from .quotes import ReplySplit, split_reply
from .reply_token import extract_reply_token, make_reply_address, split_reply_address
from .sanitize import html_to_text, sanitize_html

__all__ = [
    "AUTO_REPLY",
    "BOUNCE",
    "DEFAULT_ALLOWED_TYPES",
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "LIST",
    "OUT_OF_OFFICE",
    "Attachment",
    "BounceReport",
    "FailedRecipient",
    "MalformedEmail",
    "ParsedEmail",
    "RejectedAttachment",
    "ReplySplit",
    "extract_reply_token",
    "html_to_text",
    "make_reply_address",
    "parse_email",
    "sanitize_html",
    "split_reply",
    "split_reply_address",
]
