"""The channel-neutral shape of an inbound message, as every adapter builds it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sender:
    email: str | None = None
    phone: str | None = None
    chat_visitor: str | None = None
    social: str | None = None
    external_id: str | None = None
    name: str = ""

    def identities(self) -> list[tuple[str, str | None]]:
        return [
            ("external", self.external_id),
            ("email", self.email),
            ("phone", self.phone),
            ("chat", self.chat_visitor),
            ("social", self.social),
        ]


@dataclass
class ThreadHints:
    """What the channel knows about where this message belongs."""

    conversation_id: int | None = None
    # Keys of earlier messages this one answers (email References/In-Reply-To,
    # a chat session "chat:<id>", a reply token "token:<t>").
    keys: list[str] = field(default_factory=list)


@dataclass
class InboundMessage:
    channel: str
    text: str
    sender: Sender
    external_id: str | None = None
    subject: str = ""
    html: str = ""
    thread: ThreadHints = field(default_factory=ThreadHints)
    # Key other messages may later refer to (e.g. this email's Message-ID).
    thread_key: str | None = None
    sent_at: dt.datetime | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    language: str = ""
    # Auto-replies, out-of-office and bounces are recorded but never reopen a case.
    auto_submitted: bool = False
    data: dict[str, Any] = field(default_factory=dict)
