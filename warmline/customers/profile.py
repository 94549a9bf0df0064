"""The customer 360° panel: everything an agent needs beside a conversation.

Built in a fixed number of queries whatever the customer's history: the newest
few orders and past conversations are sliced in SQL, counts come from one
aggregate, and nothing walks the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q

from warmline.tenancy.models import Workspace

from .models import Customer, Identity, Order

RECENT_ORDERS = 5
PAST_CONVERSATIONS = 8


@dataclass
class Profile:
    customer: Customer
    identities: list[Identity]
    orders: list[Order]
    past_conversations: list[Any]
    conversation_count: int
    open_count: int
    special_dates: list[dict] = field(default_factory=list)
    preferences: dict = field(default_factory=dict)
    # Filled by later work (sentiment trend, health, follow-ups): None means "not yet available".
    sentiment_trend: Any = None
    health: Any = None
    follow_ups: Any = None

    @property
    def last_order(self) -> Order | None:
        return self.orders[0] if self.orders else None


def build_profile(
    *, workspace: Workspace, customer: Customer, exclude_conversation_id: int | None = None
) -> Profile:
    """Four queries: identities, recent orders, recent conversations, conversation counts."""
    from warmline.conversations.models import ACTIVE_STATUSES, Conversation

    identities = list(
        Identity.objects.filter(workspace=workspace, customer=customer).order_by("kind", "id")[:50]
    )
    orders = list(
        Order.objects.filter(workspace=workspace, customer=customer).order_by("-placed_at", "-id")[
            :RECENT_ORDERS
        ]
    )
    past_qs = Conversation.objects.filter(workspace=workspace, customer=customer)
    if exclude_conversation_id is not None:
        past_qs = past_qs.exclude(pk=exclude_conversation_id)
    past = list(
        past_qs.only(
            "id",
            "number",
            "subject",
            "status",
            "channel",
            "opened_at",
            "resolved_at",
            "last_activity_at",
            "sentiment_first",
            "sentiment_last",
            "merged_into_id",
        ).order_by("-last_activity_at", "-id")[:PAST_CONVERSATIONS]
    )
    counts = Conversation.objects.filter(workspace=workspace, customer=customer).aggregate(
        total=Count("id"), open=Count("id", filter=Q(status__in=ACTIVE_STATUSES))
    )
    return Profile(
        customer=customer,
        identities=identities,
        orders=orders,
        past_conversations=past,
        conversation_count=counts["total"] or 0,
        open_count=counts["open"] or 0,
        special_dates=[d for d in (customer.special_dates or []) if isinstance(d, dict)],
        preferences=customer.preferences if isinstance(customer.preferences, dict) else {},
    )
