"""Raw header access for headers that need no structured parsing.

``email.policy.default`` parses a header into an object on every read, at
roughly 0.1 ms apiece; identifiers and flags (``Message-ID``, ``Precedence``,
``List-Id``) only need their text, so they are read unparsed.
"""

from __future__ import annotations

from email.message import Message


def raw_values(msg: Message, name: str) -> list[str]:
    """Every value of header ``name``, unfolded, in message order."""
    wanted = name.lower()
    return [" ".join(str(v).split()) for k, v in msg.raw_items() if k.lower() == wanted]


def raw_first(msg: Message, name: str) -> str:
    """The first value of header ``name``, unfolded, or ``""``."""
    values = raw_values(msg, name)
    return values[0] if values else ""


def has_header(msg: Message, name: str) -> bool:
    wanted = name.lower()
    return any(k.lower() == wanted for k, _ in msg.raw_items())
