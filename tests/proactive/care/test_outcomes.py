"""Outcomes per playbook arrive through signals: replied, survey answered, purchased again,
churned. And facts that arrive as signals fire their playbooks at once."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.proactive.care.conftest import NOW
from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.customers import services as customers
from warmline.customers.models import CustomerEvent
from warmline.feedback import services as feedback
from warmline.feedback.models import Survey
from warmline.proactive.care import services
from warmline.proactive.care.models import FollowUp, Outreach

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacted(workspace, make_customer, make_playbook):
    c = make_customer(name="Olivia Out")
    pb = make_playbook("event", event_type="order_delivered")
    CustomerEvent.objects.create(
        workspace=workspace, customer=c, type="order_delivered", occurred_at=NOW
    )
    with time_machine.travel(NOW, tick=False):
        services.run_playbooks(workspace=workspace, now=NOW)
    out = Outreach.objects.get(playbook=pb, customer=c)
    assert out.status == "contacted"
    return out


def test_reply_purchase_and_churn_outcomes(
    workspace, contacted, django_capture_on_commit_callbacks
):
    c = contacted.customer
    email = c.identities.get(kind="email").value
    later = NOW + dt.timedelta(days=1)
    with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks(execute=True):
        conversations.ingest(
            workspace=workspace,
            message=InboundMessage(
                channel="email", text="Yes, all good, thanks!", sender=Sender(email=email)
            ),
        )
        customers.upsert_order(
            workspace=workspace, customer=c, external_id="N2", placed_at=later, total=30
        )
        customers.update_customer(
            workspace=workspace, actor=None, customer=c, changes={"lifecycle": "churned"}
        )
    contacted.refresh_from_db()
    assert contacted.replied_at == later and contacted.purchased_at == later
    assert contacted.churned_at is not None
    row = next(
        r
        for r in services.outcomes_report(workspace=workspace)
        if r["playbook"] == contacted.playbook
    )
    assert (row["contacted"], row["replied"], row["purchased"], row["churned"]) == (1, 1, 1, 1)
    assert row["reply_rate"] == 1.0


def test_survey_answer_is_an_outcome_and_a_detractor_fires_at_once(
    workspace, contacted, make_playbook, django_capture_on_commit_callbacks
):
    detractor_book = make_playbook(
        "detractor", message_body="", task_text="Call them today", allow_open_conversation=True
    )
    conv = contacted.conversation
    with time_machine.travel(NOW + dt.timedelta(hours=3), tick=False):
        # the invitation itself is the feedback app's business: start from a sent survey
        survey = Survey.objects.create(
            workspace=workspace,
            conversation=conv,
            customer=conv.customer,
            token="outcome-token",
            kinds=["nps"],
            channel="email",
            trigger="manual",
            sent_at=NOW,
            expires_at=NOW + dt.timedelta(days=14),
        )
        with django_capture_on_commit_callbacks(execute=True):
            feedback.submit_answers(token=survey.token, scores={"nps": 2})
    contacted.refresh_from_db()
    assert contacted.survey_answered_at is not None
    # the detractor playbook ran for this customer without waiting for the schedule
    out = Outreach.objects.get(playbook=detractor_book)
    assert out.status == "internal" and out.trigger_key == f"survey:{survey.pk}"
    assert FollowUp.objects.get(outreach=out).text.startswith("Call them today")
