"""Fixtures for proactive care: a frozen clock, a lead, customers with identities."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.factories import CustomerFactory, IdentityFactory, MemberFactory
from warmline.proactive.care import services

UTC = dt.UTC
# A Tuesday, 14:00 UTC: outside quiet hours in Madrid (15:00) and New York (09:00).
NOW = dt.datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def owner(workspace):
    return MemberFactory(workspace=workspace, role="agent", display_name="Olga Owner")


@pytest.fixture
def lead(workspace):
    return MemberFactory(workspace=workspace, role="lead", display_name="Lea Lead")


@pytest.fixture
def make_customer(workspace, owner):
    def make(name="Ana García", email=True, phone=False, **kw):
        kw.setdefault("owner", owner)
        c = CustomerFactory(workspace=workspace, name=name, **kw)
        if email:
            IdentityFactory(customer=c, kind="email", value=f"c{c.pk}@example.org")
        if phone:
            IdentityFactory(customer=c, kind="phone", value=f"+3460000{c.pk:04d}")
        return c

    return make


@pytest.fixture
def make_playbook(workspace, lead):
    def make(trigger, owners=(), **data):
        data.setdefault("name", f"{trigger} playbook")
        data.setdefault("message_body", "Hi {first_name}, checking in: {reason}.")
        data["trigger"] = trigger
        return services.save_playbook(
            workspace=workspace, actor=lead, data=data, owner_ids=list(owners)
        )

    return make
