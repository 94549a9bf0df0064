"""Conversation reply tokens: ``c<number>-<mac>``, carried in the reply address.

The token names the conversation by its human number and carries a short MAC
(keyed by the project secret and the workspace), so a guessed or altered token
threads nothing: it is ignored and the mail is threaded by its headers or the
sender instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from django.conf import settings

_TOKEN_RE = re.compile(r"c(\d{1,10})-([a-z2-7]{8})")


def _mac(workspace_id: int, number: int) -> str:
    key = hashlib.sha256(("warmline.reply-token:" + settings.SECRET_KEY).encode()).digest()
    digest = hmac.new(key, f"{workspace_id}:{number}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:5]).decode().lower()


def conversation_token(workspace_id: int, number: int) -> str:
    """The reply token of conversation ``number`` in a workspace."""
    return f"c{number}-{_mac(workspace_id, number)}"


def number_from_token(workspace_id: int, token: str | None) -> int | None:
    """The conversation number a token names, or None when it is not one of ours."""
    if not token:
        return None
    match = _TOKEN_RE.fullmatch(token.strip().lower())
    if not match:
        return None
    number = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _mac(workspace_id, number)):
        return None
    return number
