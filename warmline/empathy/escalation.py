"""The conversation-level escalation rule: when should the owner and team lead be told?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# A drop of this much below the recent average (sentiment is in [-1, 1]) ...
SHARP_SHIFT_DROP = 0.6
# ... counts only when the new message is itself clearly negative ...
SHARP_SHIFT_FLOOR = -0.4
# ... measured against the mean of this many previous customer messages.
SHIFT_WINDOW = 3
STRONG_FRUSTRATION = 0.8
CHURN_INTENT = 0.6

SHARP_NEGATIVE_SHIFT = "sharp_negative_shift"
STRONG_ANGER = "strong_anger"
CHURN_RISK = "churn_intent"


def escalation_reasons(previous_sentiments: Sequence[float], current: Any) -> list[str]:
    """Reasons to escalate, in a stable order; empty when none apply.

    ``current`` is a :class:`~warmline.empathy.services.Prepared` or its ``signals`` dict
    (which then must carry ``sentiment``).
    """
    if isinstance(current, Mapping):
        signals = current
        sentiment = current.get("sentiment")
    else:
        signals = current.signals or {}
        sentiment = current.sentiment
    reasons: list[str] = []
    recent = [s for s in previous_sentiments if s is not None][-SHIFT_WINDOW:]
    if sentiment is not None and recent:
        baseline = sum(recent) / len(recent)
        if sentiment <= SHARP_SHIFT_FLOOR and baseline - sentiment >= SHARP_SHIFT_DROP:
            reasons.append(SHARP_NEGATIVE_SHIFT)
    if (signals.get("emotions") or {}).get("frustration", 0.0) >= STRONG_FRUSTRATION:
        reasons.append(STRONG_ANGER)
    if signals.get("churn_intent", 0.0) >= CHURN_INTENT:
        reasons.append(CHURN_RISK)
    return reasons
