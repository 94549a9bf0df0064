"""Empathy signals for one inbound message (interface used by ``ingest()``).

``prepare_inbound`` runs before the message is stored: it redacts secrets (when
the workspace asks for it) so the original never reaches the database, and
computes the signals that travel with the timeline entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Prepared:
    text: str
    html: str
    language: str = ""
    sentiment: float | None = None
    signals: dict = field(default_factory=dict)
    redactions: list[str] = field(default_factory=list)


def prepare_inbound(*, text: str, html: str = "", redact: bool = True) -> Prepared:
    # Placeholder until the trained analysers land: no signals yet.
    return Prepared(text=text, html=html)


def redact_inbound(*, text: str, html: str = "", redact: bool = True) -> tuple[str, str, list[str]]:
    """Redaction alone, for bulk import: analysis happens later in the worker."""
    return text, html, []
