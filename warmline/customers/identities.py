"""Normalising identity values so one person matches across channels."""

from __future__ import annotations

import re

import phonenumbers

from warmline.errors import InvalidInput

from .models import IdentityKind

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Strength order used when one message's identities point at different customers:
# an id from the business's own system beats an email, which beats a phone number…
STRENGTH = {
    IdentityKind.EXTERNAL: 5,
    IdentityKind.EMAIL: 4,
    IdentityKind.PHONE: 3,
    IdentityKind.CHAT: 2,
    IdentityKind.SOCIAL: 1,
}


def normalise_email(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("mailto:"):
        value = value[7:]
    if not _EMAIL_RE.match(value) or len(value) > 320:
        raise InvalidInput(f"'{value}' is not a valid email address.", field="email")
    return value


def normalise_phone(value: str, default_region: str = "US") -> str:
    """E.164, e.g. +34600111222. ``whatsapp:`` prefixes (Twilio) are accepted."""
    raw = value.strip()
    for prefix in ("whatsapp:", "tel:", "sms:"):
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix) :]
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"'{value}' is not a valid phone number.", field="phone") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(f"'{value}' is not a valid phone number.", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(kind: str, value: str, *, default_region: str = "US") -> str:
    if kind == IdentityKind.EMAIL:
        return normalise_email(value)
    if kind == IdentityKind.PHONE:
        return normalise_phone(value, default_region)
    if kind == IdentityKind.SOCIAL:
        value = value.strip().lower()
        return value[1:] if value.startswith("@") else value
    if kind in (IdentityKind.CHAT, IdentityKind.EXTERNAL):
        value = value.strip()
        if not value:
            raise InvalidInput("Identity value is empty.", field=kind)
        return value
    raise InvalidInput(f"Unknown identity kind '{kind}'.", field="kind")
