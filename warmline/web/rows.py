"""Inbox rows prepared in Python for the template.

Why: rendering fifty rows through template filters (``get_FOO_display``,
``naturaltime``, ``timesince``, per-row ``blocktranslate``) cost more than the
queries themselves — each label went through lazy-translation hashing and each
date through the full formatter. Here labels are translated once per request,
ages are computed with plain arithmetic, and the template only prints strings
(still autoescaped: customer text is never marked safe).
"""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from warmline.conversations import sla
from warmline.conversations.inbox import NEGATIVE_BELOW, POSITIVE_ABOVE
from warmline.conversations.models import Conversation, Priority, Status
from warmline.customers.models import Channel

# strftime patterns per interface language for the exact time in a row's tooltip.
SHORT_DATETIME = {"es": "%d/%m/%Y %H:%M", "en": "%Y-%m-%d %H:%M"}


def age_formatter():
    """A function turning a past moment into a compact age ('5 min', '3 h', '2 d')."""
    now = timezone.now()
    minute, hour, day = _("%(n)s min"), _("%(n)s h"), _("%(n)s d")
    just_now = _("now")

    def age(when: dt.datetime | None) -> str:
        if when is None:
            return ""
        seconds = (now - when).total_seconds()
        if seconds < 60:
            return just_now
        if seconds < 3600:
            return minute % {"n": int(seconds // 60)}
        if seconds < 86400:
            return hour % {"n": int(seconds // 3600)}
        return day % {"n": int(seconds // 86400)}

    return age


def present(rows: list[Conversation]) -> list[dict]:
    """One dict per conversation with every string the row shows."""
    statuses = {v: str(label) for v, label in Status.choices}
    priorities = {v: str(label) for v, label in Priority.choices}
    channels = {v: str(label) for v, label in Channel.choices}
    moods = {"negative": _("Negative"), "neutral": _("Neutral"), "positive": _("Positive")}
    select = _("Select conversation %(number)s")
    url = reverse("web:conversation", args=[987654321])
    zone = timezone.get_current_timezone()
    pattern = SHORT_DATETIME.get((get_language() or "en")[:2], SHORT_DATETIME["en"])
    age = age_formatter()
    now = timezone.now()
    sla_words = {"breached": _("SLA breached"), "warning": _("SLA due soon")}
    escalated_word = _("Escalated")
    active = (Status.OPEN, Status.PENDING, Status.SNOOZED)
    out = []
    for c in rows:
        sla_marker = sla.marker(c, now)
        score = c.sentiment_last
        mood = ""
        if score is not None:
            mood = (
                "negative"
                if score < NEGATIVE_BELOW
                else "positive"
                if score > POSITIVE_ABOVE
                else "neutral"
            )
        activity = c.last_activity_at
        waiting = c.waiting_since
        subject = c.subject or ""
        out.append(
            {
                "number": c.number,
                "url": url.replace("987654321", str(c.number)),
                "select_label": select % {"number": c.number},
                "customer": str(c.customer),
                "customer_id": c.customer_id,
                "subject": subject if len(subject) <= 80 else subject[:79] + "…",
                "tags": c.tags if isinstance(c.tags, list) else [],
                "priority": c.priority,
                "priority_label": priorities.get(c.priority, c.priority),
                "status_label": statuses.get(c.status, c.status),
                "channel_label": channels.get(c.channel, c.channel),
                "last_channel_label": channels.get(c.last_channel, c.last_channel)
                if c.last_channel and c.last_channel != c.channel
                else "",
                "mood": mood,
                "mood_word": moods.get(mood, ""),
                "sla": sla_marker,
                "sla_word": sla_words.get(sla_marker, ""),
                "escalated": escalated_word if c.escalated_at and c.status in active else "",
                "owner": str(c.owner) if c.owner_id else "",
                "team": c.team.name if c.team_id else "",
                "waiting_iso": waiting.astimezone(zone).isoformat() if waiting else "",
                "waiting": age(waiting),
                "activity_iso": activity.astimezone(zone).isoformat(),
                "activity": age(activity),
                "activity_exact": activity.astimezone(zone).strftime(pattern),
            }
        )
    return out


def annotate_entries(entries: list, customer_name: str) -> list:
    """Give each timeline entry its display strings (labels, author, local time) once.

    Same reason as ``present``: per-entry ``get_FOO_display`` and date filters were
    most of a conversation page's time. Entries keep their model attributes.
    """
    from warmline.conversations.models import DeliveryStatus, EntryKind

    kinds = {v: str(label) for v, label in EntryKind.choices}
    channels = {v: str(label) for v, label in Channel.choices}
    deliveries = {v: str(label) for v, label in DeliveryStatus.choices}
    assistant, system = _("Assistant"), _("System")
    zone = timezone.get_current_timezone()
    pattern = SHORT_DATETIME.get((get_language() or "en")[:2], SHORT_DATETIME["en"])
    for e in entries:
        e.kind_label = kinds.get(e.kind, e.kind)
        e.channel_label = channels.get(e.channel, e.channel)
        e.delivery_label = deliveries.get(e.delivery_status, e.delivery_status)
        if e.kind == "customer_message":
            e.author_name = customer_name
        elif e.author_member_id:
            e.author_name = str(e.author_member)
        elif e.kind == "assistant_reply":
            e.author_name = assistant
        else:
            e.author_name = system
        local = e.occurred_at.astimezone(zone)
        e.when_iso = local.isoformat()
        e.when = local.strftime(pattern)
    return entries
