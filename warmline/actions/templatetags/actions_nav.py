"""The main navigation's approvals link: how many requests wait for a lead (one query)."""

from __future__ import annotations

from django import template

from warmline.actions import services

register = template.Library()


@register.simple_tag
def pending_approvals(member) -> int | None:
    """Pending requests for a lead or admin; None (no link, no query) for agents."""
    if member is None or not getattr(member, "is_lead", False):
        return None
    return services.pending_approval_count(member)
