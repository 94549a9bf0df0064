"""Reply tokens carried in a plus-addressed reply address.

Some mail clients (and forwarding rules, and people who copy an address into a
new message) drop ``In-Reply-To`` and ``References``. Outbound replies therefore
go out with ``Reply-To: help+r-TOKEN@brand.example``; whatever the client keeps,
it keeps the address, and the token in it finds the conversation again.

Tokens are lowercase ``[a-z0-9-]`` because some MTAs fold local parts to lower
case; anything else is refused rather than silently mangled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import getaddresses

REPLY_TAG = "r-"
_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def make_reply_address(address: str, token: str) -> str:
    """Return ``address`` with the reply token added as a ``+r-TOKEN`` subaddress.

    ``make_reply_address("help@brand.example", "k3x9")`` ->
    ``"help+r-k3x9@brand.example"``. An address that already carries a
    subaddress keeps it: ``help+sales@…`` -> ``help+sales+r-k3x9@…``.
    """
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError(f"reply token must match {_TOKEN_RE.pattern!r}: {token!r}")
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not an email address: {address!r}")
    base_local, _ = _strip_token(local)
    return f"{base_local}+{REPLY_TAG}{token}@{domain}"


def split_reply_address(address: str) -> tuple[str, str | None]:
    """Split ``help+r-k3x9@brand.example`` into ``("help@brand.example", "k3x9")``.

    The base address is what a workspace configured as its inbound address, so
    the SMTP server can route on it; the token (or ``None``) threads the reply.
    The result is lower-cased.
    """
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower(), None
    base_local, token = _strip_token(local)
    return f"{base_local}@{domain}", token


def extract_reply_token(addresses: Iterable[str]) -> str | None:
    """Return the first reply token found in ``addresses`` (bare or ``Name <addr>``)."""
    for value in addresses:
        if not value:
            continue
        candidates = [addr for _, addr in getaddresses([value])] if "<" in value else [value]
        for addr in candidates:
            _, token = split_reply_address(addr)
            if token:
                return token
    return None


def _strip_token(local: str) -> tuple[str, str | None]:
    """Remove the ``+r-TOKEN`` part from a local part, keeping other subaddresses."""
    parts = local.split("+")
    kept, token = [parts[0]], None
    for part in parts[1:]:
        candidate = part[len(REPLY_TAG) :].lower()
        if token is None and part.lower().startswith(REPLY_TAG) and _TOKEN_RE.fullmatch(candidate):
            token = candidate
        else:
            kept.append(part)
    return "+".join(kept), token
