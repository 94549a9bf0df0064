"""The scheduled work: the nightly rescore and the 15-minute playbook run call the services."""

from __future__ import annotations

import pytest
import time_machine

from tests.proactive.care.conftest import NOW
from warmline.customers.models import CustomerEvent
from warmline.proactive.care import tasks
from warmline.proactive.care.models import ChurnModelRecord, CustomerHealth, Outreach

pytestmark = pytest.mark.django_db


def test_nightly_rescores_every_customer_without_a_model_below_the_threshold(
    workspace, other_workspace, make_customer
):
    a, b = make_customer(), make_customer(name="Bo")
    with time_machine.travel(NOW, tick=False):
        tasks.nightly_health.call_local()
    assert set(CustomerHealth.objects.values_list("customer_id", flat=True)) == {a.pk, b.pk}
    assert not ChurnModelRecord.objects.exists()  # 0 churn events: NotEnoughHistory, logged


def test_scheduled_run_contacts_once_across_repeated_schedules(
    workspace, make_customer, make_playbook
):
    c = make_customer()
    pb = make_playbook("event", event_type="order_delivered")
    CustomerEvent.objects.create(
        workspace=workspace, customer=c, type="order_delivered", occurred_at=NOW
    )
    for minutes in (0, 15, 30):
        with time_machine.travel(NOW.replace(minute=minutes), tick=False):
            tasks.run_playbooks.call_local()
    assert Outreach.objects.filter(playbook=pb, customer=c).count() == 1
