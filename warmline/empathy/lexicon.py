"""Hand-written cue rules (English and Spanish) that also yield the evidence phrases.

The trained models are English-only and say little about *why*; these rules catch the
phrases care teams act on (churn threats, urgency, "I'm confused") in both languages and
name the words that fired, so an agent can see the reason beside each mark.
"""

from __future__ import annotations

import re

CUES = ("frustration", "confusion", "anxiety", "sadness", "gratitude", "joy")
SIGNALS = (*CUES, "urgency", "churn_intent")


# Weights are the cue score one match gives on its own; matches combine as 1 - Π(1 - w).
RULES: dict[str, list[tuple[str, float]]] = {
    "frustration": [
        (
            r"(?:so |really |very |extremely )?(?:frustrat\w+|annoy\w+|irritat\w+|furious|angry|mad at)",
            0.85,
        ),
        (
            r"fed up|sick (?:and tired )?of|had enough|unacceptable|ridiculous|outrageous|disgrac\w+",
            0.85,
        ),
        (
            r"(?:this|that) is (?:a )?(?:joke|nonsense)|waste of (?:my )?time|worst (?:service|company|experience)",
            0.8,
        ),
        (r"disappoint\w+|let ?down|useless|terrible|awful|horrible|pathetic", 0.7),
        (
            r"(?:still|again) (?:not|no|waiting|broken|charged)|for the (?:third|fourth|fifth|\w+th) time",
            0.6,
        ),
        (r"nobody (?:helps|answers|replies|cares)|no one (?:helps|answers|replies|cares)", 0.7),
        # Spanish
        (
            r"(?:estoy |muy )?(?:harto|harta|hartos|frustrad[oa]s?|enfadad[oa]s?|enojad[oa]s?|molest[oa]s?|furios[oa]s?|indignad[oa]s?)",
            0.85,
        ),
        (
            r"inaceptable|indignante|una vergüenza|vergonzoso|ridículo|es una broma|tomadura de pelo",
            0.85,
        ),
        (r"decepcionad[oa]s?|decepción|pésim[oa]|horrible|fatal|inútil(?:es)?|desastre", 0.7),
        (
            r"otra vez|de nuevo|sigo esperando|seguimos esperando|nadie (?:me )?(?:ayuda|responde|contesta)",
            0.6,
        ),
    ],
    "confusion": [
        (
            r"confus\w+|(?:i'?m|i am) (?:lost|puzzled|not sure)|doesn'?t make sense|makes no sense",
            0.8,
        ),
        (
            r"(?:i )?(?:don'?t|do not) understand|(?:i )?(?:can'?t|cannot) figure out|what does (?:this|that|it) mean",
            0.8,
        ),
        (
            r"unclear|not clear|which one should|how am i supposed to|no idea (?:how|what|why|where)",
            0.65,
        ),
        # Spanish
        (
            r"confundid[oa]s?|confuso|no (?:lo )?entiendo|no comprendo|no me queda claro|no tiene sentido",
            0.8,
        ),
        (r"qué significa|no sé (?:cómo|qué|dónde|por qué)|estoy perdid[oa]", 0.65),
    ],
    "anxiety": [
        (
            r"worried|worry(?:ing)?|anxious|nervous|scared|afraid|terrified|panic\w*|freaking out",
            0.85,
        ),
        (
            r"(?:i'?m |am )?concerned|stress(?:ed|ful)|fraud\w*|hacked|stolen|unauthori[sz]ed (?:charge|payment|transaction)",
            0.7,
        ),
        (r"what if|hope (?:nothing|it'?s not)", 0.45),
        # Spanish
        (
            r"preocupad[oa]s?|me preocupa|nervios[oa]s?|asustad[oa]s?|miedo|angustiad[oa]s?|estresad[oa]s?",
            0.85,
        ),
        (r"fraude|me han (?:robado|hackeado)|cargo no autorizado|estafa", 0.7),
    ],
    "sadness": [
        (r"sad|unhappy|heartbroken|devastated|depressed|upset|miserable|crying|in tears", 0.8),
        (r"passed away|died|funeral|lost my (?:job|husband|wife|mother|father|mom|dad)", 0.75),
        # Spanish
        (r"triste|tristeza|deprimid[oa]s?|destrozad[oa]s?|llorando|falleci\w+|murió", 0.8),
    ],
    "gratitude": [
        (
            r"thanks?(?: you)?(?: so much| a lot| very much)?|thx|much appreciated|appreciate (?:it|your|the)|grateful|thankful",
            0.85,
        ),
        # Spanish
        (
            r"gracias|muchas gracias|mil gracias|te lo agradezco|se lo agradezco|agradecid[oa]s?|os lo agradezco",
            0.85,
        ),
    ],
    "joy": [
        (
            r"happy|delighted|thrilled|love (?:it|this|you)|awesome|amazing|wonderful|fantastic|great news|excellent|perfect",
            0.8,
        ),
        (r"glad|pleased|excited|yay", 0.65),
        # Spanish
        (
            r"feliz|encantad[oa]s?|contentísim[oa]|content[oa]s?|genial|maravillos[oa]|fantástic[oa]|excelente|perfecto|me encanta",
            0.8,
        ),
    ],
    "urgency": [
        (
            r"urgent(?:ly)?|emergency|asap|a\.s\.a\.p\.?|immediately|right (?:now|away)|as soon as possible",
            0.85,
        ),
        (
            r"today|tonight|by tomorrow|deadline|time[- ]sensitive|critical|can'?t wait|need (?:it|this) now",
            0.5,
        ),
        (
            r"still waiting|been waiting|(?:days|weeks|hours) (?:now|already)|no response|haven'?t heard back",
            0.55,
        ),
        # Spanish
        (
            r"urgente|urgencia|inmediatamente|de inmediato|ya mismo|cuanto antes|lo antes posible|lo más pronto posible",
            0.85,
        ),
        (
            r"hoy mismo|para mañana|plazo|sigo esperando|llevo (?:días|semanas|horas) esperando|sin respuesta",
            0.55,
        ),
    ],
    "churn_intent": [
        (
            r"(?:cancel|close|terminate|delete|deactivate) (?:my|our|the) (?:account|subscription|plan|membership|service|contract)",
            0.9,
        ),
        (
            r"unsubscribe me|i want out|i'?m (?:leaving|done with you)|(?:i'?m|we'?re|i am|we are) done with (?:you|this|your)",
            0.8,
        ),
        (
            r"(?:switch|switching|move|moving|go|going|change|changing) (?:over )?to (?:another|a different|a competitor|your competitor|\w+ instead)",
            0.85,
        ),
        (r"(?:another|a different|other) (?:provider|company|bank|carrier|service|supplier)", 0.7),
        (
            r"take my business elsewhere|never (?:use|buy from|order from) you again|won'?t be (?:renewing|back)|not renewing",
            0.9,
        ),
        # Spanish
        (
            r"(?:cancelar|cerrar|anular|eliminar) (?:mi|nuestra|la) (?:cuenta|suscripción|contrato|membresía|tarifa|línea)",
            0.9,
        ),
        (
            r"dar(?:me|nos)? de baja|darme de baja|me doy de baja|quiero la baja|solicito la baja",
            0.9,
        ),
        (
            r"(?:me voy|nos vamos|me cambio|cambiarme|me paso|pasarme|irme) (?:a|con) (?:otra|otro|la competencia)",
            0.85,
        ),
        (
            r"(?:otra|otro) (?:compañía|proveedor|operador|banco|empresa)|no vuelvo a comprar|nunca más",
            0.7,
        ),
    ],
}


