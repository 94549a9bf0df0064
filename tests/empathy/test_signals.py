"""Each signal on clear cases, in English and Spanish, plus the ingest-facing service."""

import json

import pytest

from warmline.empathy.analyser import analyse
from warmline.empathy.language import detect
from warmline.empathy.services import Prepared, prepare_inbound


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Where is my order? It has not arrived yet.", "en"),
        ("¿Dónde está mi pedido? Todavía no ha llegado.", "es"),
        ("Hola, quiero cancelar mi cuenta por favor", "es"),
        ("Bonjour, je voudrais annuler ma commande, merci", "other"),
        ("Hallo, ich habe eine Frage zu meiner Rechnung", "other"),
        ("12345", "other"),
    ],
)
def test_language(text, lang):
    assert detect(text) == lang


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Thank you so much, the support was wonderful and fast!", "positive"),
        ("This is the worst service ever, I am furious and disgusted.", "negative"),
        ("Muchas gracias, todo perfecto, sois geniales", "positive"),
        ("El servicio es pésimo, estoy harto, es inaceptable", "negative"),
        ("Mi pedido no funciona bien", "negative"),
    ],
)
def test_sentiment_label(text, label):
    result = analyse(text)
    assert result["label"] == label
    assert -1.0 <= result["sentiment"] <= 1.0
    assert 0.0 <= result["confidence"] <= 1.0
    assert (result["sentiment"] > 0) == (label == "positive")


def test_empty_text_is_neutral():
    assert analyse("   ")["label"] == "neutral"


@pytest.mark.parametrize(
    ("text", "cue", "phrase"),
    [
        ("I'm so frustrated, this is ridiculous", "frustration", "ridiculous"),
        ("Estoy harta, es una vergüenza", "frustration", "Estoy harta"),
        ("I'm confused, what does this charge mean?", "confusion", "confused"),
        ("No entiendo la factura, estoy confundida", "confusion", "No entiendo"),
        ("I'm really worried someone made an unauthorized charge", "anxiety", "worried"),
        ("Me preocupa mucho este cargo, tengo miedo", "anxiety", "Me preocupa"),
        ("I'm heartbroken, my mother passed away", "sadness", "heartbroken"),
        ("Estoy muy triste con todo esto", "sadness", "triste"),
        ("Thanks a lot for your help!", "gratitude", "Thanks a lot"),
        ("Mil gracias por la ayuda", "gratitude", "Mil gracias"),
        ("I'm so happy with the new plan, it's amazing", "joy", "happy"),
        ("Estoy encantada, me encanta el nuevo plan", "joy", "encantada"),
    ],
)
def test_emotion_cues_with_evidence(text, cue, phrase):
    result = analyse(text)
    assert result["emotions"][cue] >= 0.5
    assert phrase in result["evidence"][cue]


def test_calm_message_has_no_strong_cues():
    result = analyse("Could you tell me the opening hours of the Madrid store?")
    assert max(result["emotions"].values()) < 0.5
    assert result["urgency"] == 0.0 and result["churn_intent"] == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "Please fix this urgently, I need it right now",
        "Es urgente, lo necesito cuanto antes",
    ],
)
def test_urgency(text):
    result = analyse(text)
    assert result["urgency"] >= 0.8
    assert result["evidence"]["urgency"]


@pytest.mark.parametrize(
    "text",
    [
        "I want to cancel my account",
        "I'm switching to another provider next month",
        "Quiero darme de baja",
        "Voy a cancelar mi suscripción, me cambio a otra compañía",
    ],
)
def test_churn_intent(text):
    result = analyse(text)
    assert result["churn_intent"] >= 0.8
    assert result["evidence"]["churn_intent"]


def test_prepare_inbound_redacts_before_analysis():
    prepared = prepare_inbound(
        text="I'm furious! Card 4111 1111 1111 1111, cancel my account",
        html="<p>Card 4111 1111 1111 1111</p>",
    )
    assert isinstance(prepared, Prepared)
    assert "4111" not in prepared.text and "4111" not in prepared.html
    assert "4111" not in json.dumps(prepared.signals)
    assert prepared.redactions == ["card_number"]
    assert prepared.language == "en"
    assert prepared.sentiment < 0
    assert set(prepared.signals) >= {
        "label",
        "confidence",
        "emotions",
        "urgency",
        "churn_intent",
        "evidence",
    }
    assert prepared.signals["churn_intent"] >= 0.8


def test_prepare_inbound_keeps_text_when_redaction_is_off():
    prepared = prepare_inbound(text="password: hunter22", redact=False)
    assert prepared.text == "password: hunter22"
    assert prepared.redactions == []
