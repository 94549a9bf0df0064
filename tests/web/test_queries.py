"""Query counts stay flat however long a customer's history is.

A customer with 50 conversations and 300 timeline entries must cost the same
number of queries as one with a single short case: the inbox, the conversation
page and the 360° panel slice in SQL and never walk the history.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import ConversationFactory, CustomerFactory
from warmline.conversations.models import TimelineEntry
from warmline.customers.models import Identity, Order
from warmline.customers.profile import build_profile

pytestmark = pytest.mark.django_db

# Measured: inbox 9, conversation 13 (session, user, memberships, conversation, timeline,
# members, teams, 4 for the panel, saved replies, unread notifications), panel 4.
INBOX_MAX = 9
CONVERSATION_MAX = 13
PANEL_QUERIES = 4


def _history(workspace, conversations: int, entries: int):
    customer = CustomerFactory(workspace=workspace, name=f"History of {entries}")
    Identity.objects.create(
        workspace=workspace, customer=customer, kind="email", value=f"h{entries}@example.com"
    )
    start = timezone.now() - dt.timedelta(days=400)
    convs = [
        ConversationFactory(
            customer=customer,
            status="resolved",
            subject=f"old {i}",
            last_activity_at=start + dt.timedelta(days=i),
        )
        for i in range(conversations)
    ]
    TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                workspace=workspace,
                conversation=convs[i % conversations],
                kind="customer_message" if i % 2 == 0 else "agent_reply",
                channel="email",
                text=f"message {i}",
                occurred_at=start + dt.timedelta(hours=i),
            )
            for i in range(entries)
        ]
    )
    Order.objects.bulk_create(
        [
            Order(
                workspace=workspace,
                customer=customer,
                external_id=f"O{entries}-{i}",
                status="delivered",
                placed_at=start + dt.timedelta(days=i),
            )
            for i in range(30)
        ]
    )
    return customer, convs[-1]


@pytest.fixture
def small(workspace):
    return _history(workspace, conversations=1, entries=4)


@pytest.fixture
def large(workspace):
    return _history(workspace, conversations=50, entries=300)


def _count(django_assert_max_num_queries, limit, fn):
    with django_assert_max_num_queries(limit) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_conversation_page_queries_do_not_grow_with_history(
    agent_client, django_assert_max_num_queries, workspace, small, large
):
    url_small = reverse("web:conversation", args=[small[1].number])
    url_large = reverse("web:conversation", args=[large[1].number])
    agent_client.get(url_small)  # warm the session
    few = _count(
        django_assert_max_num_queries, CONVERSATION_MAX, lambda: agent_client.get(url_small)
    )
    many = _count(
        django_assert_max_num_queries, CONVERSATION_MAX, lambda: agent_client.get(url_large)
    )
    assert few == many


def test_inbox_queries_do_not_grow_with_rows(
    agent_client, django_assert_max_num_queries, workspace, large
):
    for conv in large[0].conversations.all()[:40]:
        conv.status = "open"
        conv.save()
    url = reverse("web:home") + "?view=all"
    agent_client.get(url)
    _count(django_assert_max_num_queries, INBOX_MAX, lambda: agent_client.get(url))
    _count(
        django_assert_max_num_queries,
        INBOX_MAX,
        lambda: agent_client.get(url + "&sort=priority&tag=vip"),
    )


def test_panel_is_four_queries(django_assert_num_queries, workspace, large):
    customer, conv = large
    with django_assert_num_queries(PANEL_QUERIES):
        profile = build_profile(
            workspace=workspace, customer=customer, exclude_conversation_id=conv.pk
        )
    assert profile.conversation_count == 50
    assert len(profile.past_conversations) == 8 and len(profile.orders) == 5
    assert profile.last_order.external_id == "O300-29"
