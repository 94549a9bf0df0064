"""Small template helpers for the agent workspace (all output autoescaped)."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from warmline.conversations.inbox import NEGATIVE_BELOW, POSITIVE_ABOVE
from warmline.conversations.models import Priority, Status
from warmline.knowledge.services import tenure_in_words

register = template.Library()


@register.filter
def lookup(mapping, key):
    """``{{ members|lookup:id }}`` — None when absent."""
    if mapping is None or key is None:
        return None
    try:
        return mapping.get(key) if hasattr(mapping, "get") else mapping[key]
    except (KeyError, IndexError, TypeError):
        return None


@register.filter
def status_label(value):
    try:
        return Status(value).label
    except ValueError:
        return value


@register.filter
def priority_label(value):
    try:
        return Priority(value).label
    except ValueError:
        return value


@register.filter
def tenure(since):
    return tenure_in_words(since)


@register.filter
def sentiment_band(score):
    """'negative' / 'neutral' / 'positive' for a compound score, '' when unknown."""
    if score is None:
        return ""
    if score < NEGATIVE_BELOW:
        return "negative"
    if score > POSITIVE_ABOVE:
        return "positive"
    return "neutral"


@register.filter
def sentiment_word(band):
    return {"negative": _("Negative"), "neutral": _("Neutral"), "positive": _("Positive")}.get(
        band, ""
    )


EMOTION_WORDS = {
    "frustration": lambda: _("frustration"),
    "confusion": lambda: _("confusion"),
    "anxiety": lambda: _("anxiety"),
    "sadness": lambda: _("sadness"),
    "gratitude": lambda: _("gratitude"),
    "joy": lambda: _("joy"),
    "anger": lambda: _("anger"),
}


@register.filter
def top_emotions(signals, threshold=0.5):
    """Names of the emotions above ``threshold``, strongest first (dict or list shapes)."""
    if not isinstance(signals, dict):
        return []
    emotions = signals.get("emotions") or {}
    if isinstance(emotions, dict):
        items = sorted(
            ((k, v) for k, v in emotions.items() if isinstance(v, int | float) and v >= threshold),
            key=lambda kv: -kv[1],
        )
        names = [k for k, _v in items]
    elif isinstance(emotions, list):
        names = [str(e) for e in emotions]
    else:
        names = []
    return [str(EMOTION_WORDS[n]()) if n in EMOTION_WORDS else n for n in names[:3]]


@register.filter
def evidence_text(signals):
    """The words that triggered the signals, for a tooltip."""
    if not isinstance(signals, dict):
        return ""
    evidence = signals.get("evidence") or {}
    words: list[str] = []
    if isinstance(evidence, dict):
        for values in evidence.values():
            if isinstance(values, list):
                words.extend(str(v) for v in values)
    elif isinstance(evidence, list):
        words = [str(v) for v in evidence]
    seen = list(dict.fromkeys(words))
    return ", ".join(seen[:6])


@register.filter
def order_status_label(value):
    from warmline.customers.models import OrderStatus

    try:
        return OrderStatus(value).label
    except ValueError:
        return value


@register.filter
def language_name(code):
    """'es' -> 'Spanish' / 'español' in the active language; the code itself when unknown."""
    from django.utils.translation import get_language_info

    if not code:
        return ""
    try:
        return _(get_language_info(str(code).split("-")[0].lower())["name"])
    except KeyError:
        return code
