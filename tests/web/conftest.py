"""Fixtures for the agent workspace: a signed-in agent and a customer with a case."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.customers import services as customers
from warmline.tenancy.models import Team

PASSWORD = "correct horse battery"


@pytest.fixture
def agent_client(member) -> Client:
    c = Client()
    assert c.login(username=member.user.username, password=PASSWORD)
    return c


@pytest.fixture
def team(workspace, member):
    t = Team.objects.create(workspace=workspace, name="Billing")
    t.members.add(member)
    return t


def ingest(workspace, text, email="ana@example.com", name="Ana García", channel="email", **kw):
    return conversations.ingest(
        workspace=workspace,
        message=InboundMessage(
            channel=channel,
            text=text,
            sender=Sender(email=email, name=name, phone=kw.pop("phone", None)),
            **kw,
        ),
    )


@pytest.fixture
def case(workspace):
    """A customer with an order and one open conversation from email."""
    result = ingest(workspace, "Hi, my order NW100 has not arrived.", subject="Where is NW100?")
    customer = result.customer
    customers.update_customer(
        workspace=workspace,
        actor=None,
        customer=customer,
        changes={"customer_since": dt.date(2022, 3, 1), "tier": "gold"},
    )
    customers.upsert_order(
        workspace=workspace,
        customer=customer,
        external_id="NW100",
        status="shipped",
        total=Decimal("49.90"),
        currency="EUR",
        placed_at=timezone.now() - dt.timedelta(days=3),
    )
    result.conversation.refresh_from_db()
    return result.conversation
