"""@mentions in internal notes: who was named, and telling them."""

from __future__ import annotations

import re

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from warmline.tenancy.models import Member
from warmline.tenancy.services import notify

HANDLE = re.compile(r"(?<![\w@])@([\w.\-]+(?:\s[\w.\-]+)?)", re.UNICODE)


def handle_of(member: Member) -> str:
    """The handle agents type: the display name without spaces ("@InesNavarro")."""
    return re.sub(r"\s+", "", str(member))


def mentioned(text: str, members: list[Member]) -> list[Member]:
    """Members named in ``text`` as @Handle or @First Last (case-insensitive)."""
    lowered = text.lower()
    found = []
    for m in members:
        names = {handle_of(m).lower(), str(m).lower()}
        if m.user_id and getattr(m, "user", None) is not None:
            names.add(m.user.get_username().split("@")[0].lower())
        if any(re.search(r"(?<![\w@])@" + re.escape(n) + r"(?!\w)", lowered) for n in names if n):
            found.append(m)
    return found


def notify_mentions(
    *, author: Member, text: str, members: list[Member], conversation
) -> list[Member]:
    named = [m for m in mentioned(text, members) if m.pk != author.pk]
    link = reverse("web:conversation", args=[conversation.number])
    from .context import member_language

    for m in named:
        with translation.override(member_language(m)):  # in the reader's language
            text = _("%(author)s mentioned you in #%(number)s") % {
                "author": author,
                "number": conversation.number,
            }
        notify(member=m, kind="mention", text=text, link=link)
    return named
