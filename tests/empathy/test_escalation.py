"""The conversation-level escalation rule."""

from warmline.empathy.escalation import (
    CHURN_RISK,
    SHARP_NEGATIVE_SHIFT,
    STRONG_ANGER,
    escalation_reasons,
)
from warmline.empathy.services import Prepared, prepare_inbound


def _signals(sentiment=0.0, frustration=0.0, churn=0.0):
    return {"sentiment": sentiment, "emotions": {"frustration": frustration}, "churn_intent": churn}


def test_sharp_negative_shift():
    assert escalation_reasons([0.6, 0.5], _signals(sentiment=-0.5)) == [SHARP_NEGATIVE_SHIFT]


def test_steady_negative_is_not_a_shift():
    assert escalation_reasons([-0.6, -0.5], _signals(sentiment=-0.6)) == []


def test_mild_dip_is_not_a_shift():
    assert escalation_reasons([0.3], _signals(sentiment=-0.1)) == []


def test_first_message_cannot_shift():
    assert escalation_reasons([], _signals(sentiment=-0.9)) == []


def test_strong_anger_and_churn():
    reasons = escalation_reasons([], _signals(frustration=0.9, churn=0.9))
    assert reasons == [STRONG_ANGER, CHURN_RISK]


def test_accepts_prepared():
    prepared = Prepared(text="", html="", sentiment=-0.8, signals=_signals(churn=0.0))
    assert escalation_reasons([0.5, 0.4, 0.6], prepared) == [SHARP_NEGATIVE_SHIFT]


def test_real_message_end_to_end():
    prepared = prepare_inbound(text="This is unacceptable, I'm furious. Cancel my account now.")
    reasons = escalation_reasons([0.5], prepared)
    assert set(reasons) == {SHARP_NEGATIVE_SHIFT, STRONG_ANGER, CHURN_RISK}
