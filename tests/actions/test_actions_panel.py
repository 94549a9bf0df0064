"""The conversation page's Actions section: an agent fixes things on the spot, within authority.

Through the real views and the real service: the form carries an idempotency key made when
it is rendered, so posting it twice executes once; above authority the page says a lead was
asked and what the customer was told; another workspace's conversation or order is a 404.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from warmline.actions.models import ActionStatus, ApprovalRequest, DailyUsage, EmpoweredAction
from warmline.conversations.models import EntryKind, TimelineEntry

from ..factories import ConversationFactory, CustomerFactory, WorkspaceFactory
from .test_authority import agent_profile, conversation, make_order  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(client, member):
    client.force_login(member.user)
    return client


def _form(agent, conv, action: str = "") -> tuple[str, str]:
    url = reverse("actions:conversation", args=[conv.number])
    page = agent.get(url + (f"?action={action}" if action else "")).content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key, page
    return page, key.group(1)


def _take(agent, conv, **data):
    return agent.post(reverse("actions:take", args=[conv.number]), data)


def test_the_conversation_page_loads_the_actions_section(agent, conversation):  # noqa: F811
    page = agent.get(reverse("web:conversation", args=[conversation.number])).content.decode()
    assert f'hx-get="{reverse("actions:conversation", args=[conversation.number])}"' in page


def test_the_agent_sees_only_allowed_actions_with_limits_and_cap(agent, conversation):  # noqa: F811
    agent_profile(conversation.workspace)  # refund 50, credit 30, address (no max); cap 100
    page, key = _form(agent, conversation)
    options = re.findall(r'<option value="([a-z_]+)"', page)
    assert options[:3] == ["refund", "account_credit", "change_address"]
    assert "cancel_order" not in options and "fee_waiver" not in options
    assert "up to 50.00 USD" in page and "up to 30.00 USD" in page and "no maximum" in page
    assert "Left today: 100.00 of 100.00 USD" in page
    # Each rendering makes a fresh key: two forms never share one.
    assert _form(agent, conversation)[1] != key


def test_no_profile_means_no_actions_offered(agent, conversation):  # noqa: F811
    html = agent.get(reverse("actions:conversation", args=[conversation.number])).content
    assert b"No actions are within your authority" in html and b"idempotency_key" not in html


def test_a_refund_within_authority_executes_once_when_posted_twice(agent, conversation, member):  # noqa: F811
    agent_profile(conversation.workspace)
    order = make_order(conversation)
    page, key = _form(agent, conversation, "refund")
    assert f'<option value="{order.pk}"' in page and "W1" in page
    data = {
        "action": "refund",
        "idempotency_key": key,
        "order_id": order.pk,
        "amount": "20.00",
        "reason": "arrived scratched",
    }
    first = _take(agent, conversation, **data)
    second = _take(agent, conversation, **data)  # the double click
    assert first.status_code == second.status_code == 200
    for r in (first, second):
        body = r.content.decode()
        assert 'data-action-result="executed"' in body
        assert "Refund of 20.00 USD on order W1" in body
        timeline_url = reverse("web:timeline", args=[conversation.number])
        assert f'hx-get="{timeline_url}"' in body
    assert EmpoweredAction.objects.filter(workspace=conversation.workspace).count() == 1
    action = EmpoweredAction.objects.get()
    assert action.status == ActionStatus.EXECUTED and action.amount == Decimal("20.00")
    assert DailyUsage.objects.get(member=member).total == Decimal("20.00")
    entries = TimelineEntry.objects.filter(conversation=conversation, kind=EntryKind.ACTION)
    assert list(entries.values_list("text", flat=True)) == ["Refund of 20.00 USD on order W1"]
    # What changed is shown (the store's before/after), and the answer carries a new key.
    assert '<th scope="row">refunded</th>' in first.content.decode()
    assert key not in first.content.decode()
    # The timeline fragment the answer reloads shows the action's entry.
    timeline = agent.get(reverse("web:timeline", args=[conversation.number])).content.decode()
    assert "Refund of 20.00 USD on order W1" in timeline


def test_above_authority_the_page_says_a_lead_was_asked(agent, conversation, member, lead):  # noqa: F811
    agent_profile(conversation.workspace)
    order = make_order(conversation)
    _, key = _form(agent, conversation, "refund")
    r = _take(
        agent,
        conversation,
        action="refund",
        idempotency_key=key,
        order_id=order.pk,
        amount="80.00",
        reason="broken",
    )
    body = r.content.decode()
    assert r.status_code == 200 and 'data-action-result="pending_approval"' in body
    assert "Sent to a lead for approval" in body and "above the maximum of 50.00" in body
    assert "I&#x27;ve asked my team lead to approve this refund of 80.00 USD" in body
    approval = ApprovalRequest.objects.get()
    assert approval.action.status == ActionStatus.PENDING_APPROVAL
    assert approval.action.amount == Decimal("80.00") and approval.requested_by == member


def test_a_bad_field_is_named_and_nothing_is_kept(agent, conversation):  # noqa: F811
    agent_profile(conversation.workspace)
    order = make_order(conversation)
    _, key = _form(agent, conversation, "refund")
    data = {"action": "refund", "idempotency_key": key, "order_id": order.pk, "amount": "2.005"}
    r = _take(agent, conversation, **data)
    body = r.content.decode()
    assert r.status_code == 422 and 'data-action-error="params.amount"' in body
    assert EmpoweredAction.objects.count() == 0
    # The same form (same key) comes back with the typed values, ready to correct.
    assert f'value="{key}"' in body and 'value="2.005"' in body
    data |= {"amount": "10.00"}
    r = _take(agent, conversation, **data)
    assert r.status_code == 422 and 'data-action-error="params.reason"' in r.content.decode()
    r = _take(agent, conversation, **(data | {"reason": "late"}))
    assert r.status_code == 200 and EmpoweredAction.objects.get().status == ActionStatus.EXECUTED


def test_a_policy_refusal_is_shown(agent, conversation):  # noqa: F811
    agent_profile(conversation.workspace, limits={"cancel_order": None})
    order = make_order(conversation, status="delivered")
    _, key = _form(agent, conversation, "cancel_order")
    r = _take(
        agent,
        conversation,
        action="cancel_order",
        idempotency_key=key,
        order_id=order.pk,
        reason="no longer needed",
    )
    assert r.status_code == 403 and "data-action-error" in r.content.decode()
    assert EmpoweredAction.objects.count() == 0


def test_another_workspaces_conversation_and_order_are_404(agent, conversation, member):  # noqa: F811
    agent_profile(conversation.workspace)
    elsewhere = WorkspaceFactory()
    customer = CustomerFactory(workspace=elsewhere)
    others = [ConversationFactory(customer=customer) for _ in range(3)]
    other_conv = others[-1]
    other_order = make_order(other_conv, external_id="X9")
    assert other_conv.number > conversation.number  # no case of that number here
    assert agent.get(reverse("actions:conversation", args=[other_conv.number])).status_code == 404
    _, key = _form(agent, conversation, "refund")
    data = {"action": "refund", "idempotency_key": key, "amount": "5.00", "reason": "x"}
    url = reverse("actions:take", args=[other_conv.number])
    assert agent.post(url, data | {"order_id": other_order.pk}).status_code == 404
    r = _take(agent, conversation, **(data | {"order_id": other_order.pk}))
    assert r.status_code == 404 and "No such order." in r.content.decode()
    assert not EmpoweredAction.objects.filter(workspace=conversation.workspace).exists()


def test_output_is_escaped(agent, conversation):  # noqa: F811
    agent_profile(conversation.workspace)
    order = make_order(conversation, external_id="<b>W1</b>")
    page, key = _form(agent, conversation, "refund")
    assert "<b>W1</b>" not in page and "&lt;b&gt;W1&lt;/b&gt;" in page
    r = _take(
        agent,
        conversation,
        action="refund",
        idempotency_key=key,
        order_id=order.pk,
        amount="5.00",
        reason="x",
        payment_method_id='"><script>alert(1)</script>',
    )
    body = r.content.decode()
    assert "<script>alert(1)</script>" not in body and "<b>W1</b>" not in body


def test_leads_see_approvals_in_the_navigation_with_the_count(client, member, lead, conversation):  # noqa: F811
    from warmline.actions import services

    agent_profile(conversation.workspace)
    order = make_order(conversation)
    services.request_action(
        member=member,
        conversation_id=conversation.pk,
        action="refund",
        params={"order_id": order.pk, "amount": "80.00", "reason": "broken"},
        idempotency_key="k1",
    )
    client.force_login(lead.user)
    page = client.get(reverse("web:home")).content.decode()
    link = re.search(r'<a href="/actions/approvals/"[^>]*>Approvals(.*?)</a>', page)
    assert link and '<span class="badge"' in link.group(1) and ">1</span>" in link.group(1)
    client.force_login(member.user)
    assert "/actions/approvals/" not in client.get(reverse("web:home")).content.decode()


def test_the_section_speaks_the_members_language(agent, conversation, member):  # noqa: F811
    member.locale = "es"
    member.save()
    agent_profile(conversation.workspace)
    page, _ = _form(agent, conversation, "refund")
    assert "Realizar la acción" in page and "Disponible hoy: 100.00 de 100.00 USD" in page
    assert "hasta 50.00 USD" in page and "Motivo" in page


def test_the_section_costs_the_same_queries_however_many_orders(agent, conversation):  # noqa: F811
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agent_profile(conversation.workspace)
    make_order(conversation)
    url = reverse("actions:conversation", args=[conversation.number]) + "?action=refund"
    agent.get(url)
    with CaptureQueriesContext(connection) as few:
        assert agent.get(url).status_code == 200
    for i in range(60):
        make_order(conversation, external_id=f"M{i}")
    with CaptureQueriesContext(connection) as many:
        page = agent.get(url).content.decode()
    assert len(many) == len(few)
    assert page.count("<option value=") == 3 + 50  # actions, then the 50 newest orders
