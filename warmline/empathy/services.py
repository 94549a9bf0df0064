"""Empathy signals for one inbound message (interface used by ``ingest()``).

``prepare_inbound`` runs before the message is stored: it redacts secrets (when
the workspace asks for it) so the original never reaches the database, and
computes the signals that travel with the timeline entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import analyser
from .escalation import escalation_reasons
from .redaction import redact as _redact

__all__ = ["Prepared", "escalation_reasons", "prepare_inbound", "redact_inbound", "redact_subject"]


@dataclass
class Prepared:
    text: str
    html: str
    language: str = ""
    sentiment: float | None = None
    signals: dict = field(default_factory=dict)
    redactions: list[str] = field(default_factory=list)


def redact_inbound(*, text: str, html: str = "", redact: bool = True) -> tuple[str, str, list[str]]:
    """Redaction alone, for bulk import: analysis happens later in the worker."""
    if not redact:
        return text, html, []
    r_text = _redact(text)
    r_html = _redact(html)
    kinds = list(r_text.kinds)
    kinds.extend(k for k in r_html.kinds if k not in kinds)
    return r_text.text, r_html.text, kinds


def redact_subject(subject: str, *, redact: bool = True) -> str:
    """An email subject is stored too (conversation and entry): it gets the same redaction."""
    if not redact or not subject:
        return subject
    return _redact(subject).text


def prepare_inbound(*, text: str, html: str = "", redact: bool = True) -> Prepared:
    """Redact first, then analyse the redacted text: secrets never reach the signals either."""
    text, html, kinds = redact_inbound(text=text, html=html, redact=redact)
    result = analyser.analyse(text)
    signals = {
        "label": result["label"],
        "confidence": result["confidence"],
        "emotions": result["emotions"],
        "urgency": result["urgency"],
        "churn_intent": result["churn_intent"],
        "evidence": result["evidence"],
    }
    return Prepared(
        text=text,
        html=html,
        language=result["language"],
        sentiment=result["sentiment"],
        signals=signals,
        redactions=kinds,
    )
