"""Saved-reply use cases: list, create, and fill a macro's variables for one customer.

A filled macro is plain text that goes into the reply box; it is never marked
safe, so whatever the customer typed into their name stays escaped on every page.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db.models import F
from django.utils import formats, timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from warmline.errors import Conflict, InvalidInput, NotFound
from warmline.tenancy.models import Member, Workspace

from .models import SavedReply

VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
VARIABLES = ("first_name", "name", "customer_since", "tenure", "last_order", "agent_name")


def list_saved_replies(*, workspace: Workspace) -> list[SavedReply]:
    return list(SavedReply.objects.filter(workspace=workspace).order_by("title")[:200])


def get_saved_reply(*, workspace: Workspace, reply_id: Any) -> SavedReply:
    try:
        return SavedReply.objects.get(workspace=workspace, pk=reply_id)
    except (SavedReply.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such saved reply.", field="reply_id") from None


def create_saved_reply(
    *, workspace: Workspace, actor: Member | None, title: str, body: str, language: str = ""
) -> SavedReply:
    title, body = title.strip(), body.strip()
    if not title:
        raise InvalidInput("A saved reply needs a title.", field="title")
    if not body:
        raise InvalidInput("A saved reply needs a body.", field="body")
    if SavedReply.objects.filter(workspace=workspace, title=title).exists():
        raise Conflict(f"A saved reply called '{title}' already exists.", field="title")
    return SavedReply.objects.create(
        workspace=workspace, title=title, body=body, language=language, created_by=actor
    )


def tenure_in_words(since: dt.date | None, today: dt.date | None = None) -> str:
    """'2 years, 3 months' in the active language; empty when unknown."""
    if since is None:
        return ""
    today = today or timezone.localdate()
    if since >= today:
        return _("new customer")
    start = dt.datetime.combine(since, dt.time(12), tzinfo=dt.UTC)
    end = dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)
    return timesince(start, end, depth=2).replace("\xa0", " ")


def _order_status(value: str) -> str:
    from warmline.customers.models import OrderStatus

    try:
        return str(OrderStatus(value).label)
    except ValueError:
        return value


def macro_variables(*, customer, last_order=None, agent: Member | None = None) -> dict[str, str]:
    """The values a macro may use; dates and money in the active locale."""
    name = (customer.name or "").strip()
    order = ""
    if last_order is not None:
        when = (
            formats.date_format(timezone.localtime(last_order.placed_at), "DATE_FORMAT")
            if last_order.placed_at
            else ""
        )
        status = _order_status(last_order.status)
        order = f"{last_order.external_id} ({status}{', ' + when if when else ''})"
    return {
        "first_name": name.split(" ")[0] if name else "",
        "name": name,
        "customer_since": formats.date_format(customer.customer_since, "DATE_FORMAT")
        if customer.customer_since
        else "",
        "tenure": tenure_in_words(customer.customer_since),
        "last_order": order,
        "agent_name": str(agent) if agent else "",
    }


def fill(body: str, variables: dict[str, str]) -> str:
    """Replace known ``{{variables}}``; unknown ones stay visible so the agent notices."""
    return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), body)


def use_saved_reply(*, reply: SavedReply, variables: dict[str, str]) -> str:
    SavedReply.objects.filter(pk=reply.pk).update(use_count=F("use_count") + 1)
    return fill(reply.body, variables)
