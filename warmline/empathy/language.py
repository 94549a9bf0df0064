"""Fast language guess (en / es / other) from function-word profiles.

A stop-word vote is enough to route an inbound message and pick the Spanish rules, and
it costs microseconds; a character n-gram model would be slower for no care benefit.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-zà-ÿ']+")

PROFILES: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and is are was were to of in it that this my your you i me we our for with on "
        "have has had not but be been can could would will do does did what why how please "
        "thanks thank hello hi account order help there they an at from just if so no yes "
        "i'm it's don't can't".split()
    ),
    "es": frozenset(
        "el la los las y es son era que de del en un una mi mis su sus tu yo me nos por para "
        "con no pero muy ya está están hola gracias favor cuenta pedido ayuda qué cómo por "
        "qué porque se le lo al como más este esta eso hay tengo quiero estoy".split()
    ),
    # Other common languages, so they are not mistaken for English or Spanish.
    "fr": frozenset(
        "le les des est et je vous nous pas une mon ma merci bonjour avec pour dans".split()
    ),
    "pt": frozenset(
        "o os um uma não você obrigado obrigada olá meu minha com para isso está são".split()
    ),
    "de": frozenset(
        "der die das und ist nicht ich sie wir ein eine mit für danke hallo mein auf".split()
    ),
    "it": frozenset("il gli che è non sono una per con grazie ciao mio mia della questo".split()),
}
_SPANISH_MARKS = re.compile(r"[ñ¿¡]")
SUPPORTED = ("en", "es")
# word -> languages whose profile holds it: one dict lookup per word.
_INDEX: dict[str, tuple[str, ...]] = {}
for _lang, _words in PROFILES.items():
    for _w in _words:
        _INDEX[_w] = (*_INDEX.get(_w, ()), _lang)


def detect(text: str) -> str:
    """'en', 'es' or 'other' (also 'other' when there is no evidence, e.g. '12345')."""
    words = _WORD.findall(text.lower())
    votes = {lang: 0.0 for lang in PROFILES}
    for w in words:
        for lang in _INDEX.get(w, ()):
            votes[lang] += 1.0
    if _SPANISH_MARKS.search(text):
        votes["es"] += 2.0
    best = max(votes, key=votes.__getitem__)
    if votes[best] == 0:
        return "other"
    return best if best in SUPPORTED else "other"
