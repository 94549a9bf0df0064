"""Built-in wording of the surveys in English and Spanish.

Kept as per-language text (not gettext catalogues) because the customer's
language, not the agent's interface, decides it, and a workspace may override
each question per language in ``SurveySettings.questions``.
"""

from __future__ import annotations

SUPPORTED = ("en", "es")

QUESTIONS = {
    "nps": {
        "en": "How likely are you to recommend {brand} to a friend or colleague?",
        "es": "¿Qué probabilidad hay de que recomiende {brand} a un amigo o colega?",
    },
    "csat": {
        "en": "How satisfied are you with the help you received?",
        "es": "¿Qué tan satisfecho está con la ayuda que recibió?",
    },
    "ces": {
        "en": "{brand} made it easy for me to handle my request.",
        "es": "{brand} me facilitó resolver mi solicitud.",
    },
}

LABELS = {
    "nps": {
        "en": ("Not at all likely", "Extremely likely"),
        "es": ("Nada probable", "Muy probable"),
    },
    "csat": {
        "en": ("Very dissatisfied", "Very satisfied"),
        "es": ("Muy insatisfecho", "Muy satisfecho"),
    },
    "ces": {
        "en": ("Strongly disagree", "Strongly agree"),
        "es": ("Totalmente en desacuerdo", "Totalmente de acuerdo"),
    },
}

UI = {
    "title": {"en": "Tell us how we did", "es": "Cuéntenos cómo lo hicimos"},
    "comment": {"en": "Anything else? (optional)", "es": "¿Algo más? (opcional)"},
    "submit": {"en": "Send", "es": "Enviar"},
    "thanks": {"en": "Thank you for your answer!", "es": "¡Gracias por su respuesta!"},
    "thanks_detail": {
        "en": "We read every answer. If something went wrong, we will be in touch.",
        "es": "Leemos todas las respuestas. Si algo salió mal, nos pondremos en contacto.",
    },
    "review": {
        "en": "Glad we could help! Would you share it in a public review?",
        "es": "¡Nos alegra haber ayudado! ¿Lo contaría en una reseña pública?",
    },
    "review_link": {"en": "Leave a review", "es": "Dejar una reseña"},
    "already": {
        "en": "This survey has already been answered. Thank you — we only count one answer.",
        "es": "Esta encuesta ya fue respondida. Gracias: solo contamos una respuesta.",
    },
    "expired": {
        "en": "This survey link has expired. Thank you for wanting to help us.",
        "es": "Este enlace de encuesta ha caducado. Gracias por querer ayudarnos.",
    },
    "invalid": {
        "en": "We could not find this survey. Please check the link in your message.",
        "es": "No encontramos esta encuesta. Revise el enlace de su mensaje.",
    },
    "required": {"en": "Please choose a score.", "es": "Elija una puntuación."},
    "subject": {
        "en": "How did we do? (conversation #{number})",
        "es": "¿Cómo lo hicimos? (conversación #{number})",
    },
    "invite": {
        "en": "Your conversation #{number} is resolved. Tell us how we did: {link}",
        "es": "Su conversación #{number} está resuelta. Cuéntenos cómo lo hicimos: {link}",
    },
}


def language_for(code: str | None) -> str:
    code = (code or "").split("-")[0].lower()
    return code if code in SUPPORTED else "en"


def ui(key: str, language: str) -> str:
    return UI[key][language_for(language)]


def question(kind: str, language: str, *, brand: str, overrides: dict | None = None) -> str:
    lang = language_for(language)
    custom = ((overrides or {}).get(kind) or {}).get(lang)
    return (custom or QUESTIONS[kind][lang]).replace("{brand}", brand)


def labels(kind: str, language: str) -> tuple[str, str]:
    return LABELS[kind][language_for(language)]
