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

# Measured and pinned (django_assert_num_queries: exact, so a regression either way shows).
# Inbox, All view by last activity: session, user, memberships, the member's teams, one
# page query per status (open, pending, snoozed), view counts, members and teams for the
# filters, unread notifications.
INBOX_QUERIES = 11
# Conversation: session, user, memberships, conversation, timeline, members, teams,
# 4 for the panel, saved replies, unread notifications.
CONVERSATION_QUERIES = 13
PANEL_QUERIES = 4
# Priority sort walks (priority, status) pairs until a page is full: at most 4 x 3.
INBOX_PRIORITY_MAX = INBOX_QUERIES - 3 + 12


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
    return _history(workspace, conversations=50, entries=1000)


def test_conversation_page_queries_do_not_grow_with_history(
    agent_client, django_assert_num_queries, workspace, small, large
):
    """A customer with 1,000 past messages costs the same queries as one with four."""
    url_small = reverse("web:conversation", args=[small[1].number])
    url_large = reverse("web:conversation", args=[large[1].number])
    agent_client.get(url_small)  # warm the session
    with django_assert_num_queries(CONVERSATION_QUERIES):
        assert agent_client.get(url_small).status_code == 200
    with django_assert_num_queries(CONVERSATION_QUERIES):
        response = agent_client.get(url_large)
    assert response.status_code == 200
    assert TimelineEntry.objects.filter(conversation__customer=large[0]).count() == 1000


def test_inbox_queries_do_not_grow_with_rows(
    agent_client, django_assert_num_queries, django_assert_max_num_queries, workspace, small, large
):
    url = reverse("web:home") + "?view=all"
    small[1].status = "open"
    small[1].save()
    agent_client.get(url)
    with django_assert_num_queries(INBOX_QUERIES):
        few = agent_client.get(url).content.decode()
    assert few.count("data-row ") == 1
    for conv in large[0].conversations.all():
        conv.status = "open"
        conv.save()
    with django_assert_num_queries(INBOX_QUERIES):
        many = agent_client.get(url).content.decode()
    assert many.count("data-row ") == 50
    with django_assert_max_num_queries(INBOX_PRIORITY_MAX):
        agent_client.get(url + "&sort=priority&tag=vip")
    with django_assert_max_num_queries(INBOX_PRIORITY_MAX):
        agent_client.get(url + "&sort=waiting")


def test_panel_is_four_queries(django_assert_num_queries, workspace, large):
    customer, conv = large
    with django_assert_num_queries(PANEL_QUERIES):
        profile = build_profile(
            workspace=workspace, customer=customer, exclude_conversation_id=conv.pk
        )
    assert profile.conversation_count == 50
    assert len(profile.past_conversations) == 8 and len(profile.orders) == 5
    assert profile.last_order.external_id == "O1000-29"


def test_panel_view_queries(agent_client, django_assert_num_queries, workspace, large):
    """The panel fragment (live refresh) for the 1,000-message customer."""
    url = reverse("web:panel", args=[large[1].number])
    agent_client.get(url)
    # session, user, memberships, conversation, 4 for the panel
    with django_assert_num_queries(3 + 1 + PANEL_QUERIES):
        assert agent_client.get(url).status_code == 200