def _compile(rules: dict[str, list[tuple[str, float]]]):
    """One alternation over every rule (a single pass per message is what keeps this fast)."""
    parts, owners = [], []
    for cue, spec in rules.items():
        for pattern, weight in spec:
            parts.append(f"(?P<r{len(owners)}>{pattern.lower()})")
            owners.append((cue, weight))
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)"), owners


_MASTER, _OWNERS = _compile(RULES)


def match(text: str) -> dict[str, tuple[float, list[str]]]:
    """Cue -> (score in [0, 1], matched phrases) for every cue with at least one match."""
    lowered = text.lower()
    same_length = len(lowered) == len(text)
    miss: dict[str, float] = {}
    phrases: dict[str, list[str]] = {}
    for m in _MASTER.finditer(lowered):
        cue, weight = _OWNERS[int(m.lastgroup[1:])]
        miss[cue] = miss.get(cue, 1.0) * (1.0 - weight)
        phrase = text[m.start() : m.end()] if same_length else m.group(0)
        seen = phrases.setdefault(cue, [])
        if phrase.lower() not in (p.lower() for p in seen):
            seen.append(phrase)
    return {cue: (round(1.0 - miss[cue], 4), phrases[cue]) for cue in phrases}


# A small Spanish polarity lexicon: the trained sentiment model is English-only.
_ES_POLARITY = {
    **dict.fromkeys(
        "bien bueno buena buenos buenas genial excelente perfecto perfecta gracias encanta encantado "
        "encantada feliz contento contenta maravilloso maravillosa fantástico fantástica rápido "
        "rápida amable útil solucionado resuelto recomiendo mejor increíble agradecido agradecida".split(),
        1.0,
    ),
    **dict.fromkeys(
        "mal malo mala malos malas terrible horrible pésimo pésima fatal peor inaceptable harto "
        "harta enfadado enfadada enojado enojada molesto molesta decepcionado decepcionada triste "
        "roto rota estafa fraude vergüenza problema error lento lenta inútil nunca cancelar baja "
        "queja reclamación desastre preocupado preocupada preocupa preocupación miedo indignante "
        "ridículo decepción robado robada hackeado".split(),
        -1.0,
    ),
}
_ES_NEGATORS = frozenset("no nunca jamás tampoco ni sin".split())
_ES_WORD = re.compile(r"[a-záéíóúüñ]+")


def spanish_polarity(text: str) -> tuple[float, list[str]]:
    """Lexicon polarity in [-1, 1] with negation flip ("no funciona bien"), and the words used."""
    words = _ES_WORD.findall(text.lower())
    total = 0.0
    used: list[str] = []
    for i, w in enumerate(words):
        value = _ES_POLARITY.get(w)
        if value is None:
            continue
        if any(p in _ES_NEGATORS for p in words[max(0, i - 3) : i]) and w not in _ES_NEGATORS:
            value = -value
        total += value
        used.append(w)
    if "funciona" in words and "no" in words[: words.index("funciona")][-2:]:
        total -= 1.0
        used.append("no funciona")
    score = total / (abs(total) + 1.5) if total else 0.0
    return score, used
