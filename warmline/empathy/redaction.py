"""PII redaction: secrets are replaced before a message is stored, logged or indexed.

Every numeric pattern is checksum-validated (Luhn, IBAN mod-97, DNI/NIE check letter) so
order numbers and phone numbers that agents need survive. The result names the kinds
redacted, never the originals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KINDS = ("card_number", "card_security_code", "iban", "national_id", "password")


def placeholder(kind: str) -> str:
    return f"[redacted {kind.replace('_', ' ')}]"


@dataclass
class Redacted:
    text: str
    kinds: list[str] = field(default_factory=list)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_ok(value: str) -> bool:
    v = value.replace("-", "").replace(" ", "").upper()
    if v[0] in "XYZ":
        v = str("XYZ".index(v[0])) + v[1:]
    number, letter = v[:-1], v[-1]
    return number.isdigit() and _DNI_LETTERS[int(number) % 23] == letter


def ssn_ok(value: str) -> bool:
    area, group, serial = re.split(r"[- ]", value)
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


# 13-19 digits, optionally grouped by single spaces or dashes.
_CARD = re.compile(r"(?<![\w+-])\d(?:[ -]?\d){12,18}(?![\w-])")
_CVV_KEYWORD = re.compile(
    r"(?i)\b(?:cvv2?|cvc2?|cid|security code|código de seguridad|codigo de seguridad|"
    r"código cvv|card verification(?: code| value)?)\b\s*(?:is|es|:|=|#)?\s*(\d{3,4})\b"
)
# A bare 3-4 digit code just after a redacted card, possibly after an expiry date.
_CVV_AFTER_CARD = re.compile(
    r"(\[redacted card number\][\s,;]*(?:(?:exp\w*|caduca\w*|vence)?[:\s]*\d{1,2}\s?/\s?\d{2,4}[\s,;]*)?)"
    r"(\d{3,4})\b"
)
# Upper-case, optionally in blocks of four: "ES91 2100 0418 ..." or "GB82WEST1234...".
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_SSN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
_DNI = re.compile(r"(?<![\w-])(?:\d{8}|[XYZxyz]\d{7})-?[A-Za-z](?![\w-])")
_PASSWORD = re.compile(
    r"(?i)\b(?:password|passcode|passwd|pwd|contraseña|contrasena|clave)\b"
    r"(?:\s+(?:is|was|es|era|would be|sería))?\s*[:=]?\s*"
    r"([^\s<>\"']{3,})"
)
_DIGIT = re.compile(r"\d")
# Words after "my password is" that describe it rather than reveal it.
_NOT_A_SECRET = frozenset(
    "not wrong incorrect invalid expired working broken correct right too the a an my your "
    "reset changed locked blocked missing required no yes incorrecta incorrecto errónea "
    "caducada bloqueada mi tu la el de no funciona is was es era and or for".split()
)


def redact(text: str) -> Redacted:
    """Replace payment cards, their codes, IBANs, national ids and written passwords."""
    if not text:
        return Redacted(text)
    kinds: list[str] = []

    def note(kind: str) -> str:
        if kind not in kinds:
            kinds.append(kind)
        return placeholder(kind)

    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return note("card_number") if luhn_ok(digits) else m.group(0)

    def iban(m: re.Match[str]) -> str:
        return note("iban") if iban_ok(m.group(0)) else m.group(0)

    def national(m: re.Match[str], check) -> str:
        return note("national_id") if check(m.group(0)) else m.group(0)

    def password(m: re.Match[str]) -> str:
        value = m.group(1)
        if value.lower().strip(".,;:!?") in _NOT_A_SECRET:
            return m.group(0)
        return m.group(0)[: m.start(1) - m.start(0)] + note("password")

    out = _PASSWORD.sub(password, text)
    if not _DIGIT.search(out):
        # Every other pattern needs a digit, and no replacement adds one.
        return Redacted(out, kinds)
    out = _IBAN.sub(iban, out)
    out = _CARD.sub(card, out)
    out = _CVV_KEYWORD.sub(
        lambda m: m.group(0)[: m.start(1) - m.start(0)] + note("card_security_code"), out
    )
    if "card_number" in kinds:
        out = _CVV_AFTER_CARD.sub(lambda m: m.group(1) + note("card_security_code"), out)
    out = _SSN.sub(lambda m: national(m, ssn_ok), out)
    out = _DNI.sub(lambda m: national(m, dni_ok), out)
    return Redacted(out, kinds)
