"""Exactly once under concurrency: two workers evaluating the same playbooks at the same
moment (a restarted worker overlapping the old one, or two schedulers) contact each
customer once. Real threads, real connections, real database locks."""

from __future__ import annotations

import threading

import pytest
import time_machine
from django.db import connection

from tests.factories import CustomerFactory, IdentityFactory, MemberFactory, WorkspaceFactory
from tests.proactive.care.conftest import NOW
from warmline.channels.models import OutboundMessage
from warmline.customers.models import CustomerEvent
from warmline.proactive.care import services
from warmline.proactive.care.models import FollowUp, Outreach


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_contact_each_customer_once():
    workspace = WorkspaceFactory(time_zone="Europe/Madrid")
    lead = MemberFactory(workspace=workspace, role="lead")
    owner = MemberFactory(workspace=workspace)
    customers = []
    for i in range(12):
        c = CustomerFactory(workspace=workspace, name=f"C{i}", owner=owner)
        IdentityFactory(customer=c, kind="email", value=f"x{i}@example.org")
        CustomerEvent.objects.create(
            workspace=workspace, customer=c, type="order_delivered", occurred_at=NOW
        )
        customers.append(c)
    pb = services.save_playbook(
        workspace=workspace,
        actor=lead,
        data={
            "name": "Delivery check-in",
            "trigger": "event",
            "event_type": "order_delivered",
            "message_body": "Hi {first_name}, did it arrive well?",
            "task_text": "Check in",
        },
    )
    barrier = threading.Barrier(3)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(services.run_playbooks(workspace=workspace, now=NOW)[pb.pk])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    with time_machine.travel(NOW, tick=False):
        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    assert sum(r.contacted for r in results) == 12
    assert Outreach.objects.filter(playbook=pb).count() == 12
    for c in customers:
        assert OutboundMessage.objects.filter(customer_id=c.pk).count() == 1
        assert FollowUp.objects.filter(customer=c).count() == 1
