"""Parallel requests through a real server: the daily cap and idempotency keys hold."""

from __future__ import annotations

import threading
from decimal import Decimal

import httpx
import pytest

from warmline.actions.models import AuthorityProfile, DailyUsage, EmpoweredAction
from warmline.customers.models import Customer
from warmline.tenancy.services import issue_token

from ..factories import ConversationFactory, CustomerFactory, MemberFactory, WorkspaceFactory

THREADS = 8


def race(url: str, token: str, bodies: list[dict]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(bodies))
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def post(body):
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            r = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        with lock:
            results.append(r)

    threads = [threading.Thread(target=post, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == len(bodies)
    return results


def setup_agent(cap: str):
    ws = WorkspaceFactory()
    agent = MemberFactory(workspace=ws, role="agent")
    MemberFactory(workspace=ws, role="lead")
    AuthorityProfile.objects.create(
        workspace=ws, role="agent", limits={"account_credit": "50.00"}, daily_cap=Decimal(cap)
    )
    conv = ConversationFactory(customer=CustomerFactory(workspace=ws))
    return agent, conv, issue_token(member=agent)[1]


def body(conv, key: str, amount: str = "10.00") -> dict:
    return {
        "conversation_id": conv.pk,
        "action": "account_credit",
        "params": {"amount": amount, "reason": "outage"},
        "idempotency_key": key,
    }


@pytest.mark.django_db(transaction=True)
def test_parallel_requests_never_exceed_the_daily_cap(live_server):
    agent, conv, token = setup_agent(cap="50.00")
    url = live_server.url + "/api/v1/actions"
    for round_ in range(2):  # the second round finds the cap already spent
        results = race(url, token, [body(conv, f"r{round_}-{i}") for i in range(THREADS)])
        codes = sorted(r.status_code for r in results)
        executed = 5 if round_ == 0 else 0
        assert codes == [201] * executed + [202] * (THREADS - executed), [
            r.content for r in results
        ]
    usage = DailyUsage.objects.get(member=agent)
    assert usage.total == Decimal("50.00") and usage.count == 5
    customer = Customer.objects.get(pk=conv.customer_id)
    assert customer.custom_attributes["account_credit"] == "50.00"
    assert EmpoweredAction.objects.filter(status="executed").count() == 5
    assert EmpoweredAction.objects.filter(status="pending_approval").count() == 2 * THREADS - 5


@pytest.mark.django_db(transaction=True)
def test_parallel_double_clicks_execute_once(live_server):
    agent, conv, token = setup_agent(cap="500.00")
    url = live_server.url + "/api/v1/actions"
    for round_ in range(3):
        results = race(url, token, [body(conv, f"click-{round_}")] * THREADS)
        assert {r.status_code for r in results} == {201}, [r.content for r in results]
        ids = {r.json()["id"] for r in results}
        assert len(ids) == 1
        assert sum(not r.json()["replayed"] for r in results) == 1
    assert EmpoweredAction.objects.count() == 3
    customer = Customer.objects.get(pk=conv.customer_id)
    assert customer.custom_attributes["account_credit"] == "30.00"
    assert DailyUsage.objects.get(member=agent).total == Decimal("30.00")
